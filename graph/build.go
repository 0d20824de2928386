package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Builder applies the ops of this package to nodes of one graph, keeping the
// first error (so model code reads top to bottom without an error check per
// line; check Err at the end).
type Builder struct {
	G   *G.ExprGraph
	err error
}

// NewBuilder returns a Builder for a new graph.
func NewBuilder() *Builder { return &Builder{G: G.NewGraph()} }

// Err returns the first error met while building.
func (b *Builder) Err() error { return b.err }

func (b *Builder) apply(op G.Op, ins ...*G.Node) *G.Node {
	if b.err != nil {
		return nil
	}
	for _, n := range ins {
		if n == nil {
			b.err = fmt.Errorf("graph: %v applied to a missing node", op)
			return nil
		}
	}
	n, err := G.ApplyOp(op, ins...)
	if err != nil {
		b.err = fmt.Errorf("graph: %v: %w", op, err)
	}
	return n
}

// Input adds an input node of the given dtype and shape (a matrix, vector or
// tensor by the number of dimensions) bound to v, or unbound if v is nil.
func (b *Builder) Input(name string, dt tensor.Dtype, shape tensor.Shape, v *tensor.Dense) *G.Node {
	if b.err != nil {
		return nil
	}
	opts := []G.NodeConsOpt{G.WithName(name), G.WithShape(shape...)}
	if v != nil {
		opts = append(opts, G.WithValue(v))
	}
	switch len(shape) {
	case 1:
		return G.NewVector(b.G, dt, opts...)
	case 2:
		return G.NewMatrix(b.G, dt, opts...)
	default:
		return G.NewTensor(b.G, dt, len(shape), opts...)
	}
}

// Linear is x·Wᵀ for a PyTorch-layout weight W [out, in].
func (b *Builder) Linear(x, w *G.Node) *G.Node { return b.apply(MatMulOp{TB: true}, x, w) }

// Swish is x·σ(x).
func (b *Builder) Swish(x *G.Node) *G.Node { return b.apply(SwishOp{}, x) }

// Norm is GAU-α's parameter-free RMS norm over the last dimension.
func (b *Builder) Norm(x *G.Node) *G.Node { return b.apply(NormOp{}, x) }

// Add is x + y.
func (b *Builder) Add(x, y *G.Node) *G.Node { return b.apply(AddOp{}, x, y) }

// Dropout drops elements of x with probability p (identity when p is 0).
func (b *Builder) Dropout(x, key *G.Node, p float64, site uint64) *G.Node {
	if p == 0 {
		return x
	}
	return b.apply(DropoutOp{P: p, Site: site}, x, key)
}

// Gate is u ⊙ O with u the first e columns of x and O those of o.
func (b *Builder) Gate(x, o *G.Node, e int) *G.Node { return b.apply(GateOp{E: e}, x, o) }

// Attention applies the fused attention op to X, the ScaleOffset weights,
// the key mask, the positions and the dropout key.
func (b *Builder) Attention(op AttentionOp, x, gq, gk, mask, pos, key *G.Node) *G.Node {
	if b.err == nil {
		op.Policy = op.Policy.WithDefaults()
		if err := op.Policy.Validate(); err != nil {
			b.err = err
			return nil
		}
	}
	return b.apply(op, x, gq, gk, mask, pos, key)
}

// Gather selects rows ids of table.
func (b *Builder) Gather(table, ids *G.Node) *G.Node { return b.apply(GatherOp{}, table, ids) }

// CrossEntropy is the mean loss over the rows of logits whose target is not
// pipeline.IgnoreTarget.
func (b *Builder) CrossEntropy(logits, targets *G.Node) *G.Node {
	return b.apply(CrossEntropyOp{}, logits, targets)
}
