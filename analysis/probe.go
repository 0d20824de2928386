package analysis

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/kernels/cpu"
)

// Model is a loaded checkpoint and the directory it came from.
type Model struct {
	Dir string
	*checkpoint.Checkpoint
}

// Name is a short label: the directory, with a trailing best/ or last/
// folded into its parent ("runs/cos16/best" -> "cos16/best").
func (m Model) Name() string { return ShortName(m.Dir) }

// ShortName is the last element of a checkpoint path, with a trailing
// best/ or last/ folded into its parent.
func ShortName(dir string) string {
	d := filepath.Clean(dir)
	base := filepath.Base(d)
	if base == "best" || base == "last" {
		return filepath.Base(filepath.Dir(d)) + "/" + base
	}
	return base
}

// Label names a model by its CosScale for legends.
func (m Model) Label() string {
	if m.Config.CosScale > 0 {
		return "s=" + strconv.FormatFloat(m.Config.CosScale, 'g', -1, 64)
	}
	return "no CosScale"
}

// Load loads a comma-separated list of checkpoint directories; flag names
// the flag that gave it, for errors.
func Load(list, flag string) ([]Model, error) {
	var out []Model
	seen := map[string]string{}
	for _, d := range strings.Split(list, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if prev, ok := seen[filepath.Clean(d)]; ok {
			return nil, fmt.Errorf("%s names %s twice (%q and %q)", flag, filepath.Clean(d), prev, d)
		}
		seen[filepath.Clean(d)] = d
		ck, err := checkpoint.Load(d)
		if err != nil {
			return nil, err
		}
		out = append(out, Model{Dir: d, Checkpoint: ck})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s is required (a checkpoint directory such as runs/<run>/best, or several separated by commas)", flag)
	}
	return out, nil
}

// ByCosScale sorts models by CosScale (stable: ties keep their order).
func ByCosScale(ms []Model) {
	slices.SortStableFunc(ms, func(a, b Model) int { return cmp.Compare(a.Config.CosScale, b.Config.CosScale) })
}

// TestDocuments returns up to n tokenised test documents of the corpus's
// validation split, at least minLen tokens long where possible (the
// evaluation's test set, eval.TestDocuments), with their ids.
func TestDocuments(corpusPath string, m Model, n, minLen int) ([][]int, []string, error) {
	all, err := corpus.Open(corpusPath)
	if err != nil {
		return nil, nil, err
	}
	return eval.TestDocuments(all, m.Vocab, n, minLen)
}

// Probe is a model built for one sequence of length L under one attention
// policy, run by an executor, keeping every layer's attention inputs.
type Probe struct {
	L     int
	Model Model
	m     *gau.Model
	ex    graph.Executor
	x     []float32
}

// NewProbe builds m's graph for one sequence of length L under pol, run by
// an executor of be.
func NewProbe(be backend.Backend, m Model, pol attn.Policy, L int) (*Probe, error) {
	if L < 2 {
		return nil, fmt.Errorf("length %d must be at least 2", L)
	}
	lm, err := gau.Build(m.Config, m.Params, gau.Options{
		Shape: gau.Shape{B: 1, L: L, M: 1}, Policy: pol, KeepLayerInputs: true,
	})
	if err != nil {
		return nil, err
	}
	ex, err := be.Executor(lm.Graph, lm.Outputs()...)
	if err != nil {
		return nil, err
	}
	return &Probe{L: L, Model: m, m: lm, ex: ex}, nil
}

// Close frees the executor.
func (p *Probe) Close() error { return p.ex.Close() }

// Run runs the model on doc tiled or cut to L tokens (no token masked).
func (p *Probe) Run(doc []int) error {
	if len(doc) == 0 {
		return fmt.Errorf("empty document")
	}
	return p.m.Run(p.ex, &gau.Batch{IDs: eval.Tile(doc, p.L), Select: []int{0}})
}

// Layers is the number of layers.
func (p *Probe) Layers() int { return len(p.m.LayerXs) }

// Layer returns the attention kernel of layer l with the inputs it had in
// the last run. An input that is not finite is an error naming the layer
// and the row: the statistics of such a layer would be NaN.
func (p *Probe) Layer(l int) (*cpu.Attention[float32], error) {
	m := p.m
	if l < 0 || l >= len(m.LayerXs) {
		return nil, fmt.Errorf("no layer %d (the model has %d)", l, len(m.LayerXs))
	}
	var err error
	if p.x, err = p.ex.Float32s(m.LayerXs[l], p.x); err != nil {
		return nil, fmt.Errorf("layer %d: %w", l, err)
	}
	a := &cpu.Attention[float32]{
		B: m.Options.B, L: m.Options.L, E: m.Config.IntermediateSize, D: m.Config.KeySize,
		X: p.x, Mask: m.Ints(m.Mask), Pos: m.Ints(m.Pos), Policy: m.Options.Policy,
	}
	lp := m.Params.Layers[l]
	a.GammaQ, a.GammaK = lp.GammaQ.Data().([]float32), lp.GammaK.Data().([]float32)
	w := a.Width()
	for i, v := range p.x[:a.B*a.L*w] {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("layer %d: its input (the swish output [u | v | z]) is %v at row %d, column %d: the weights or the activations before it are not finite", l, v, i/w, i%w)
		}
	}
	for _, g := range [][]float32{a.GammaQ, a.GammaK} {
		for j, v := range g {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("layer %d: a ScaleOffset gain is %v at index %d: the weights are not finite", l, v, j)
			}
		}
	}
	return a, nil
}

// Attention returns layer l's attention kernel from the last run and its
// forward output (O and the row log-sum-exp, for the row statistics).
func (p *Probe) Attention(l int) (*cpu.Attention[float32], []float32, error) {
	a, err := p.Layer(l)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float32, a.B*a.L*a.OutWidth())
	if err := a.Forward(out); err != nil {
		return nil, nil, fmt.Errorf("layer %d: %w", l, err)
	}
	return a, out, nil
}

// moments accumulates the mean and the (population) standard deviation of
// the values added.
type moments struct {
	n        int
	mean, m2 float64
}

// add adds x.
func (m *moments) add(x float64) {
	m.n++
	d := x - m.mean
	m.mean += d / float64(m.n)
	m.m2 += d * (x - m.mean)
}

// std is the population standard deviation (0 with no values).
func (m moments) std() float64 {
	if m.n == 0 {
		return 0
	}
	return math.Sqrt(m.m2 / float64(m.n))
}
