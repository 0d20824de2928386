package cpu

import (
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/pipeline"
)

// CrossEntropy returns the mean over the counted rows of -log softmax(logits
// row)[target] (rows of width v) and the number of counted rows. Rows whose
// target is pipeline.IgnoreTarget do not count; with no counted row the loss is 0.
func CrossEntropy[T Float](logits []T, targets []int, v int) (float64, int, error) {
	count := 0
	for _, t := range targets {
		if t == pipeline.IgnoreTarget {
			continue
		}
		if t < 0 || t >= v {
			return 0, 0, fmt.Errorf("cross entropy: target %d out of range [0, %d)", t, v)
		}
		count++
	}
	if count == 0 {
		return 0, 0, nil
	}
	rowLoss := make([]float64, len(targets))
	rowRanges(len(targets), v, func(lo, hi int) {
		scratch := make([]T, v)
		for r := lo; r < hi; r++ {
			if t := targets[r]; t != pipeline.IgnoreTarget {
				row := logits[r*v : (r+1)*v]
				rowLoss[r] = logSumExp(row, scratch) - float64(row[t])
			}
		}
	})
	var sum float64
	for _, l := range rowLoss {
		sum += l
	}
	return sum / float64(count), count, nil
}

// CrossEntropyGrad writes the gradient of scale·CrossEntropy with respect to
// the logits: scale·(softmax - onehot)/count on counted rows, 0 elsewhere.
func CrossEntropyGrad[T Float](dlogits, logits []T, targets []int, v int, scale float64) {
	count := 0
	for _, t := range targets {
		if t != pipeline.IgnoreTarget {
			count++
		}
	}
	clear(dlogits[:len(targets)*v])
	if count == 0 {
		return
	}
	f := scale / float64(count)
	rowRanges(len(targets), v, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			t := targets[r]
			if t == pipeline.IgnoreTarget || t < 0 || t >= v {
				continue
			}
			row, d := logits[r*v:(r+1)*v], dlogits[r*v:(r+1)*v]
			lse := logSumExp(row, d)
			expShiftSum(d, row, T(lse))
			ff := T(f)
			for i := range d {
				d[i] *= ff
			}
			d[t] -= T(f)
		}
	})
}

// rowRanges splits rows of width v into contiguous ranges, one per core
// when there is enough work.
func rowRanges(rows, v int, fn func(lo, hi int)) {
	if rows*v < parallelMin {
		fn(0, rows)
		return
	}
	forRange(rows, 0, func(_, lo, hi int) { fn(lo, hi) })
}

// logSumExp returns log Σ e^row, using scratch (len(row)) for the
// exponentials.
func logSumExp[T Float](row, scratch []T) float64 {
	mx := rowMax(row)
	s := expShiftSum(scratch, row, mx)
	return float64(mx) + math.Log(float64(s))
}
