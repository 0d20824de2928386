package safetensors

import (
	"encoding/binary"
	"math"
	"slices"
)

// The conversions below serve the tests: the package's callers read and
// write float32 tensors only.

// Float64s decodes the tensor's elements as float64 values. F32, F64, F16
// and BF16 tensors are supported, all exactly. Other dtypes, and data whose
// length does not match the shape, are errors.
func (t Tensor) Float64s() ([]float64, error) {
	if t.DType != F64 {
		f32, err := t.Float32s()
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(f32))
		for i, v := range f32 {
			out[i] = float64(v)
		}
		return out, nil
	}
	if err := t.checkConvert("float64", F64); err != nil {
		return nil, err
	}
	out := make([]float64, len(t.Data)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out, nil
}

// Int64s decodes the tensor's elements as int64 values. I64, I32, I16, I8,
// U64, U32, U16, U8 and BOOL tensors are supported; a U64 value above
// math.MaxInt64 is an error, and so is any other dtype or data whose length
// does not match the shape.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.checkConvert("int64", I64, I32, I16, I8, U64, U32, U16, U8, BOOL); err != nil {
		return nil, err
	}
	d := t.Data
	out := make([]int64, len(d)/t.DType.Size())
	le := binary.LittleEndian
	for i := range out {
		switch t.DType {
		case I64:
			out[i] = int64(le.Uint64(d[8*i:]))
		case U64:
			v := le.Uint64(d[8*i:])
			if v > math.MaxInt64 {
				return nil, invalidf("tensor %q: U64 element %d (%d) does not fit in an int64", t.Name, i, v)
			}
			out[i] = int64(v)
		case I32:
			out[i] = int64(int32(le.Uint32(d[4*i:])))
		case U32:
			out[i] = int64(le.Uint32(d[4*i:]))
		case I16:
			out[i] = int64(int16(le.Uint16(d[2*i:])))
		case U16:
			out[i] = int64(le.Uint16(d[2*i:]))
		case I8:
			out[i] = int64(int8(d[i]))
		case U8, BOOL:
			out[i] = int64(d[i])
		}
	}
	return out, nil
}

// FromFloat64 returns an F64 tensor holding v with the given shape; see
// FromFloat32.
func FromFloat64(name string, shape []int, v []float64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(x))
	}
	return Tensor{Name: name, DType: F64, Shape: slices.Clone(shape), Data: data}
}

// FromInt64 returns an I64 tensor holding v with the given shape; see
// FromFloat32.
func FromInt64(name string, shape []int, v []int64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: slices.Clone(shape), Data: data}
}

// Float32ToBFloat16 rounds f to the nearest bfloat16 (ties to even, as
// PyTorch does) and returns its bits. NaNs stay NaNs.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40 // keep it a (quiet) NaN after truncation
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// Len returns the number of tensors in the file.
func (f *File) Len() int { return len(f.tensors) }
