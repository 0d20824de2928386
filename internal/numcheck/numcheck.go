// Package numcheck compares computed values with references in tests.
package numcheck

import "math"

// RelErr is the normwise relative error max|got-want| / max|want| (max|want|
// taken as 1 when want is all zero). A NaN or Inf in got, such as an element
// a kernel never wrote into a NaN-filled buffer, is an infinite error.
func RelErr(got, want []float32) float64 {
	var worst, scale float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1)
		}
		scale = math.Max(scale, math.Abs(w))
		worst = math.Max(worst, math.Abs(g-w))
	}
	if scale == 0 {
		scale = 1
	}
	return worst / scale
}

// Argmax compares the row-wise argmax of two logit matrices (rows of v)
// the way device tests allow for rounding: a row whose reference top two
// logits are within margin of each other is a near-tie, and the device may
// decide it otherwise. It returns the near-ties, the near-ties decided
// otherwise (flips), and the rows decided otherwise that were not near-ties
// (bad: a real disagreement).
func Argmax(got, want []float32, v int, margin float64) (ties, flips int, bad []int) {
	for r := 0; r < len(want)/v; r++ {
		wr, gr := want[r*v:(r+1)*v], got[r*v:(r+1)*v]
		best, second := top2(wr)
		near := second >= 0 && float64(wr[best]-wr[second]) <= margin
		if near {
			ties++
		}
		if gb, _ := top2(gr); gb != best {
			if near {
				flips++
			} else {
				bad = append(bad, r)
			}
		}
	}
	return ties, flips, bad
}

// top2 returns the indices of the largest and second largest values (the
// first of equals, as metrics.Tally's argmax; second is -1 for one value).
func top2(x []float32) (best, second int) {
	best, second = 0, -1
	for i := 1; i < len(x); i++ {
		switch {
		case x[i] > x[best]:
			best, second = i, best
		case second < 0 || x[i] > x[second]:
			second = i
		}
	}
	return best, second
}
