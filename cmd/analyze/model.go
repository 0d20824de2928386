package main

import (
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/kernels/cpu"
	"github.com/infoscale/gaualpha/layers"
)

// loadedModel is a loaded checkpoint and the directory it came from.
type loadedModel struct {
	dir string
	*checkpoint.Checkpoint
}

// name is a short label: the directory, with a trailing best/ or last/
// folded into its parent ("runs/cos16/best" -> "cos16/best").
func (c loadedModel) name() string { return shortName(c.dir) }

// shortName is the last element of a checkpoint path, with a trailing best/
// or last/ folded into its parent.
func shortName(dir string) string {
	d := filepath.Clean(dir)
	base := filepath.Base(d)
	if base == "best" || base == "last" {
		return filepath.Base(filepath.Dir(d)) + "/" + base
	}
	return base
}

// label names a model by its CosScale for legends.
func (c loadedModel) label() string {
	if c.Config.CosScale > 0 {
		return "s=" + strconv.FormatFloat(c.Config.CosScale, 'g', -1, 64)
	}
	return "no CosScale"
}

// loadCheckpoints loads a comma-separated list of checkpoint directories.
func loadCheckpoints(list string) ([]loadedModel, error) {
	var out []loadedModel
	seen := map[string]string{}
	for _, d := range strings.Split(list, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if prev, ok := seen[filepath.Clean(d)]; ok {
			return nil, fmt.Errorf("-ckpt names %s twice (%q and %q)", filepath.Clean(d), prev, d)
		}
		seen[filepath.Clean(d)] = d
		ck, err := checkpoint.Load(d)
		if err != nil {
			return nil, err
		}
		out = append(out, loadedModel{dir: d, Checkpoint: ck})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-ckpt is required (a checkpoint directory such as runs/<run>/best, or several separated by commas)")
	}
	return out, nil
}

// byCosScale sorts checkpoints by CosScale (stable: ties keep their order).
func byCosScale(cks []loadedModel) {
	slices.SortStableFunc(cks, func(a, b loadedModel) int { return cmp.Compare(a.Config.CosScale, b.Config.CosScale) })
}

// testDocuments returns n tokenised test documents of the corpus's
// validation split, at least minLen tokens long where possible (the
// evaluation's test set, eval.TestDocuments). Fewer than n is an error
// naming -docs.
func testDocuments(corpusPath string, ck loadedModel, n, minLen int) ([][]int, []string, error) {
	toks, ids, err := someTestDocuments(corpusPath, ck, n, minLen)
	if err == nil && len(toks) < n {
		return nil, nil, fmt.Errorf("-docs %d: the validation split of corpus %s has only %d documents with tokens", n, corpusPath, len(toks))
	}
	return toks, ids, err
}

// someTestDocuments is testDocuments that returns fewer than n documents
// when the validation split has fewer.
func someTestDocuments(corpusPath string, ck loadedModel, n, minLen int) ([][]int, []string, error) {
	if n < 1 {
		return nil, nil, fmt.Errorf("-docs %d must be at least 1", n)
	}
	all, err := corpus.Open(corpusPath)
	if err != nil {
		return nil, nil, err
	}
	return eval.TestDocuments(all, ck.Vocab, n, minLen)
}

// checkDocs checks -docs before anything is read.
func checkDocs(n int) error {
	if n < 1 {
		return fmt.Errorf("-docs %d must be at least 1", n)
	}
	return nil
}

// forward is a model built for one sequence of length L under one attention
// policy, keeping every layer's attention inputs.
type forward struct {
	L    int
	m    *layers.Model
	mach *graph.Machine
}

func newForward(ck loadedModel, pol attn.Policy, L int) (*forward, error) {
	if L < 2 {
		return nil, fmt.Errorf("length %d must be at least 2", L)
	}
	m, err := layers.Build(ck.Config, ck.Params, layers.Options{
		Shape: layers.Shape{B: 1, L: L, M: 1}, Policy: pol, KeepLayerInputs: true,
	})
	if err != nil {
		return nil, err
	}
	mach, err := graph.NewMachine(m.Graph, m.Outputs()...)
	if err != nil {
		return nil, err
	}
	return &forward{L: L, m: m, mach: mach}, nil
}

// run runs the model on doc tiled or cut to L tokens (no token masked).
func (f *forward) run(doc []int) error {
	if len(doc) == 0 {
		return fmt.Errorf("empty document")
	}
	return f.m.Run(f.mach, &layers.Batch{IDs: eval.Tile(doc, f.L), Select: []int{0}})
}

// layerAttention returns the attention kernel of layer l with the inputs
// it had in the last run, for the analyses (entropy, band mass, q and k
// before and after the rotation).
func (f *forward) layerAttention(l int) (*cpu.Attention[float32], error) {
	m := f.m
	if l < 0 || l >= len(m.LayerXs) {
		return nil, fmt.Errorf("model: no layer %d", l)
	}
	if m.Params.Dtype != tensor.Float32 {
		return nil, fmt.Errorf("model: analyses run in float32")
	}
	x, err := f.mach.Float32s(m.LayerXs[l], nil)
	if err != nil {
		return nil, fmt.Errorf("layer %d: %w", l, err)
	}
	lp := m.Params.Layers[l]
	return &cpu.Attention[float32]{
		B: m.Options.B, L: m.Options.L, E: m.Config.IntermediateSize, D: m.Config.KeySize,
		X: x, GammaQ: lp.GammaQ.Data().([]float32), GammaK: lp.GammaK.Data().([]float32),
		Mask: m.Ints(m.Mask), Pos: m.Ints(m.Pos), Policy: m.Options.Policy,
	}, nil
}

// attention returns layer l's attention kernel from the last run and its
// forward output (O and the row log-sum-exp, for rowStats).
func (f *forward) attention(l int) (*cpu.Attention[float32], []float32, error) {
	a, err := f.layerAttention(l)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float32, a.B*a.L*a.OutWidth())
	if err := a.Forward(out); err != nil {
		return nil, nil, fmt.Errorf("layer %d: %w", l, err)
	}
	return a, out, nil
}

// moments accumulates a mean and a standard deviation (population) of the
// finite values added.
type moments struct {
	n        int
	mean, m2 float64
}

func (m *moments) add(x float64) {
	if x != x { // NaN: a padding row
		return
	}
	m.n++
	d := x - m.mean
	m.mean += d / float64(m.n)
	m.m2 += d * (x - m.mean)
}

func (m *moments) addAll(xs []float64) {
	for _, x := range xs {
		m.add(x)
	}
}

func (m moments) std() float64 {
	if m.n == 0 {
		return 0
	}
	return math.Sqrt(m.m2 / float64(m.n))
}

// parseInts parses a comma-separated list of integers of at least lo.
func parseInts(s, flagName string, lo int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < lo {
			return nil, fmt.Errorf("-%s: bad value %q in %q (want integers >= %d, comma-separated)", flagName, f, s, lo)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-%s: no values in %q", flagName, s)
	}
	return out, nil
}
