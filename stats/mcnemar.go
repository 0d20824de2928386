package stats

import (
	"fmt"
	"math"
)

// Discordant counts the pairs on which two paired right/wrong outcome
// vectors disagree: b = right in a and wrong in b, c = the reverse.
func Discordant(a, b []bool) (nb, nc int, err error) {
	if len(a) != len(b) {
		return 0, 0, fmt.Errorf("stats: paired outcomes of different lengths (%d and %d)", len(a), len(b))
	}
	for i := range a {
		switch {
		case a[i] && !b[i]:
			nb++
		case !a[i] && b[i]:
			nc++
		}
	}
	return nb, nc, nil
}

// McNemar returns the two-sided exact p-value of McNemar's test for b and c
// discordant pairs, min(1, 2·P(X <= min(b, c))) with X ~ Binomial(b+c, 1/2),
// and the mid-p value min(1, 2·(P(X <= min(b,c)) − P(X = min(b,c))/2)).
// b + c = 0 gives p = midP = 1.
func McNemar(b, c int) (p, midP float64) {
	if b < 0 || c < 0 {
		return math.NaN(), math.NaN()
	}
	n := b + c
	if n == 0 {
		return 1, 1
	}
	k := min(b, c)
	cdf, pk := binomHalfCDF(k, n)
	return math.Min(1, 2*cdf), math.Min(1, 2*(cdf-pk/2))
}

// binomHalfCDF returns P(X <= k) and P(X = k) for X ~ Binomial(n, 1/2),
// summing the terms in log space (exact to rounding for any n).
func binomHalfCDF(k, n int) (cdf, pk float64) {
	lnHalf := float64(n) * math.Log(0.5)
	lgN, _ := math.Lgamma(float64(n + 1))
	logTerm := func(i int) float64 {
		a, _ := math.Lgamma(float64(i + 1))
		b, _ := math.Lgamma(float64(n - i + 1))
		return lgN - a - b + lnHalf
	}
	// Sum from the largest term (i = k, since k <= n/2) down, scaled by it.
	top := logTerm(k)
	var s float64
	for i := k; i >= 0; i-- {
		t := math.Exp(logTerm(i) - top)
		s += t
		if t < 1e-18*s {
			break
		}
	}
	return math.Exp(top) * s, math.Exp(top)
}

// Holm returns Holm's step-down adjusted p-values of p (same order): the
// i-th smallest p times (m − i + 1), made monotone and capped at 1. An
// adjusted value below α rejects at family-wise level α.
func Holm(p []float64) []float64 {
	m := len(p)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	// insertion sort by p (m is small)
	for i := 1; i < m; i++ {
		for j := i; j > 0 && p[idx[j]] < p[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	out := make([]float64, m)
	run := 0.0
	for r, i := range idx {
		v := math.Min(1, float64(m-r)*p[i])
		run = math.Max(run, v)
		out[i] = run
	}
	return out
}
