package stats

import (
	"fmt"
	"math"
	"sort"
)

// Ranks returns the ranks of x (1-based, ties get their average rank).
func Ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// Spearman is the rank correlation of x and y (Pearson's correlation of the
// average ranks); 0 when either is constant.
func Spearman(x, y []float64) float64 {
	return pearson(Ranks(x), Ranks(y))
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// MaxPermutationN bounds the exact permutation test (n! orderings).
const MaxPermutationN = 10

// SpearmanTest returns Spearman's ρ of x and y and its one-sided exact
// permutation p-value for a positive association: the share of the n!
// orderings of y whose ρ is at least the observed one (within 1e-12).
func SpearmanTest(x, y []float64) (rho, p float64, err error) {
	n := len(x)
	if n != len(y) {
		return 0, 0, fmt.Errorf("stats: Spearman of %d and %d values", len(x), len(y))
	}
	if n < 2 || n > MaxPermutationN {
		return 0, 0, fmt.Errorf("stats: the exact permutation test takes 2 to %d values (got %d)", MaxPermutationN, n)
	}
	rx, ry := Ranks(x), Ranks(y)
	rho = pearson(rx, ry)
	perm := make([]float64, n)
	copy(perm, ry)
	var ge, total int
	var permute func(k int)
	permute = func(k int) {
		if k == n {
			total++
			if pearson(rx, perm) >= rho-1e-12 {
				ge++
			}
			return
		}
		for i := k; i < n; i++ {
			perm[k], perm[i] = perm[i], perm[k]
			permute(k + 1)
			perm[k], perm[i] = perm[i], perm[k]
		}
	}
	permute(0)
	return rho, float64(ge) / float64(total), nil
}
