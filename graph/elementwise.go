package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/kernels/cpu"
)

// unaryKernel runs a float kernel on the single input, shape-preserving.
func unaryDo[O fmt.Stringer](op O, prealloc G.Value, in []G.Value,
	f32 func(y, x []float32), f64 func(y, x []float64)) (G.Value, error) {
	x, err := dense(op, 0, in[0])
	if err != nil {
		return nil, err
	}
	out := outTensorElementwise(prealloc, x.Dtype(), x.Shape(), in...)
	switch x.Dtype() {
	case tensor.Float32:
		f32(data[float32](out), data[float32](x))
	case tensor.Float64:
		f64(data[float64](out), data[float64](x))
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return out, nil
}

// binaryDo runs a float kernel on two same-shaped inputs.
func binaryDo[O fmt.Stringer](op O, prealloc G.Value, in []G.Value,
	f32 func(z, x, y []float32), f64 func(z, x, y []float64)) (G.Value, error) {
	x, err := dense(op, 0, in[0])
	if err != nil {
		return nil, err
	}
	y, err := dense(op, 1, in[1])
	if err != nil {
		return nil, err
	}
	if !x.Shape().Eq(y.Shape()) || x.Dtype() != y.Dtype() {
		return nil, fmt.Errorf("%v: inputs differ: %v %v vs %v %v", op, x.Dtype(), x.Shape(), y.Dtype(), y.Shape())
	}
	out := outTensorElementwise(prealloc, x.Dtype(), x.Shape(), in...)
	switch x.Dtype() {
	case tensor.Float32:
		f32(data[float32](out), data[float32](x), data[float32](y))
	case tensor.Float64:
		f64(data[float64](out), data[float64](x), data[float64](y))
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return out, nil
}

func sameShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("expected a shape, got %v", in[0])
	}
	return s.Clone(), nil
}

// SwishOp is y = x·σ(x).
type SwishOp struct{ opBase }

func (o SwishOp) elementwise()                                      {}
func (o SwishOp) Arity() int                                        { return 1 }
func (o SwishOp) Type() hm.Type                                     { return fn(tvA, tvA) }
func (o SwishOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return sameShape(in...) }
func (o SwishOp) String() string                                    { return "Swish" }
func (o SwishOp) WriteHash(h hash.Hash)                             { writeHash(h, o) }
func (o SwishOp) Hashcode() uint32                                  { return hashOf(o) }
func (o SwishOp) DiffWRT(int) []bool                                { return []bool{true} }
func (o SwishOp) Do(in ...G.Value) (G.Value, error)                 { return o.UsePreallocDo(nil, in...) }
func (o SwishOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return unaryDo(o, p, in, cpu.Swish[float32], cpu.Swish[float64])
}
func (o SwishOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(SwishGradOp{}, in[0], grad)
	return G.Nodes{d}, err
}

// SwishGradOp is the backward of SwishOp: dx = dy·σ(x)(1 + x(1-σ(x))).
// Inputs (x, dy), same shape; output that shape. Elementwise.
type SwishGradOp struct{ opBase }

func (o SwishGradOp) elementwise()                                      {}
func (o SwishGradOp) Arity() int                                        { return 2 }
func (o SwishGradOp) Type() hm.Type                                     { return fn(tvA, tvA, tvA) }
func (o SwishGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return sameShape(in...) }
func (o SwishGradOp) String() string                                    { return "SwishGrad" }
func (o SwishGradOp) WriteHash(h hash.Hash)                             { writeHash(h, o) }
func (o SwishGradOp) Hashcode() uint32                                  { return hashOf(o) }
func (o SwishGradOp) Do(in ...G.Value) (G.Value, error)                 { return o.UsePreallocDo(nil, in...) }
func (o SwishGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return binaryDo(o, p, in, cpu.SwishGrad[float32], cpu.SwishGrad[float64])
}

// NormOp is GAU-α's parameter-free Norm over the last dimension:
// y = x / sqrt(mean(x²) + 1e-12).
type NormOp struct{ opBase }

