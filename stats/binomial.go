package stats

import (
	"fmt"
	"math"
)

// BinomialUpper is the one-sided exact binomial test of k successes in n
// independent trials against a success probability p: P(X >= k) for
// X ~ Binomial(n, p), summed in log space. k <= 0 gives 1; k > n gives 0.
// The passkey probe uses it: a model whose answers do not depend on the
// key gets each uniformly drawn digit right with probability exactly 1/10,
// independently of every other digit.
func BinomialUpper(k, n int, p float64) (float64, error) {
	switch {
	case n < 0:
		return math.NaN(), fmt.Errorf("stats: binomial test of %d trials", n)
	case !(p >= 0 && p <= 1):
		return math.NaN(), fmt.Errorf("stats: binomial test against a probability %v outside [0, 1]", p)
	case k <= 0:
		return 1, nil
	case k > n:
		return 0, nil
	case p == 0:
		return 0, nil
	case p == 1:
		return 1, nil
	}
	lgN, _ := math.Lgamma(float64(n + 1))
	lp, lq := math.Log(p), math.Log1p(-p)
	logTerm := func(i int) float64 {
		a, _ := math.Lgamma(float64(i + 1))
		b, _ := math.Lgamma(float64(n - i + 1))
		return lgN - a - b + float64(i)*lp + float64(n-i)*lq
	}
	// Sum the tail scaled by its largest term: the mode when it lies in
	// the tail, else the first term.
	mode := int(math.Floor(float64(n+1) * p))
	start := max(k, min(mode, n))
	top := logTerm(start)
	var s float64
	for i := start; i <= n; i++ {
		t := math.Exp(logTerm(i) - top)
		s += t
		if i > start && t < 1e-18*s {
			break
		}
	}
	for i := start - 1; i >= k; i-- {
		t := math.Exp(logTerm(i) - top)
		s += t
		if t < 1e-18*s {
			break
		}
	}
	return math.Min(1, math.Exp(top)*s), nil
}
