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
