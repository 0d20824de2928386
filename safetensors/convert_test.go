package safetensors

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// u16s encodes values as little-endian 16-bit words.
func u16s(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

// sameFloat compares bit-exactly except that any NaN equals any NaN.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

func TestHalfToFloat32(t *testing.T) {
	negZero := math.Copysign(0, -1)
	tests := []struct {
		bits uint16
		want float64 // hand-computed from sign, exponent and mantissa
	}{
		{0x0000, 0},
		{0x8000, negZero},
		{0x3c00, 1},                      // exponent 15, mantissa 0
		{0xc000, -2},                     // sign, exponent 16
		{0x3c01, 1 + 1.0/1024},           // smallest step above 1
		{0x3555, 0.333251953125},         // (1 + 341/1024) / 4
		{0x5640, 100},                    // (1 + 576/1024) * 2^6
		{0x7bff, 65504},                  // largest finite: (2 - 2^-10) * 2^15
		{0x0400, 6.103515625e-05},        // smallest normal: 2^-14
		{0x03ff, math.Ldexp(1023, -24)},  // largest subnormal: 1023 * 2^-24
		{0x0200, 3.0517578125e-05},       // subnormal 2^-15
		{0x0001, 5.960464477539063e-08},  // smallest subnormal: 2^-24
		{0x8001, -5.960464477539063e-08}, // negative subnormal
		{0x7c00, math.Inf(1)},
		{0xfc00, math.Inf(-1)},
		{0x7e00, math.NaN()}, // quiet NaN
		{0x7c01, math.NaN()}, // signalling NaN stays a NaN
		{0xfe00, math.NaN()},
	}
	for _, tt := range tests {
		got := float64(HalfToFloat32(tt.bits))
		if !sameFloat(got, tt.want) {
			t.Errorf("HalfToFloat32(%#04x) = %v, want %v", tt.bits, got, tt.want)
		}
	}
	// All 2^16 patterns: finite values round-trip through float32 to the same
	// half (checked by re-deriving the bits), and NaNs stay NaNs.
	for b := range 1 << 16 {
		f := HalfToFloat32(uint16(b))
		exp := (b >> 10) & 0x1f
		mant := b & 0x3ff
		if exp == 0x1f && mant != 0 {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("HalfToFloat32(%#04x) = %v, want NaN", b, f)
			}
			continue
		}
		var want float64
		if exp == 0 {
			want = math.Ldexp(float64(mant), -24)
		} else if exp == 0x1f {
			want = math.Inf(1)
		} else {
			want = math.Ldexp(float64(mant|0x400), exp-25)
		}
		if b&0x8000 != 0 {
			want = -want
		}
		if float64(f) != want {
			t.Fatalf("HalfToFloat32(%#04x) = %v, want %v", b, f, want)
		}
	}
}

func TestBFloat16ToFloat32(t *testing.T) {
	tests := []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0},
		{0x8000, math.Copysign(0, -1)},
		{0x3f80, 1},
		{0xc000, -2},
		{0x3eab, 0.333984375},            // (1 + 43/128) / 4
		{0x4049, 3.140625},               // (1 + 73/128) * 2
		{0x7f7f, 3.3895313892515355e+38}, // largest finite: (2 - 2^-7) * 2^127
		{0x0080, 1.1754943508222875e-38}, // smallest normal: 2^-126
		{0x0001, 9.183549615799121e-41},  // smallest subnormal: 2^-133
		{0x807f, -math.Ldexp(127, -133)},
		{0x7f80, math.Inf(1)},
		{0xff80, math.Inf(-1)},
		{0x7fc0, math.NaN()},
		{0x7f81, math.NaN()},
	}
	for _, tt := range tests {
		got := float64(BFloat16ToFloat32(tt.bits))
		if !sameFloat(got, tt.want) {
			t.Errorf("BFloat16ToFloat32(%#04x) = %v, want %v", tt.bits, got, tt.want)
		}
	}
}