func (o NormOp) elementwise()                                      {}
func (o NormOp) Arity() int                                        { return 1 }
func (o NormOp) Type() hm.Type                                     { return fn(tt(2, tvA), tt(2, tvA)) }
func (o NormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return sameShape(in...) }
func (o NormOp) String() string                                    { return "Norm" }
func (o NormOp) WriteHash(h hash.Hash)                             { writeHash(h, o) }
func (o NormOp) Hashcode() uint32                                  { return hashOf(o) }
func (o NormOp) DiffWRT(int) []bool                                { return []bool{true} }
func (o NormOp) Do(in ...G.Value) (G.Value, error)                 { return o.UsePreallocDo(nil, in...) }
func (o NormOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	n, err := lastDim(o, in[0])
	if err != nil {
		return nil, err
	}
	return unaryDo(o, p, in,
		func(y, x []float32) { cpu.Norm(y, x, n) },
		func(y, x []float64) { cpu.Norm(y, x, n) })
}
func (o NormOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(NormGradOp{}, in[0], grad)
	return G.Nodes{d}, err
}

func lastDim[O fmt.Stringer](op O, v G.Value) (int, error) {
	s := v.Shape()
	if len(s) == 0 || s[len(s)-1] == 0 {
		return 0, fmt.Errorf("%v: input shape %v has no last dimension", op, s)
	}
	return s[len(s)-1], nil
}

// NormGradOp is the backward of NormOp: dx = (dy - y·mean(dy⊙y))/rms(x)
// per row of the last dimension. Inputs (x, dy), same shape; output that
// shape. Row-wise, so it may write over a dead input.
type NormGradOp struct{ opBase }

func (o NormGradOp) elementwise()                                      {}
func (o NormGradOp) Arity() int                                        { return 2 }
func (o NormGradOp) Type() hm.Type                                     { return fn(tt(2, tvA), tt(2, tvA), tt(2, tvA)) }
func (o NormGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return sameShape(in...) }
func (o NormGradOp) String() string                                    { return "NormGrad" }
func (o NormGradOp) WriteHash(h hash.Hash)                             { writeHash(h, o) }
func (o NormGradOp) Hashcode() uint32                                  { return hashOf(o) }
func (o NormGradOp) Do(in ...G.Value) (G.Value, error)                 { return o.UsePreallocDo(nil, in...) }
func (o NormGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	n, err := lastDim(o, in[0])
	if err != nil {
		return nil, err
	}
	return binaryDo(o, p, in,
		func(dx, x, dy []float32) { cpu.NormGrad(dx, x, dy, n) },
		func(dx, x, dy []float64) { cpu.NormGrad(dx, x, dy, n) })
}

// AddOp is z = x + y for same-shaped tensors.
type AddOp struct{ opBase }

func (o AddOp) elementwise()                                      {}
func (o AddOp) Arity() int                                        { return 2 }
func (o AddOp) Type() hm.Type                                     { return fn(tvA, tvA, tvA) }
func (o AddOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) { return sameShape(in...) }
func (o AddOp) String() string                                    { return "Add" }
func (o AddOp) WriteHash(h hash.Hash)                             { writeHash(h, o) }
func (o AddOp) Hashcode() uint32                                  { return hashOf(o) }
func (o AddOp) DiffWRT(int) []bool                                { return []bool{true, true} }
func (o AddOp) Do(in ...G.Value) (G.Value, error)                 { return o.UsePreallocDo(nil, in...) }
func (o AddOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return binaryDo(o, p, in, cpu.Add[float32], cpu.Add[float64])
}
func (o AddOp) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	return G.Nodes{grad, grad}, nil
}

// DropoutOp is inverted dropout with probability P. Its mask is a pure
// function of (key, Site, element index), with the key read from its second
// input (an Int tensor of one element, changed every step); applied to the
// output gradient with the same key it is its own backward.
type DropoutOp struct {
	opBase
	P    float64
	Site uint64
}

func (o DropoutOp) elementwise()  {}
func (o DropoutOp) Arity() int    { return 2 }
func (o DropoutOp) Type() hm.Type { return fn(tvA, tt(1, tensor.Int), tvA) }
func (o DropoutOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return sameShape(in...)
}
func (o DropoutOp) String() string                    { return fmt.Sprintf("Dropout(p=%v,site=%d)", o.P, o.Site) }
func (o DropoutOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o DropoutOp) Hashcode() uint32                  { return hashOf(o) }
func (o DropoutOp) DiffWRT(int) []bool                { return []bool{true, false} }
func (o DropoutOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }
func (o DropoutOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	key, err := keyOf(o, 1, in[1])
	if err != nil {
		return nil, err
	}
	return unaryDo(o, p, in[:1],
		func(y, x []float32) { cpu.Dropout(y, x, o.P, key, o.Site) },
		func(y, x []float64) { cpu.Dropout(y, x, o.P, key, o.Site) })
}
func (o DropoutOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(o, grad, in[1])
	return G.Nodes{d, nil}, err
}

