package cpu

import (
	"fmt"
	"math"
)

// IgnoreTarget marks a row of CrossEntropy that does not count.
const IgnoreTarget = -1

// CrossEntropy returns the mean over the counted rows of -log softmax(logits
// row)[target] (rows of width v) and the number of counted rows. Rows whose
// target is IgnoreTarget do not count; with no counted row the loss is 0.
func CrossEntropy[T Float](logits []T, targets []int, v int) (float64, int, error) {
	count := 0
	for _, t := range targets {
		if t == IgnoreTarget {
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
	rowsOf(len(targets)*v, v, func(r0 int) {
		r := r0 / v
		if t := targets[r]; t != IgnoreTarget {
			row := logits[r0 : r0+v]
			rowLoss[r] = logSumExp(row) - float64(row[t])
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
		if t != IgnoreTarget {
			count++
		}
	}
	clear(dlogits[:len(targets)*v])
	if count == 0 {
		return
	}
	f := scale / float64(count)
	rowsOf(len(targets)*v, v, func(r0 int) {
		r := r0 / v
		t := targets[r]
		if t == IgnoreTarget || t < 0 || t >= v {
			return
		}
		row, d := logits[r0:r0+v], dlogits[r0:r0+v]
		lse := logSumExp(row)
		sh := T(lse)
		ff := T(f)
		for i, x := range row {
			d[i] = ff * expT(x-sh)
		}
		d[t] -= T(f)
	})
}

func logSumExp[T Float](row []T) float64 {
	mx := row[0]
	for _, x := range row {
		mx = max(mx, x)
	}
	var s T
	for _, x := range row {
		s += expT(x - mx)
	}
	return float64(mx) + math.Log(float64(s))
}
