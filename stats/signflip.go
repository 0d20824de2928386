package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SignFlipExactMax is the largest number of units SignFlip enumerates
// exactly (2^n sign assignments); more units are sampled.
const SignFlipExactMax = 20

// SignFlip is the paired sign-flip (permutation) test of a mean
// difference over independent units, such as documents: under the null
// hypothesis each unit's difference is as likely to have either sign, so
// the p-value is the share of the 2^n sign assignments whose mean is at
// least as far from 0 as the observed one (two-sided). Up to
// SignFlipExactMax units the assignments are enumerated; beyond, resamples
// random ones are drawn (PCG seeded by seed) and p = (1 + hits)/(1 +
// resamples). Units whose difference is 0 count as they are (they change
// no assignment's mean). No unit, or a difference that is not finite, is
// an error.
func SignFlip(diffs []float64, resamples int, seed uint64) (p float64, err error) {
	n := len(diffs)
	if n == 0 {
		return math.NaN(), fmt.Errorf("stats: sign-flip test over no unit")
	}
	var obs float64
	for _, d := range diffs {
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return math.NaN(), fmt.Errorf("stats: sign-flip test of a difference that is not finite (%v)", d)
		}
		obs += d
	}
	// Sums at least as extreme, with a tolerance for the rounding of the
	// sums in other orders.
	limit := math.Abs(obs) * (1 - 1e-12)
	extreme := func(sum float64) bool { return math.Abs(sum) >= limit }
	if n <= SignFlipExactMax {
		hits := 0
		for mask := uint32(0); mask < 1<<n; mask++ {
			var s float64
			for i, d := range diffs {
				if mask>>i&1 == 1 {
					s -= d
				} else {
					s += d
				}
			}
			if extreme(s) {
				hits++
			}
		}
		return float64(hits) / float64(uint64(1)<<n), nil
	}
	if resamples < 1 {
		return math.NaN(), fmt.Errorf("stats: sign-flip test over %d units needs resamples >= 1", n)
	}
	rng := rand.New(rand.NewPCG(seed, 0x51f15eed))
	hits := 0
	for range resamples {
		var s float64
		var word uint64
		for i, d := range diffs {
			if i%64 == 0 {
				word = rng.Uint64()
			}
			if word&1 == 1 {
				s -= d
			} else {
				s += d
			}
			word >>= 1
		}
		if extreme(s) {
			hits++
		}
	}
	return float64(1+hits) / float64(1+resamples), nil
}

// SignFlipMinP is the smallest p-value the exact sign-flip test can give
// over n units whose differences are all nonzero: 2/2^n (the observed
// assignment and its mirror image).
func SignFlipMinP(n int) float64 {
	if n < 1 {
		return 1
	}
	return math.Ldexp(2, -n)
}

// MinUnits is the fewest units whose exact sign-flip test can reach
// p < alpha: the smallest n with 2/2^n < alpha.
func MinUnits(alpha float64) int {
	n := 1
	for SignFlipMinP(n) >= alpha && n < 64 {
		n++
	}
	return n
}

// MinDetectable is the smallest true mean difference that a two-sided test
// at level alpha over n independent units whose differences have standard
// deviation sd detects with the given power, in the normal approximation:
// (z(1−α/2) + z(power))·sd/√n. For the sign-flip test it holds once n
// reaches MinUnits(alpha).
func MinDetectable(sd float64, n int, alpha, power float64) float64 {
	if n < 1 || !(sd >= 0) || !(alpha > 0 && alpha < 1) || !(power > 0 && power < 1) {
		return math.NaN()
	}
	return (NormalQuantile(1-alpha/2) + NormalQuantile(power)) * sd / math.Sqrt(float64(n))
}

// NormalQuantile is the standard normal quantile function Φ⁻¹(p), by
// bisection of math.Erf to the last bit; NaN outside (0, 1).
func NormalQuantile(p float64) float64 {
	if !(p > 0 && p < 1) {
		return math.NaN()
	}
	lo, hi := -40.0, 40.0
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if 0.5*math.Erfc(-mid/math.Sqrt2) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
