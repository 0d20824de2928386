package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Interval is a point estimate with a confidence interval.
type Interval struct {
	Est float64 `json:"est"`
	Lo  float64 `json:"lo"`
	Hi  float64 `json:"hi"`
}

// Bootstrap resamples nDocs documents with replacement (PCG seeded by seed)
// and evaluates stat on each resample, given as the multiplicity of every
// document (w[d] copies of document d; the original sample is all ones). It
// returns stat of the original sample and the percentile interval at the
// given level (0.95: the 2.5 and 97.5 percentiles). Resamples on which stat
// is NaN (an empty denominator) are skipped; fewer than half valid is an
// error.
func Bootstrap(nDocs int, stat func(w []int) float64, resamples int, seed uint64, level float64) (Interval, error) {
	if nDocs < 1 {
		return Interval{}, fmt.Errorf("stats: bootstrap over %d documents", nDocs)
	}
	if resamples < 1 || !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("stats: bootstrap needs resamples >= 1 and a level in (0, 1) (got %d, %v)", resamples, level)
	}
	w := make([]int, nDocs)
	for i := range w {
		w[i] = 1
	}
	est := stat(w)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	vals := make([]float64, 0, resamples)
	for r := 0; r < resamples; r++ {
		clear(w)
		for i := 0; i < nDocs; i++ {
			w[rng.IntN(nDocs)]++
		}
		if v := stat(w); !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if 2*len(vals) < resamples {
		return Interval{}, fmt.Errorf("stats: the statistic is undefined on %d of %d resamples", resamples-len(vals), resamples)
	}
	sort.Float64s(vals)
	a := (1 - level) / 2
	return Interval{Est: est, Lo: quantile(vals, a), Hi: quantile(vals, 1-a)}, nil
}

// quantile is the linear-interpolation quantile of sorted x (type 7).
func quantile(x []float64, q float64) float64 {
	h := q * float64(len(x)-1)
	i := int(math.Floor(h))
	if i >= len(x)-1 {
		return x[len(x)-1]
	}
	return x[i] + (h-float64(i))*(x[i+1]-x[i])
}

// DocSums are the per-document sums of a paired comparison: SumA and SumB
// the totals of the quantity (loss, or 1 per right answer) of the two
// configurations over the N positions both scored in the document.
type DocSums struct {
	N          int
	SumA, SumB float64
}

// PooledDiff is the statistic of a paired bootstrap of pooled means:
// Σ w·SumA / Σ w·N − Σ w·SumB / Σ w·N (NaN when no position is drawn).
func PooledDiff(docs []DocSums) func(w []int) float64 {
	return func(w []int) float64 {
		var n, a, b float64
		for i, d := range docs {
			f := float64(w[i])
			n += f * float64(d.N)
			a += f * d.SumA
			b += f * d.SumB
		}
		if n == 0 {
			return math.NaN()
		}
		return (a - b) / n
	}
}

// SumRatio is the statistic Σ w·num / Σ w·den (NaN when the denominator is 0).
func SumRatio(num, den []float64) func(w []int) float64 {
	return func(w []int) float64 {
		var a, b float64
		for i := range num {
			a += float64(w[i]) * num[i]
			b += float64(w[i]) * den[i]
		}
		if b == 0 {
			return math.NaN()
		}
		return a / b
	}
}

// WeightedSum is the statistic Σ w·x.
func WeightedSum(x []float64) func(w []int) float64 {
	return func(w []int) float64 {
		var s float64
		for i := range x {
			s += float64(w[i]) * x[i]
		}
		return s
	}
}
