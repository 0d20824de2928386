package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/kernels/cpu"
)

// GatherOp selects rows of a matrix: out[i] = table[ids[i]]. It serves as
// the embedding lookup and as the selection of the masked positions fed to
// the MLM head. Inputs: table [V, n], ids [M] (Int). Output [M, n].
type GatherOp struct{ opBase }

func (o GatherOp) Arity() int    { return 2 }
func (o GatherOp) Type() hm.Type { return fn(tt(2, tvA), tt(1, tensor.Int), tt(2, tvA)) }
func (o GatherOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	t, ok1 := in[0].(tensor.Shape)
	ids, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(t) != 2 {
		return nil, fmt.Errorf("%v: want a matrix and an index vector, got %v and %v", o, in[0], in[1])
	}
	return tensor.Shape{ids.TotalSize(), t[1]}, nil
}
func (o GatherOp) String() string                    { return "Gather" }
func (o GatherOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o GatherOp) Hashcode() uint32                  { return hashOf(o) }
func (o GatherOp) DiffWRT(int) []bool                { return []bool{true, false} }
func (o GatherOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }
func (o GatherOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	t, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	ids, err := ints(o, 1, in[1])
	if err != nil {
		return nil, err
	}
	n := t.Shape()[1]
	out := outTensor(p, t.Dtype(), tensor.Shape{len(ids), n}, in...)
	switch t.Dtype() {
	case tensor.Float32:
		err = cpu.Gather(data[float32](out), data[float32](t), ids, n)
	case tensor.Float64:
		err = cpu.Gather(data[float64](out), data[float64](t), ids, n)
	default:
		err = fmt.Errorf("unsupported dtype %v", t.Dtype())
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %w", o, err)
	}
	return out, nil
}
func (o GatherOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(ScatterOp{}, in[0], in[1], grad)
	return G.Nodes{d, nil}, err
}

// ScatterOp is the adjoint (backward) of GatherOp: a zero matrix shaped
// like the table with row i of dy added into row ids[i]. Inputs: table
// (only its shape is used), ids [M] (Int), dy [M, n]. Output: the table's
// shape.
type ScatterOp struct{ opBase }

func (o ScatterOp) Arity() int    { return 3 }
func (o ScatterOp) Type() hm.Type { return fn(tt(2, tvA), tt(1, tensor.Int), tt(2, tvA), tt(2, tvA)) }
func (o ScatterOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return sameShape(in...)
}
func (o ScatterOp) String() string                    { return "ScatterAdd" }
func (o ScatterOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o ScatterOp) Hashcode() uint32                  { return hashOf(o) }
func (o ScatterOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }
func (o ScatterOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	t, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	ids, err := ints(o, 1, in[1])
	if err != nil {
		return nil, err
	}
	dy, err := dense(o, 2, in[2])
	if err != nil {
		return nil, err
	}
	n := t.Shape()[1]
	out := outTensor(p, t.Dtype(), t.Shape(), in...)
	switch t.Dtype() {
	case tensor.Float32:
		err = cpu.ScatterAdd(data[float32](out), data[float32](dy), ids, n)
	case tensor.Float64:
		err = cpu.ScatterAdd(data[float64](out), data[float64](dy), ids, n)
	default:
		err = fmt.Errorf("unsupported dtype %v", t.Dtype())
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %w", o, err)
	}
	return out, nil
}

// CrossEntropyOp is the mean masked-LM loss: the mean over rows with a
// target (targets equal to pipeline.IgnoreTarget do not count) of
// -log softmax(logits)[target]. Inputs: logits [M, V], targets [M] (Int).
// Output: a scalar.
type CrossEntropyOp struct{ opBase }

func (o CrossEntropyOp) Arity() int    { return 2 }
func (o CrossEntropyOp) Type() hm.Type { return fn(tt(2, tvA), tt(1, tensor.Int), tvA) }
func (o CrossEntropyOp) InferShape(...G.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (o CrossEntropyOp) String() string                    { return "CrossEntropy" }
func (o CrossEntropyOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o CrossEntropyOp) Hashcode() uint32                  { return hashOf(o) }
func (o CrossEntropyOp) DiffWRT(int) []bool                { return []bool{true, false} }
func (o CrossEntropyOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }
func (o CrossEntropyOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	lg, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	tg, err := ints(o, 1, in[1])
	if err != nil {
		return nil, err
	}
	v := lg.Shape()[1]
	if lg.Shape()[0] != len(tg) {
		return nil, fmt.Errorf("%v: %d logit rows for %d targets", o, lg.Shape()[0], len(tg))
	}
	var loss float64
	switch lg.Dtype() {
	case tensor.Float32:
		loss, _, err = cpu.CrossEntropy(data[float32](lg), tg, v)
	case tensor.Float64:
		loss, _, err = cpu.CrossEntropy(data[float64](lg), tg, v)
	default:
		err = fmt.Errorf("unsupported dtype %v", lg.Dtype())
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %w", o, err)
	}
	return scalarValue(p, lg.Dtype(), loss), nil
}
func (o CrossEntropyOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(CrossEntropyGradOp{}, in[0], in[1], grad)
	return G.Nodes{d, nil}, err
}

// CrossEntropyGradOp is the backward of CrossEntropyOp: the gradient of
// scale·loss with respect to the logits, scale the scalar upstream gradient
// (cpu.CrossEntropyGrad). Inputs: logits [M, V], targets [M] (Int), the
// upstream gradient (a scalar; Gorgonia's constant 1 for the loss itself).
// Output: [M, V].
type CrossEntropyGradOp struct{ opBase }

func (o CrossEntropyGradOp) Arity() int { return 3 }
func (o CrossEntropyGradOp) Type() hm.Type {
	return fn(tt(2, tvA), tt(1, tensor.Int), tvA, tt(2, tvA))
}
func (o CrossEntropyGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return sameShape(in...)
}
func (o CrossEntropyGradOp) String() string                    { return "CrossEntropyGrad" }
func (o CrossEntropyGradOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o CrossEntropyGradOp) Hashcode() uint32                  { return hashOf(o) }
func (o CrossEntropyGradOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }
func (o CrossEntropyGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	lg, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	tg, err := ints(o, 1, in[1])
	if err != nil {
		return nil, err
	}
	scale, err := scalarOf(o, 2, in[2])
	if err != nil {
		return nil, err
	}
	v := lg.Shape()[1]
	out := outTensor(p, lg.Dtype(), lg.Shape(), in...)
	switch lg.Dtype() {
	case tensor.Float32:
		cpu.CrossEntropyGrad(data[float32](out), data[float32](lg), tg, v, scale)
	case tensor.Float64:
		cpu.CrossEntropyGrad(data[float64](out), data[float64](lg), tg, v, scale)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", o, lg.Dtype())
	}
	return out, nil
}
