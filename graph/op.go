package graph

import (
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"slices"
	"unsafe"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// opBase supplies the Op methods every op here answers the same way.
type opBase struct{}

func (opBase) ReturnsPtr() bool     { return false }
func (opBase) CallsExtern() bool    { return false }
func (opBase) OverwritesInput() int { return -1 }

// hashOf hashes an op by its String form, which names every parameter.
func hashOf(op fmt.Stringer) uint32 {
	h := fnv.New32a()
	io.WriteString(h, op.String())
	return h.Sum32()
}

func writeHash(h hash.Hash, op fmt.Stringer) { io.WriteString(h, op.String()) }

// Type helpers.
var tvA = hm.TypeVariable('a')

func tt(dims int, of hm.Type) G.TensorType { return G.TensorType{Dims: dims, Of: of} }

func fn(ts ...hm.Type) hm.Type { return hm.NewFnType(ts...) }

// dense returns v as a dense tensor or an error naming the op and input.
func dense[O fmt.Stringer](op O, i int, v G.Value) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%v: input %d is %T, want *tensor.Dense", op, i, v)
	}
	return d, nil
}

// ints returns the []int data of an Int tensor input.
func ints[O fmt.Stringer](op O, i int, v G.Value) ([]int, error) {
	d, err := dense(op, i, v)
	if err != nil {
		return nil, err
	}
	if d.Dtype() != tensor.Int {
		return nil, fmt.Errorf("%v: input %d has dtype %v, want int", op, i, d.Dtype())
	}
	return d.Ints(), nil
}

// outTensor returns prealloc when it can hold the result (right dtype and
// shape, not sharing memory with an input), else a new tensor.
func outTensor(prealloc G.Value, dt tensor.Dtype, shape tensor.Shape, inputs ...G.Value) *tensor.Dense {
	if d, ok := prealloc.(*tensor.Dense); ok && d.Dtype() == dt && d.Shape().Eq(shape) && !aliases(d, inputs) {
		return d
	}
	return newTensor(dt, shape)
}

// newTensor allocates a tensor of dtype dt and a copy of shape (so that
// callers' shape literals do not escape to the heap).
func newTensor(dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	return tensor.New(tensor.WithShape(slices.Clone(shape)...), tensor.Of(dt))
}

// outTensorElementwise is outTensor for elementwise (and row-wise) ops,
// whose output may also be exactly one of their inputs (written in place):
// only partial overlaps are refused.
func outTensorElementwise(prealloc G.Value, dt tensor.Dtype, shape tensor.Shape, inputs ...G.Value) *tensor.Dense {
	if d, ok := prealloc.(*tensor.Dense); ok && d.Dtype() == dt && d.Shape().Eq(shape) {
		ok := true
		for _, in := range inputs {
			t, isDense := in.(*tensor.Dense)
			if !isDense || (t.Uintptr() == d.Uintptr() && t.MemSize() == d.MemSize()) {
				continue // not memory, or exactly the output: in place
			}
			if overlaps(d, t) {
				ok = false
				break
			}
		}
		if ok {
			return d
		}
	}
	return newTensor(dt, shape)
}

// elementwiseOp marks the ops whose output may overwrite a same-shaped
// input (every output element depends only on the same element, or row, of
// the inputs); the executor writes them in place when that input is dead.
type elementwiseOp interface{ elementwise() }

func aliases(d *tensor.Dense, inputs []G.Value) bool {
	for _, in := range inputs {
		if t, ok := in.(*tensor.Dense); ok && overlaps(d, t) {
			return true
		}
	}
	return false
}

// overlaps reports whether the memory of two tensors overlaps.
func overlaps(d, t *tensor.Dense) bool {
	lo, l := d.Uintptr(), t.Uintptr()
	return l < lo+d.MemSize() && lo < l+t.MemSize()
}

// keyOf reads a dropout stream key from an Int tensor input of one element.
func keyOf[O fmt.Stringer](op O, i int, v G.Value) (uint64, error) {
	k, err := ints(op, i, v)
	if err != nil {
		return 0, err
	}
	if len(k) != 1 {
		return 0, fmt.Errorf("%v: key input has %d elements, want 1", op, len(k))
	}
	return uint64(k[0]), nil
}

// floats dispatches on a tensor's dtype.
func isFloat(dt tensor.Dtype) bool { return dt == tensor.Float32 || dt == tensor.Float64 }

// data returns the elements of a float tensor of dtype T, which the caller
// has checked. Unlike Dense.Data it does not box the slice in an interface,
// so it does not allocate.
func data[T float32 | float64](d *tensor.Dense) []T {
	raw := d.Raw
	var z T
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(raw))), len(raw)/int(unsafe.Sizeof(z)))
}

// scalarValue wraps v as a scalar of dtype dt, reusing prealloc when it fits.
func scalarValue(prealloc G.Value, dt tensor.Dtype, v float64) G.Value {
	switch dt {
	case tensor.Float32:
		if p, ok := prealloc.(*G.F32); ok {
			*p = G.F32(v)
			return p
		}
		return G.NewF32(float32(v))
	default:
		if p, ok := prealloc.(*G.F64); ok {
			*p = G.F64(v)
			return p
		}
		return G.NewF64(v)
	}
}

// scalarOf reads a float scalar value.
func scalarOf[O fmt.Stringer](op O, i int, v G.Value) (float64, error) {
	switch s := v.(type) {
	case *G.F32:
		return float64(*s), nil
	case *G.F64:
		return float64(*s), nil
	case *tensor.Dense:
		if s.Shape().TotalSize() == 1 {
			switch s.Dtype() {
			case tensor.Float32:
				return float64(data[float32](s)[0]), nil
			case tensor.Float64:
				return data[float64](s)[0], nil
			}
		}
	}
	return 0, fmt.Errorf("%v: input %d is %T, want a float scalar", op, i, v)
}
