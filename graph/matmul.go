package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/kernels/cpu"
	"github.com/infoscale/gaualpha/kernels/gemm"
)

// MatMulOp computes op(A)·op(B) for matrices, where op transposes when TA
// (TB) is set. Linear layers with PyTorch-layout weights [out, in] are
// MatMulOp{TB: true}(x, W).
type MatMulOp struct {
	opBase
	TA, TB bool
}

func (o MatMulOp) Arity() int                        { return 2 }
func (o MatMulOp) Type() hm.Type                     { return fn(tt(2, tvA), tt(2, tvA), tt(2, tvA)) }
func (o MatMulOp) String() string                    { return fmt.Sprintf("MatMul(tA=%v,tB=%v)", o.TA, o.TB) }
func (o MatMulOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o MatMulOp) Hashcode() uint32                  { return hashOf(o) }
func (o MatMulOp) DiffWRT(int) []bool                { return []bool{true, true} }
func (o MatMulOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }

// dims returns m, k (of op(A)) and k2, n (of op(B)).
func (o MatMulOp) dims(a, b tensor.Shape) (m, k, k2, n int) {
	m, k = a[0], a[1]
	if o.TA {
		m, k = k, m
	}
	k2, n = b[0], b[1]
	if o.TB {
		k2, n = n, k2
	}
	return
}

func (o MatMulOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, ok1 := in[0].(tensor.Shape)
	b, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || len(a) != 2 || len(b) != 2 {
		return nil, fmt.Errorf("%v: want two matrices, got %v and %v", o, in[0], in[1])
	}
	m, k, k2, n := o.dims(a, b)
	if k != k2 {
		return nil, fmt.Errorf("%v: inner dimensions differ: %v × %v", o, a, b)
	}
	return tensor.Shape{m, n}, nil
}

func (o MatMulOp) UsePreallocDo(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return o.do(prealloc, false, in...)
}

// doBF16 is UsePreallocDo with the float32 operands rounded to bfloat16
// and the products summed in float32 (gemm.SgemmBF16; Machine.BF16).
func (o MatMulOp) doBF16(prealloc G.Value, in ...G.Value) (G.Value, error) {
	return o.do(prealloc, true, in...)
}

func (o MatMulOp) do(prealloc G.Value, bf16 bool, in ...G.Value) (G.Value, error) {
	a, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	b, err := dense(o, 1, in[1])
	if err != nil {
		return nil, err
	}
	if len(a.Shape()) != 2 || len(b.Shape()) != 2 {
		return nil, fmt.Errorf("%v: want two matrices, got %v and %v", o, a.Shape(), b.Shape())
	}
	m, k, k2, n := o.dims(a.Shape(), b.Shape())
	if k != k2 {
		return nil, fmt.Errorf("%v: inner dimensions differ: %v × %v", o, a.Shape(), b.Shape())
	}
	out := outTensor(prealloc, a.Dtype(), tensor.Shape{m, n}, in...)
	lda, ldb := a.Shape()[1], b.Shape()[1]
	switch a.Dtype() {
	case tensor.Float32:
		if bf16 {
			gemm.SgemmBF16(o.TA, o.TB, m, n, k, 1, data[float32](a), lda, data[float32](b), ldb, 0, data[float32](out), n)
			break
		}
		cpu.Gemm(o.TA, o.TB, m, n, k, 1, data[float32](a), lda, data[float32](b), ldb, 0, data[float32](out), n)
	case tensor.Float64:
		cpu.Gemm(o.TA, o.TB, m, n, k, 1, data[float64](a), lda, data[float64](b), ldb, 0, data[float64](out), n)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", o, a.Dtype())
	}
	return out, nil
}

// SymDiff: for C = op(A)·op(B) the gradients are expressed as MatMuls of
// the incoming gradient dC with the other operand.
func (o MatMulOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	a, b := in[0], in[1]
	var da, db *G.Node
	var err error
	mm := func(ta, tb bool, x, y *G.Node) *G.Node {
		if err != nil {
			return nil
		}
		var n *G.Node
		n, err = G.ApplyOp(MatMulOp{TA: ta, TB: tb}, x, y)
		return n
	}
	switch {
	case !o.TA && !o.TB: // C = A B
		da, db = mm(false, true, grad, b), mm(true, false, a, grad)
	case !o.TA && o.TB: // C = A Bᵀ
		da, db = mm(false, false, grad, b), mm(true, false, grad, a)
	case o.TA && !o.TB: // C = Aᵀ B
		da, db = mm(false, true, b, grad), mm(false, false, a, grad)
	default: // C = Aᵀ Bᵀ
		da, db = mm(true, true, b, grad), mm(true, true, grad, a)
	}
	return G.Nodes{da, db}, err
}
