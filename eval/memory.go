package eval

import (
	"math"

	"github.com/infoscale/gaualpha/gau"
)

// ForwardBytes is EstimateBytes for one sequence of length L, computed in
// floating point (EstimateBytes is linear in L) so that an absurd length
// gives an absurd figure instead of overflowing into a small one; it is
// capped at math.MaxInt64.
func ForwardBytes(cfg gau.Config, L int) int64 {
	x := ForwardBytesFloat(cfg, L)
	if !(x < math.MaxInt64) {
		return math.MaxInt64
	}
	return int64(x)
}

// ForwardBytesFloat is ForwardBytes in float64, uncapped, for estimates that
// add their own terms.
func ForwardBytesFloat(cfg gau.Config, L int) float64 {
	one, two := float64(EstimateBytes(cfg, 1, 1)), float64(EstimateBytes(cfg, 1, 2))
	return one + (two-one)*float64(L-1)
}
