package gau

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/pipeline"
)

// LayerNodes are the graph nodes one GAU layer reads.
type LayerNodes struct {
	// H is the layer's input, the hidden states [B·L, hidden].
	H *G.Node
	// IDense [2e+d, hidden], ODense [hidden, e], GammaQ and GammaK [d]
	// are the layer's weights (PyTorch layouts; the gammas are the
	// ScaleOffset scales of q and k).
	IDense, ODense, GammaQ, GammaK *G.Node
	// Mask ([B·L], nonzero: a real key), Pos ([B·L], position ids) and Key
	// ([1], the dropout stream key) are the batch's Int inputs.
	Mask, Pos, Key *G.Node
}

// LayerOptions select how a GAU layer is built.
type LayerOptions struct {
	B, L int
	// RowOffset is Options.RowOffset: the first sequence's place in a
	// larger batch, where dropout draws the masks.
	RowOffset int
	Policy    attn.Policy
	// Index is the layer's number in the model, which names its dropout
	// sites.
	Index int
	// HiddenDropout and AttentionDropout are the dropout probabilities (0:
	// off, as in evaluation).
	HiddenDropout, AttentionDropout float64
	// Grad builds the attention as the op with a gradient followed by the
	// gate (GateOp); without it the gated inference op computes u ⊙ (A v)
	// directly, which has no gradient.
	Grad bool
}

// GAULayer appends one GAU layer to b:
//
//	X  = swish(H W_iᵀ)                  [B·L, 2e+d] = u | v | z
//	Y  = u ⊙ attention(X)               (ScaleOffset, policy, softmax, A·v)
//	H' = Norm(H + dropout(Y W_oᵀ))
//
// It returns H' and X (the analyses read X).
func GAULayer(b *graph.Builder, cfg Config, n LayerNodes, o LayerOptions) (out, x *G.Node) {
	e, d := cfg.IntermediateSize, cfg.KeySize
	x = b.Swish(b.Linear(n.H, n.IDense))
	att := graph.AttentionOp{
		B: o.B, L: o.L, E: e, D: d,
		Policy:  o.Policy,
		Dropout: o.AttentionDropout,
		Site:    shiftSite(siteAttention(o.Index), o.RowOffset, o.L*o.L),
	}
	var y *G.Node
	if o.Grad {
		a := b.Attention(att, x, n.GammaQ, n.GammaK, n.Mask, n.Pos, n.Key) // [B·L, e+1]: A v, log-sum-exp
		y = b.Gate(x, a, e)
	} else {
		att.Gated = true
		y = b.Attention(att, x, n.GammaQ, n.GammaK, n.Mask, n.Pos, n.Key) // u ⊙ (A v)
	}
	y = b.Linear(y, n.ODense) // [B·L, hidden]
	y = b.Dropout(y, n.Key, o.HiddenDropout, shiftSite(siteHidden(o.Index), o.RowOffset, o.L*cfg.HiddenSize))
	return b.Norm(b.Add(n.H, y)), x
}

// Dropout sites: each dropout application draws its own mask.
const siteEmbedding = 1

func siteHidden(l int) uint64    { return uint64(2 + 2*l) }
func siteAttention(l int) uint64 { return uint64(3 + 2*l) }

// shiftSite is the site whose masks are site's from sequence rowOffset on,
// for a tensor of perSeq elements per sequence (L·hidden for hidden
// states, L·L for attention probabilities, numbered sequence by sequence).
func shiftSite(site uint64, rowOffset, perSeq int) uint64 {
	return pipeline.ShiftSite(site, uint64(rowOffset)*uint64(perSeq))
}

// LayerGraph is one GAU layer as a graph of its own over given hidden
// states, without dropout: the unit the benchmarks time and the PyTorch
// reference checks.
type LayerGraph struct {
	Graph *G.ExprGraph
	// H is the input node, Out the layer's output H'.
	H, Out *G.Node
	// Weights are the layer's weight nodes: IDense, ODense, GammaQ,
	// GammaK.
	Weights []*G.Node
	// Grads, with a cotangent r, are the gradients of ⟨H', r⟩ with respect
	// to H and then each of Weights.
	Grads G.Nodes
}

// Outputs returns the nodes an executor of the layer computes: Out, then
// Grads.
func (lg *LayerGraph) Outputs() G.Nodes { return append(G.Nodes{lg.Out}, lg.Grads...) }

// BuildLayer builds one GAU layer with weights lp over the hidden states h
// ([B·L, hidden], the dtype of lp) of a batch of B sequences of length L,
// with the key mask mask ([B·L], nonzero: a real key; nil: no padding) and
// the position ids pos ([B·L]; nil: 0..L-1 in every sequence). With a cotangent r (h's shape and
// dtype) it also builds the gradients of ⟨H', r⟩ through the ops' own
// backward ops, and the attention is the op with a gradient; without one
// it is the gated inference op, as in evaluation.
func BuildLayer(cfg Config, pol attn.Policy, lp LayerParams, B, L int, mask, pos []int, h, r *tensor.Dense) (*LayerGraph, error) {
	hid := cfg.HiddenSize
	if B < 1 || L < 1 {
		return nil, fmt.Errorf("layer: bad batch shape B=%d L=%d", B, L)
	}
	if mask == nil {
		mask = make([]int, B*L)
		for i := range mask {
			mask[i] = 1
		}
	}
	if pos == nil {
		pos = make([]int, B*L)
		for i := range pos {
			pos[i] = i % L
		}
	}
	shape := tensor.Shape{B * L, hid}
	if len(mask) != B*L || len(pos) != B*L || !h.Shape().Eq(shape) {
		return nil, fmt.Errorf("layer: %d mask entries, %d positions and hidden states %v for B=%d L=%d hidden=%d", len(mask), len(pos), h.Shape(), B, L, hid)
	}
	if r != nil && (!r.Shape().Eq(shape) || r.Dtype() != h.Dtype()) {
		return nil, fmt.Errorf("layer: cotangent %v %v, want %v %v", r.Shape(), r.Dtype(), shape, h.Dtype())
	}
	b := graph.NewBuilder()
	ints := func(name string, v []int) *G.Node {
		return b.Input(name, tensor.Int, tensor.Shape{len(v)}, tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v)))
	}
	lg := &LayerGraph{Graph: b.G, H: b.Input("h", h.Dtype(), shape, h)}
	names := []string{"i_dense", "o_dense", "gamma_q", "gamma_k"}
	for i, t := range []*tensor.Dense{lp.IDense, lp.ODense, lp.GammaQ, lp.GammaK} {
		lg.Weights = append(lg.Weights, b.Input(names[i], t.Dtype(), t.Shape(), t))
	}
	n := LayerNodes{H: lg.H, IDense: lg.Weights[0], ODense: lg.Weights[1], GammaQ: lg.Weights[2], GammaK: lg.Weights[3],
		Mask: ints("mask", mask), Pos: ints("pos", pos), Key: ints("key", []int{0})}
	lg.Out, _ = GAULayer(b, cfg, n, LayerOptions{B: B, L: L, Policy: pol, Grad: r != nil})
	if err := b.Err(); err != nil {
		return nil, err
	}
	if r != nil {
		cot := b.Input("cotangent", r.Dtype(), shape, r)
		grads, err := G.Backpropagate(G.Nodes{lg.Out}, G.Nodes{cot}, append(G.Nodes{lg.H}, lg.Weights...))
		if err != nil {
			return nil, fmt.Errorf("layer: building gradients: %w", err)
		}
		lg.Grads = grads
	}
	return lg, nil
}
