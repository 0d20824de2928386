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
