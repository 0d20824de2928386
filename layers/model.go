package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/kernels/cpu"
)

// Shape is the shape of a batch: B sequences of length L, and M rows of the
// MLM head (the positions whose tokens are predicted).
type Shape struct{ B, L, M int }

// Options select what a model graph computes.
type Options struct {
	Shape
	// Policy is the attention policy (the config's, or an evaluation
	// override: another normalisation, CosScale or method).
	Policy attn.Policy
	// Train turns dropout on.
	Train bool
	// Loss adds the targets input and the mean cross-entropy.
	Loss bool
	// Grad adds the gradients of the loss with respect to every parameter.
	Grad bool
	// KeepLayerInputs keeps each layer's swish output X = [u | v | z] as an
	// output (for the attention analyses).
	KeepLayerInputs bool
}

// Batch holds the values of one batch's inputs. Slices are [B·L] unless
// noted.
type Batch struct {
	IDs     []int  // token ids
	Types   []int  // token type ids; nil means all 0
	Mask    []int  // 1 for real tokens, 0 for padding
	Pos     []int  // position ids; nil means 0..L-1 in every sequence
	Select  []int  // [M] rows (b·L+p) fed to the MLM head
	Targets []int  // [M] target ids; pipeline.IgnoreTarget (-1) rows do not count
	Key     uint64 // dropout stream key of this step
}

// Model is the GAU-α graph for one batch shape, with its executor.
type Model struct {
	Config  Config
	Options Options
	Params  *Params
	Graph   *G.ExprGraph

	// Input nodes.
	IDs, Types, Mask, Pos, Key, Select, Targets *G.Node
	// Weights are the parameter nodes, in Params.Named order; their values
	// are the Params tensors themselves, so updating Params in place
	// updates the model.
	Weights []*G.Node

	// Output nodes.
	Hidden  *G.Node   // final hidden states [B·L, h]
	Logits  *G.Node   // MLM logits [M, vocab]
	Loss    *G.Node   // scalar, when Options.Loss
	Grads   G.Nodes   // when Options.Grad, in Weights order
	LayerXs []*G.Node // when Options.KeepLayerInputs

	inputs  map[*G.Node][]int
	machine *graph.Machine
	// work is the attention kernels' scratch memory, shared by every
	// layer (they run one after another).
	work *cpu.Workspace
}

// Build constructs the model graph for p under the given options.
func Build(cfg Config, p *Params, opt Options) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opt.B < 1 || opt.L < 1 || opt.M < 0 {
		return nil, fmt.Errorf("model: bad batch shape B=%d L=%d M=%d", opt.B, opt.L, opt.M)
	}
	if opt.Grad && !opt.Loss {
		return nil, fmt.Errorf("model: gradients need the loss")
	}
	b := graph.NewBuilder()
	m := &Model{Config: cfg, Options: opt, Params: p, Graph: b.G, inputs: make(map[*G.Node][]int), work: new(cpu.Workspace)}
	rows := opt.B * opt.L
	intIn := func(name string, n int) *G.Node {
		v := make([]int, n)
		node := b.Input(name, tensor.Int, tensor.Shape{n}, tensor.New(tensor.WithShape(n), tensor.WithBacking(v)))
		m.inputs[node] = v
		return node
	}
	m.IDs = intIn("ids", rows)
	m.Types = intIn("types", rows)
	m.Mask = intIn("mask", rows)
	m.Pos = intIn("pos", rows)
	m.Key = intIn("key", 1)
	m.Select = intIn("select", opt.M)
	for _, n := range p.Named() {
		m.Weights = append(m.Weights, b.Input(n.Name, p.Dtype, n.T.Shape(), n.T))
	}
	wordEmb, typeEmb := m.Weights[0], m.Weights[1]

	// Embeddings: token + token type, Norm, dropout.
	h := b.Add(b.Gather(wordEmb, m.IDs), b.Gather(typeEmb, m.Types))
	h = b.Norm(h)
	h = b.Dropout(h, m.Key, m.dropout(cfg.HiddenDropout), siteEmbedding)

	// The GAU layers.
	for l := range p.Layers {
		w := m.Weights[2+4*l : 6+4*l]
		var x *G.Node
		h, x = m.gauLayer(b, h, w, l)
		m.LayerXs = append(m.LayerXs, x)
	}
	m.Hidden = h

	// MLM head on the selected rows only, tied to the word embeddings.
	m.Logits = b.Linear(b.Gather(h, m.Select), wordEmb)
	outputs := G.Nodes{m.Logits}
	if opt.Loss {
		m.Targets = intIn("targets", opt.M)
		m.Loss = b.CrossEntropy(m.Logits, m.Targets)
		outputs = append(outputs, m.Loss)
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if opt.Grad {
		grads, err := G.Grad(m.Loss, m.Weights...)
		if err != nil {
			return nil, fmt.Errorf("model: building gradients: %w", err)
		}
		m.Grads = grads
		outputs = append(outputs, grads...)
	}
	if opt.KeepLayerInputs {
		outputs = append(outputs, m.Hidden)
		outputs = append(outputs, m.LayerXs...)
	}
	mach, err := graph.NewMachine(b.G, outputs...)
	if err != nil {
		return nil, err
	}
	m.machine = mach
	return m, nil
}

// Dropout sites: each dropout application draws its own mask.
const siteEmbedding = 1

func siteHidden(l int) uint64    { return uint64(2 + 2*l) }
func siteAttention(l int) uint64 { return uint64(3 + 2*l) }

func (m *Model) dropout(p float64) float64 {
	if !m.Options.Train {
		return 0
	}
	return p
}

