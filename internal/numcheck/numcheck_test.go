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
