package bf16

import (
	"math"
	"testing"
)

func TestBits(t *testing.T) {
	for _, c := range []struct {
		name string
		in   uint32
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"exact", 0x40490000, 0x4049},
		{"below half rounds down", 0x3f807fff, 0x3f80},
		{"half, even stays", 0x3f808000, 0x3f80},
		{"half, odd rounds up", 0x3f818000, 0x3f82},
		{"above half rounds up", 0x3f808001, 0x3f81},
		{"negative", 0xbf808001, 0xbf81},
		{"carry into the exponent", 0x3fffffff, 0x4000},
		{"largest finite overflows to inf", 0x7f7fffff, 0x7f80},
		{"inf", 0x7f800000, 0x7f80},
		{"-inf", 0xff800000, 0xff80},
		{"zero", 0, 0},
		{"-zero", 0x80000000, 0x8000},
		{"subnormal", 0x00018000, 0x0002},
		{"NaN with a low payload stays NaN", 0x7f800001, 0x7fc0},
	} {
		if got := Bits(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("%s: Bits(%#08x) = %#04x, want %#04x", c.name, c.in, got, c.want)
		}
	}
}

// Round is the nearest bfloat16: on a grid of floats its error is at most
// half a unit in the 8th significant bit, and it is idempotent.
func TestRound(t *testing.T) {
	for i := -2000; i <= 2000; i++ {
		v := float32(i) * 0.0137
		r := Round(v)
		if Round(r) != r {
			t.Fatalf("Round(Round(%v)) != Round(%v)", v, v)
		}
		if v == 0 {
			continue
		}
		if e := math.Abs(float64(r-v)) / math.Abs(float64(v)); e > 1.0/256 {
			t.Errorf("Round(%v) = %v: relative error %.3g > 2^-8", v, r, e)
		}
	}
	for _, c := range []struct{ in, want float32 }{{1, 1}, {1.00390625, 1}, {3.14159, 3.140625}} {
		if got := Round(c.in); got != c.want {
			t.Errorf("Round(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
