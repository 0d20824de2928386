package numcheck

import (
	"math"
	"testing"
)

func TestRelErr(t *testing.T) {
	nan := float32(math.NaN())
	for _, c := range []struct {
		name      string
		got, want []float32
		rel       float64
	}{
		{"equal", []float32{1, -2}, []float32{1, -2}, 0},
		{"scaled by max |want|", []float32{1, -1.5}, []float32{1, -2}, 0.25},
		{"zero reference", []float32{0.5, 0}, []float32{0, 0}, 0.5},
		{"NaN is unwritten", []float32{1, nan}, []float32{1, 2}, math.Inf(1)},
	} {
		if got := RelErr(c.got, c.want); got != c.rel {
			t.Errorf("%s: %v, want %v", c.name, got, c.rel)
		}
	}
}

func TestArgmax(t *testing.T) {
	want := []float32{
		0, 5, 1, // clear winner 1
		3, 3.0001, 0, // near-tie of 0 and 1
		2, 0, 0, // clear winner 0
	}
	got := []float32{
		0, 5, 1,
		3.0002, 3, 0, // the near-tie decided otherwise
		0, 2, 0, // a real disagreement
	}
	ties, flips, bad := Argmax(got, want, 3, 1e-3)
	if ties != 1 || flips != 1 || len(bad) != 1 || bad[0] != 2 {
		t.Errorf("ties %d flips %d bad %v; want 1, 1, [2]", ties, flips, bad)
	}
}
