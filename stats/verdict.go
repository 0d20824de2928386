package stats

import (
	"fmt"
	"math"
)

// Outcome is a claim's verdict.
type Outcome int

// The four outcomes of a verdict (docs/analysis.md, "Four outcomes").
const (
	Inconclusive Outcome = iota
	Supported
	PartlySupported
	NotSupported
)

var outcomeNames = []string{"inconclusive", "supported", "partly supported", "not supported"}

// String returns the outcome as the report writes it.
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// Alpha is the family-wise significance level of the verdict rules.
const Alpha = 0.05

// Result of one paired comparison of "ours" against a comparator.
type Result int

// The results of a comparison.
const (
	Tie Result = iota
	Win
	Loss
)

// String names the result.
func (r Result) String() string { return [...]string{"tie", "win", "loss"}[r] }

// Judge turns a McNemar comparison (adjusted p-value, ours' accuracy minus
// the comparator's) into a win, a loss or a tie at level Alpha.
func Judge(adjP, accDiff float64) Result {
	switch {
	case adjP >= Alpha || accDiff == 0:
		return Tie
	case accDiff > 0:
		return Win
	}
	return Loss
}

// Comparisons is the verdict of claim 2: supported when every comparison is
// a win, not supported when any is a loss, partly supported with at least
// one win and no loss, inconclusive when all are ties (or there are none).
func Comparisons(rs []Result) Outcome {
	wins, losses := 0, 0
	for _, r := range rs {
		switch r {
		case Win:
			wins++
		case Loss:
			losses++
		}
	}
	switch {
	case len(rs) == 0:
		return Inconclusive
	case losses > 0:
		return NotSupported
	case wins == len(rs):
		return Supported
	case wins > 0:
		return PartlySupported
	}
	return Inconclusive
}

// EntropyRatio is the verdict of claim 1 from the bootstrap interval of the
// softmax growth (growth) and of InfoScale's growth over softmax's (ratio).
func EntropyRatio(growth, ratio Interval) Outcome {
	switch {
	case growth.Lo <= 0:
		return Inconclusive
	case ratio.Hi <= 0.5:
		return Supported
	case ratio.Hi < 0.9:
		return PartlySupported
	case ratio.Lo >= 0.9:
		return NotSupported
	}
	return Inconclusive
}

// Trend is the verdict of claim 3 from Spearman's ρ and its one-sided
// permutation p over n usable models, saturated of which sit at the
// estimator's upper limit.
func Trend(rho, p float64, n, saturated int) Outcome {
	switch {
	case n < 5 || 2*saturated > n:
		return Inconclusive
	case rho > 0 && p < 0.05:
		return Supported
	case rho > 0 && p < 0.25:
		return PartlySupported
	}
	return NotSupported
}

// Window is the verdict of claim 4 from Spearman's ρ, its one-sided
// permutation p, the number of usable models and the band mass of the
// largest CosScale.
func Window(rho, p float64, n int, top float64) Outcome {
	sig := rho > 0 && p < 0.05
	switch {
	case n < 5:
		return Inconclusive
	case sig && top >= 0.95:
		return Supported
	case sig || top >= 0.9:
		return PartlySupported
	}
	return NotSupported
}

// FailedToTrain reports whether a validation loss is more than 20% above
// its reference (docs/analysis.md, "Models that failed to train").
func FailedToTrain(loss, reference float64) bool { return loss > 1.2*reference }

// Median of x (the mean of the middle two for an even count); NaN if empty.
func Median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), x...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
