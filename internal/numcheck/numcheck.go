// Package numcheck compares computed values with references in tests.
package numcheck

import (
	"math"
	"testing"
)

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

// PredictionsAgree checks a device's logits (got) against the CPU's (want),
// rows of v: a normwise relative error below tol, and the same argmax in
// every row except near-ties (top two reference logits within 2·tol of the
// largest logit's magnitude), which are counted and logged. It reports
// failures on t, naming what, and returns the near-ties decided otherwise.
func PredictionsAgree(t testing.TB, what string, got, want []float32, v int, tol float64) (flips int) {
	t.Helper()
	if len(got) != len(want) || v < 1 || len(want)%v != 0 {
		t.Fatalf("%s: %d and %d logits, rows of %d", what, len(got), len(want), v)
	}
	if e := RelErr(got, want); !(e < tol) {
		t.Errorf("%s: logits differ by %.2g (relative)", what, e)
	}
	var scale float64
	for _, x := range want {
		scale = math.Max(scale, math.Abs(float64(x)))
	}
	margin := 2 * tol * scale
	ties, flips, bad := Argmax(got, want, v, margin)
	for _, r := range bad {
		t.Errorf("%s, row %d: the device's argmax differs from the CPU's, whose top two logits are more than the near-tie margin %.2g apart", what, r, margin)
	}
	t.Logf("%s: %d rows, %d near-ties (margin %.2g), %d decided otherwise", what, len(want)/v, ties, margin, flips)
	return flips
}
