package gau

import (
	"cmp"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/graph"
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
	// RowOffset places the batch's sequences in a larger one: they are
	// sequences RowOffset to RowOffset+B-1 of it, and dropout draws their
	// masks there (pipeline.ShiftSite), so that the ranks of data-parallel
	// training, each with its rows of the global batch, drop what one
	// process drops.
	RowOffset int
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

// Model is the GAU-α graph for one batch shape. It builds the graph and
// writes a batch into its inputs; an executor (graph.Executor: the CPU's
// graph.Machine, or a device's) runs it.
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

	inputs map[*G.Node][]int
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
	if opt.RowOffset < 0 {
		return nil, fmt.Errorf("model: row offset %d < 0", opt.RowOffset)
	}
	b := graph.NewBuilder()
	m := &Model{Config: cfg, Options: opt, Params: p, Graph: b.G, inputs: make(map[*G.Node][]int)}
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
	h = b.Dropout(h, m.Key, m.dropout(cfg.HiddenDropout), shiftSite(siteEmbedding, opt.RowOffset, opt.L*cfg.HiddenSize))

	// The GAU layers.
	for l := range p.Layers {
		w := m.Weights[2+4*l : 6+4*l]
		var x *G.Node
		h, x = GAULayer(b, cfg, LayerNodes{H: h, IDense: w[0], ODense: w[1], GammaQ: w[2], GammaK: w[3], Mask: m.Mask, Pos: m.Pos, Key: m.Key},
			LayerOptions{B: opt.B, L: opt.L, RowOffset: opt.RowOffset, Policy: opt.Policy, Index: l, Grad: opt.Grad,
				HiddenDropout: m.dropout(cfg.HiddenDropout), AttentionDropout: m.dropout(cfg.AttentionDropout)})
		m.LayerXs = append(m.LayerXs, x)
	}
	m.Hidden = h

	// MLM head on the selected rows only, tied to the word embeddings.
	m.Logits = b.Linear(b.Gather(h, m.Select), wordEmb)
	if opt.Loss {
		m.Targets = intIn("targets", opt.M)
		m.Loss = b.CrossEntropy(m.Logits, m.Targets)
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
	}
	return m, nil
}

// Outputs returns the nodes an executor of the model computes: the logits,
// the loss (Options.Loss), the gradients (Options.Grad), and the final
// hidden states and each layer's X (Options.KeepLayerInputs).
func (m *Model) Outputs() G.Nodes {
	out := G.Nodes{m.Logits}
	if m.Loss != nil {
		out = append(out, m.Loss)
	}
	out = append(out, m.Grads...)
	if m.Options.KeepLayerInputs {
		out = append(out, m.Hidden)
		out = append(out, m.LayerXs...)
	}
	return out
}

func (m *Model) dropout(p float64) float64 {
	if !m.Options.Train {
		return 0
	}
	return p
}

// Run writes the batch into the model's inputs and runs ex, an executor of
// the model's graph (built for m.Outputs()).
func (m *Model) Run(ex graph.Executor, bt *Batch) error {
	if err := m.SetInputs(bt); err != nil {
		return err
	}
	return ex.Run()
}

// SetInputs writes a batch into the model's input nodes (their bound host
// tensors) without running anything: nil types are 0, a nil mask is all
// valid, nil positions are 0..L-1 in every sequence, and token ids and
// selected rows must be in range. Executors read the inputs from there at
// every run.
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
	if err := cmp.Or(
		set(m.IDs, bt.IDs, rows, "ids", zero),
		set(m.Types, bt.Types, rows, "types", zero),
		set(m.Mask, bt.Mask, rows, "mask", func(int) int { return 1 }),
		set(m.Pos, bt.Pos, rows, "positions", func(i int) int { return i % L }),
		set(m.Select, bt.Select, M, "selected rows", zero),
	); err != nil {
		return err
	}
	if m.Targets != nil {
		if err := set(m.Targets, bt.Targets, M, "targets", zero); err != nil {
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

// Ints returns the host values of one of the model's Int inputs (IDs,
// Types, Mask, Pos, Key, Select, Targets) as the last SetInputs wrote
// them, or nil for another node.
func (m *Model) Ints(n *G.Node) []int { return m.inputs[n] }