// GateOp is y = u ⊙ O: u the first E columns of X (the layer's swish
// output), O the first E columns of the attention output.
type GateOp struct {
	opBase
	E int
}

func (o GateOp) Arity() int    { return 2 }
func (o GateOp) Type() hm.Type { return fn(tt(2, tvA), tt(2, tvA), tt(2, tvA)) }
func (o GateOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, ok := in[0].(tensor.Shape)
	if !ok || len(x) != 2 {
		return nil, fmt.Errorf("%v: want a matrix, got %v", o, in[0])
	}
	return tensor.Shape{x[0], o.E}, nil
}
func (o GateOp) String() string                    { return fmt.Sprintf("Gate(E=%d)", o.E) }
func (o GateOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o GateOp) Hashcode() uint32                  { return hashOf(o) }
func (o GateOp) DiffWRT(int) []bool                { return []bool{true, true} }
func (o GateOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }
func (o GateOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	x, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	ov, err := dense(o, 1, in[1])
	if err != nil {
		return nil, err
	}
	rows, xw, ow := x.Shape()[0], x.Shape()[1], ov.Shape()[1]
	if ov.Shape()[0] != rows || xw < o.E || ow < o.E {
		return nil, fmt.Errorf("%v: shapes %v and %v do not fit", o, x.Shape(), ov.Shape())
	}
	out := outTensor(p, x.Dtype(), tensor.Shape{rows, o.E}, in...)
	switch x.Dtype() {
	case tensor.Float32:
		cpu.Gate(data[float32](out), data[float32](x), data[float32](ov), o.E, xw, ow)
	case tensor.Float64:
		cpu.Gate(data[float64](out), data[float64](x), data[float64](ov), o.E, xw, ow)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", o, x.Dtype())
	}
	return out, nil
}
func (o GateOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(GateGradOp{E: o.E, WRT: 0}, in[1], grad, in[0])
	if err != nil {
		return nil, err
	}
	do, err := G.ApplyOp(GateGradOp{E: o.E, WRT: 1}, in[0], grad, in[1])
	return G.Nodes{dx, do}, err
}

// GateGradOp is the backward of GateOp with respect to its input WRT (0:
// X, 1: O). Inputs: (the other operand, dy [rows, E], the operand itself —
// only its shape is used). Output: the operand's shape, dy⊙(the other
// operand) in the first E columns and 0 in the rest.
type GateGradOp struct {
	opBase
	E, WRT int
}

func (o GateGradOp) Arity() int    { return 3 }
func (o GateGradOp) Type() hm.Type { return fn(tt(2, tvA), tt(2, tvA), tt(2, tvA), tt(2, tvA)) }
func (o GateGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[2].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%v: want a shape, got %v", o, in[2])
	}
	return s.Clone(), nil
}
func (o GateGradOp) String() string                    { return fmt.Sprintf("GateGrad(E=%d,wrt=%d)", o.E, o.WRT) }
func (o GateGradOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o GateGradOp) Hashcode() uint32                  { return hashOf(o) }
func (o GateGradOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }
func (o GateGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	other, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	dy, err := dense(o, 1, in[1])
	if err != nil {
		return nil, err
	}
	self, err := dense(o, 2, in[2])
	if err != nil {
		return nil, err
	}
	out := outTensor(p, dy.Dtype(), self.Shape(), in...)
	// Widths of X and O: for WRT=0 self is X and other is O, else reversed.
	xw, ow := self.Shape()[1], other.Shape()[1]
	if o.WRT == 1 {
		xw, ow = ow, xw
	}
	switch dy.Dtype() {
	case tensor.Float32:
		if o.WRT == 0 { // dX = dy ⊙ O
			cpu.GateGradX(data[float32](out), data[float32](other), data[float32](dy), o.E, xw, ow)
		} else { // dO = dy ⊙ u
			cpu.GateGradO(data[float32](out), data[float32](other), data[float32](dy), o.E, xw, ow)
		}
	case tensor.Float64:
		if o.WRT == 0 {
			cpu.GateGradX(data[float64](out), data[float64](other), data[float64](dy), o.E, xw, ow)
		} else {
			cpu.GateGradO(data[float64](out), data[float64](other), data[float64](dy), o.E, xw, ow)
		}
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", o, dy.Dtype())
	}
	return out, nil
}