// gauLayer appends one GAU layer to the graph: h' = Norm(h + dropout(o)),
// o = W_o (u ⊙ attention(...)). It returns h' and the swish output X.
func (m *Model) gauLayer(b *graph.Builder, h *G.Node, w []*G.Node, l int) (out, x *G.Node) {
	cfg, opt := m.Config, m.Options
	iDense, oDense, gammaQ, gammaK := w[0], w[1], w[2], w[3]
	e, d := cfg.IntermediateSize, cfg.KeySize

	x = b.Swish(b.Linear(h, iDense)) // [B·L, 2e+d] = u | v | z
	att := graph.AttentionOp{
		B: opt.B, L: opt.L, E: e, D: d,
		Policy:  opt.Policy,
		Dropout: m.dropout(cfg.AttentionDropout),
		Site:    siteAttention(l),
		Work:    m.work,
	}
	var y *G.Node
	if opt.Grad {
		o := b.Attention(att, x, gammaQ, gammaK, m.Mask, m.Pos, m.Key) // [B·L, e+1]: A v, log-sum-exp
		y = b.Gate(x, o, e)                                            // u ⊙ (A v)
	} else {
		att.Gated = true // inference: u ⊙ (A v) straight from the kernel
		y = b.Attention(att, x, gammaQ, gammaK, m.Mask, m.Pos, m.Key)
	}
	y = b.Linear(y, oDense) // [B·L, h]
	y = b.Dropout(y, m.Key, m.dropout(cfg.HiddenDropout), siteHidden(l))
	return b.Norm(b.Add(h, y)), x
}

// Run sets the batch's inputs and executes the graph.
func (m *Model) Run(bt *Batch) error {
	if err := m.SetInputs(bt); err != nil {
		return err
	}
	return m.machine.Run()
}

// SetInputs writes a batch into the model's input nodes (their bound host
// tensors) without running anything: nil types are 0, a nil mask is all
// valid, nil positions are 0..L-1 in every sequence, and token ids and
// selected rows must be in range. Another executor of the same graph (the
// GPU one) reads the inputs from there.
func (m *Model) SetInputs(bt *Batch) error {
	rows, M := m.Options.B*m.Options.L, m.Options.M
	set := func(n *G.Node, v []int, want int, name string, fill func(i int) int) error {
		dst := m.inputs[n]
		if v == nil {
			for i := range dst {
				dst[i] = fill(i)
			}
			return nil
		}
		if len(v) != want {
			return fmt.Errorf("model: batch %s has %d entries, want %d", name, len(v), want)
		}
		copy(dst, v)
		return nil
	}
	zero := func(int) int { return 0 }
	L := m.Options.L
	steps := []error{
		set(m.IDs, bt.IDs, rows, "ids", zero),
		set(m.Types, bt.Types, rows, "types", zero),
		set(m.Mask, bt.Mask, rows, "mask", func(int) int { return 1 }),
		set(m.Pos, bt.Pos, rows, "positions", func(i int) int { return i % L }),
		set(m.Select, bt.Select, M, "selected rows", zero),
	}
	if m.Targets != nil {
		steps = append(steps, set(m.Targets, bt.Targets, M, "targets", zero))
	}
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	if bt.IDs == nil {
		return fmt.Errorf("model: batch has no token ids")
	}
	for _, id := range bt.IDs {
		if id < 0 || id >= m.Config.VocabSize {
			return fmt.Errorf("model: token id %d outside the vocabulary [0, %d)", id, m.Config.VocabSize)
		}
	}
	for _, r := range bt.Select {
		if r < 0 || r >= rows {
			return fmt.Errorf("model: selected row %d outside [0, %d)", r, rows)
		}
	}
	m.inputs[m.Key][0] = int(bt.Key)
	return nil
}

// LossValue returns the loss of the last Run.
func (m *Model) LossValue() (float64, error) { return m.machine.Float(m.Loss) }

// Value returns an output node's value from the last Run; it stays valid
// until the next Run.
func (m *Model) Value(n *G.Node) G.Value { return m.machine.Value(n) }

// SetBF16 makes the following runs round both operands of every matrix
// product to bfloat16 with float32 accumulation (graph.Machine.BF16): the
// arithmetic of the device's -precision bf16 GEMMs, as a reference for
// tests. The attention stays float32.
func (m *Model) SetBF16(on bool) { m.machine.BF16 = on }

// LayerAttention returns the attention kernel of layer l with the inputs it
// had in the last Run (which needs Options.KeepLayerInputs), for the
// analyses (entropy, band mass, q and k before and after the rotation).
func (m *Model) LayerAttention(l int) (*cpu.Attention[float32], error) {
	if !m.Options.KeepLayerInputs || l < 0 || l >= len(m.LayerXs) {
		return nil, fmt.Errorf("model: layer %d inputs not kept (build with KeepLayerInputs)", l)
	}
	if m.Params.Dtype != tensor.Float32 {
		return nil, fmt.Errorf("model: analyses run in float32")
	}
	x := m.Value(m.LayerXs[l])
	if x == nil {
		return nil, fmt.Errorf("model: no value for layer %d (call Run first)", l)
	}
	lp := m.Params.Layers[l]
	return &cpu.Attention[float32]{
		B: m.Options.B, L: m.Options.L, E: m.Config.IntermediateSize, D: m.Config.KeySize,
		X: x.Data().([]float32), GammaQ: lp.GammaQ.Data().([]float32), GammaK: lp.GammaK.Data().([]float32),
		Mask: m.inputs[m.Mask], Pos: m.inputs[m.Pos], Policy: m.Options.Policy,
	}, nil
}
