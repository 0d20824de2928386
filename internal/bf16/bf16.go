// Package bf16 rounds float32 values to bfloat16, the format of
// -precision bf16: 1 sign bit, 8 exponent bits, 7 mantissa bits (the upper
// half of a float32). The rounding is to nearest, ties to even, as the
// device's gau_to_bf16_f32 kernel and torch's .to(torch.bfloat16); a NaN stays
// a NaN.
package bf16

import "math"

// Bits returns the bfloat16 pattern nearest to v.
func Bits(v float32) uint16 {
	b := math.Float32bits(v)
	if v != v {
		return uint16(b>>16) | 0x40 // keep it a NaN (a quiet one)
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// Float widens a bfloat16 pattern to float32 (exactly).
func Float(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Round returns v rounded to the nearest bfloat16, as a float32.
func Round(v float32) float32 { return Float(Bits(v)) }
