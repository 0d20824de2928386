package stats

import (
	"fmt"
	"math"
)

// Scores are one configuration's outcomes at the scored positions of one
// length, in a fixed order shared by every configuration compared with it.
type Scores struct {
	Correct []bool
	Loss    []float64
}

// Identical reports whether a and b are right and wrong at the same
// positions and their losses differ by at most tol at every position.
func Identical(a, b Scores, tol float64) bool {
	if len(a.Correct) != len(b.Correct) || len(a.Loss) != len(b.Loss) {
		return false
	}
	for i := range a.Correct {
		if a.Correct[i] != b.Correct[i] {
			return false
		}
	}
	for i := range a.Loss {
		if !(math.Abs(a.Loss[i]-b.Loss[i]) <= tol) {
			return false
		}
	}
	return true
}

// Groups partitions the configurations into groups of identical
// predictions (Identical with tol, taken against each group's first
// member). Groups are in the order of their first members, members in input
// order.
func Groups(s []Scores, tol float64) [][]int {
	var groups [][]int
	for i := range s {
		placed := false
		for g := range groups {
			if Identical(s[groups[g][0]], s[i], tol) {
				groups[g] = append(groups[g], i)
				placed = true
				break
			}
		}
		if !placed {
			groups = append(groups, []int{i})
		}
	}
	return groups
}

// Paired compares two configurations scored on the same positions, whose
// document of each position is doc[i]: McNemar on accuracy and paired
// bootstrap intervals of the differences (A − B) of accuracy and loss over
// documents.
type Paired struct {
	N        int      `json:"n"`
	AccA     float64  `json:"acc_a"`
	AccB     float64  `json:"acc_b"`
	LossA    float64  `json:"loss_a"`
	LossB    float64  `json:"loss_b"`
	B        int      `json:"b"` // right in A, wrong in B
	C        int      `json:"c"` // wrong in A, right in B
	P        float64  `json:"p"`
	MidP     float64  `json:"mid_p"`
	AccDiff  Interval `json:"acc_diff"`
	LossDiff Interval `json:"loss_diff"`
}

// Compare computes Paired for a and b; doc gives the document of each
// position (documents are resampled as units). resamples and seed set the
// bootstrap (the verdict rules fix them).
func Compare(a, b Scores, doc []int, resamples int, seed uint64) (Paired, error) {
	n := len(doc)
	if len(a.Correct) != n || len(b.Correct) != n || len(a.Loss) != n || len(b.Loss) != n {
		return Paired{}, fmt.Errorf("stats: paired comparison needs the same %d positions on both sides (got %d/%d outcomes, %d/%d losses)", n, len(a.Correct), len(b.Correct), len(a.Loss), len(b.Loss))
	}
	if n == 0 {
		return Paired{}, fmt.Errorf("stats: paired comparison of no positions")
	}
	nd := 0
	for _, d := range doc {
		if d < 0 {
			return Paired{}, fmt.Errorf("stats: negative document index %d", d)
		}
		nd = max(nd, d+1)
	}
	acc := make([]DocSums, nd)
	loss := make([]DocSums, nd)
	r := Paired{N: n}
	for i, d := range doc {
		acc[d].N++
		loss[d].N++
		if a.Correct[i] {
			acc[d].SumA++
			r.AccA++
		}
		if b.Correct[i] {
			acc[d].SumB++
			r.AccB++
		}
		loss[d].SumA += a.Loss[i]
		loss[d].SumB += b.Loss[i]
		r.LossA += a.Loss[i]
		r.LossB += b.Loss[i]
	}
	r.AccA /= float64(n)
	r.AccB /= float64(n)
	r.LossA /= float64(n)
	r.LossB /= float64(n)
	r.B, r.C, _ = Discordant(a.Correct, b.Correct)
	r.P, r.MidP = McNemar(r.B, r.C)
	var err error
	if r.AccDiff, err = Bootstrap(nd, PooledDiff(acc), resamples, seed, 0.95); err != nil {
		return Paired{}, err
	}
	if r.LossDiff, err = Bootstrap(nd, PooledDiff(loss), resamples, seed, 0.95); err != nil {
		return Paired{}, err
	}
	return r, nil
}
