package safetensors

import (
	"encoding/binary"
	"math"
	"slices"
)

// Float32s decodes the tensor's elements as float32 values. F32, F64, F16
// and BF16 tensors are supported; F64 values are rounded to the nearest
// float32. Other dtypes, and data whose length does not match the shape, are
// errors.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.checkConvert("float", F32, F64, F16, BF16); err != nil {
		return nil, err
	}
	d := t.Data
	out := make([]float32, len(d)/t.DType.Size())
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = HalfToFloat32(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(d[2*i:]))
		}
	}
	return out, nil
}

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

// checkConvert verifies that t has one of the allowed dtypes and consistent
// data before a conversion to the named Go type.
func (t Tensor) checkConvert(to string, allowed ...DType) error {
	if !slices.Contains(allowed, t.DType) {
		return invalidf("tensor %q: cannot convert %s elements to %s", t.Name, t.DType, to)
	}
	if err := t.check(); err != nil {
		return invalidf("tensor %q: %v", t.Name, err)
	}
	return nil
}

// FromFloat32 returns an F32 tensor holding v with the given shape (nil or
// empty for a scalar). The shape is copied but not checked against len(v);
// Write and the conversion methods reject a mismatch.
func FromFloat32(name string, shape []int, v []float32) Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: slices.Clone(shape), Data: data}
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

// HalfToFloat32 converts an IEEE 754 binary16 value, given by its bits, to
// float32 exactly, including subnormals, infinities and NaNs (whose payload
// is kept in the high mantissa bits).
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: mant × 2^-24. Shift the leading one into the implicit bit
	// position, lowering the exponent once per shift.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// BFloat16ToFloat32 converts a bfloat16 value, given by its bits, to float32
// exactly: bfloat16 is the upper half of a float32.
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
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