func TestFloat32ToBFloat16(t *testing.T) {
	tests := []struct {
		in   uint32 // float32 bits
		want uint16
	}{
		{0x3f800000, 0x3f80},     // 1
		{0x80000000, 0x8000},     // -0
		{0x40490fdb, 0x4049},     // pi rounds down
		{0x3eaaaaab, 0x3eab},     // 1/3 rounds up
		{0x3f808000, 0x3f80},     // tie, even stays
		{0x3f818000, 0x3f82},     // tie, odd rounds up to even
		{0x3f808001, 0x3f81},     // just above the tie
		{0x7f7fffff, 0x7f80},     // max float32 rounds to +Inf
		{0x7f800000, 0x7f80},     // +Inf
		{0xff800000, 0xff80},     // -Inf
		{0x7fc00000, 0x7fc0},     // quiet NaN
		{0x7f800001, 0x7fc0},     // NaN whose payload is only in the low bits
		{0x00000001, 0x0000},     // tiny subnormal rounds to 0
		{0x007fffff, 0x0080},     // largest subnormal rounds up to the smallest normal
		{0xbf7fffff, 0xbf80},     // just below -1 rounds to -1
		{0x3f7f0000, 0x3f7f},     // exactly representable
		{0x4b800000 + 1, 0x4b80}, // 2^24 + ulp rounds down
	}
	for _, tt := range tests {
		if got := Float32ToBFloat16(math.Float32frombits(tt.in)); got != tt.want {
			t.Errorf("Float32ToBFloat16(%#08x) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	// Every bfloat16 value converts back to itself.
	for b := range 1 << 16 {
		f := BFloat16ToFloat32(uint16(b))
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := Float32ToBFloat16(f); got != uint16(b) {
			t.Fatalf("round trip of %#04x gave %#04x", b, got)
		}
	}
}

func TestFloatConversions(t *testing.T) {
	f64 := FromFloat64("f64", []int{3}, []float64{0.1, -1e300, 2.5})
	tests := []struct {
		name  string
		t     Tensor
		want  []float64 // Float64s
		want3 []float32 // Float32s
	}{
		{"F32", FromFloat32("f32", []int{2, 2}, []float32{1, -0.5, 3.25, 1e-45}),
			[]float64{1, -0.5, 3.25, float64(float32(1e-45))}, []float32{1, -0.5, 3.25, 1e-45}},
		{"F64", f64, []float64{0.1, -1e300, 2.5}, []float32{float32(0.1), float32(math.Inf(-1)), 2.5}},
		{"F16", Tensor{Name: "h", DType: F16, Shape: []int{3}, Data: u16s(0x3c00, 0x0001, 0xc000)},
			[]float64{1, 5.960464477539063e-08, -2}, []float32{1, 5.960464477539063e-08, -2}},
		{"BF16", Tensor{Name: "b", DType: BF16, Shape: []int{1, 2}, Data: u16s(0x4049, 0xbf80)},
			[]float64{3.140625, -1}, []float32{3.140625, -1}},
		{"scalar", FromFloat32("s", nil, []float32{7}), []float64{7}, []float32{7}},
		{"empty", FromFloat32("e", []int{0, 3}, nil), []float64{}, []float32{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.t.Float64s()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Float64s() = %v, want %v", got, tt.want)
			}
			got32, err := tt.t.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got32, tt.want3) {
				t.Errorf("Float32s() = %v, want %v", got32, tt.want3)
			}
		})
	}
}

func TestInt64s(t *testing.T) {
	tests := []struct {
		name string
		t    Tensor
		want []int64
	}{
		{"I64", FromInt64("a", []int{3}, []int64{math.MinInt64, -1, math.MaxInt64}), []int64{math.MinInt64, -1, math.MaxInt64}},
		{"I32", Tensor{Name: "a", DType: I32, Shape: []int{2}, Data: []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80}}, []int64{-1, math.MinInt32}},
		{"U32", Tensor{Name: "a", DType: U32, Shape: []int{1}, Data: []byte{0xff, 0xff, 0xff, 0xff}}, []int64{math.MaxUint32}},
		{"I16", Tensor{Name: "a", DType: I16, Shape: []int{2}, Data: u16s(0xfffe, 0x7fff)}, []int64{-2, 32767}},
		{"U16", Tensor{Name: "a", DType: U16, Shape: []int{1}, Data: u16s(0xfffe)}, []int64{65534}},
		{"I8", Tensor{Name: "a", DType: I8, Shape: []int{3}, Data: []byte{0x80, 0xff, 5}}, []int64{-128, -1, 5}},
		{"U8", Tensor{Name: "a", DType: U8, Shape: []int{2}, Data: []byte{0x80, 0xff}}, []int64{128, 255}},
		{"BOOL", Tensor{Name: "a", DType: BOOL, Shape: []int{2}, Data: []byte{1, 0}}, []int64{1, 0}},
		{"U64", Tensor{Name: "a", DType: U64, Shape: []int{1}, Data: binary.LittleEndian.AppendUint64(nil, math.MaxInt64)}, []int64{math.MaxInt64}},
	}
	for _, tt := range tests {
		got, err := tt.t.Int64s()
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Int64s() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestConversionErrors(t *testing.T) {
	i64 := FromInt64("ids", []int{1}, []int64{3})
	f32 := FromFloat32("w", []int{2}, []float32{1, 2})
	tests := []struct {
		name string
		conv func() error
		want string
	}{
		{"Float32s of I64", func() error { _, err := i64.Float32s(); return err }, `tensor "ids": cannot convert I64 elements to float`},
		{"Float64s of I64", func() error { _, err := i64.Float64s(); return err }, `tensor "ids": cannot convert I64 elements to float`},
		{"Int64s of F32", func() error { _, err := f32.Int64s(); return err }, `tensor "w": cannot convert F32 elements to int64`},
		{"Float32s of F8", func() error {
			_, err := Tensor{Name: "q", DType: F8E4M3, Shape: []int{1}, Data: []byte{1}}.Float32s()
			return err
		}, `cannot convert F8_E4M3 elements to float`},
		{"shape mismatch", func() error {
			_, err := FromFloat32("m", []int{3}, []float32{1, 2}).Float32s()
			return err
		}, `tensor "m": shape [3] of F32 needs 12 bytes but the tensor has 8`},
		{"F64 shape mismatch", func() error {
			_, err := FromFloat64("m", []int{3}, []float64{1}).Float64s()
			return err
		}, `tensor "m": shape [3] of F64 needs 24 bytes but the tensor has 8`},
		{"ragged data", func() error {
			_, err := Tensor{Name: "r", DType: I32, Shape: []int{1}, Data: []byte{1, 2, 3}}.Int64s()
			return err
		}, `tensor "r": shape [1] of I32 needs 4 bytes but the tensor has 3`},
		{"U64 overflow", func() error {
			_, err := Tensor{Name: "u", DType: U64, Shape: []int{1}, Data: binary.LittleEndian.AppendUint64(nil, 1<<63)}.Int64s()
			return err
		}, `tensor "u": U64 element 0 (9223372036854775808) does not fit in an int64`},
	}
	for _, tt := range tests {
		err := tt.conv()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want one containing %q", tt.name, err, tt.want)
			continue
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v does not match ErrFormat", tt.name, err)
		}
	}
}

func TestConstructors(t *testing.T) {
	shape := []int{2}
	tn := FromFloat32("x", shape, []float32{1, -2})
	shape[0] = 99
	if !slices.Equal(tn.Shape, []int{2}) {
		t.Errorf("FromFloat32 kept the caller's shape slice: %v", tn.Shape)
	}
	if want := []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}; !slices.Equal(tn.Data, want) || tn.DType != F32 || tn.Name != "x" {
		t.Errorf("FromFloat32 = %+v, want data %v", tn, want)
	}
	if got := FromFloat64("d", []int{1}, []float64{1}); got.DType != F64 || !slices.Equal(got.Data, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}) {
		t.Errorf("FromFloat64 = %+v", got)
	}
	if got := FromInt64("i", []int{1}, []int64{-2}); got.DType != I64 || !slices.Equal(got.Data, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("FromInt64 = %+v", got)
	}
}
