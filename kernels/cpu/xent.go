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
	var sum float64
	count := 0
	for r, t := range targets {
		if t == IgnoreTarget {
			continue
		}
		if t < 0 || t >= v {
			return 0, 0, fmt.Errorf("cross entropy: target %d out of range [0, %d)", t, v)
		}
		row := logits[r*v : (r+1)*v]
		sum += logSumExp(row) - float64(row[t])
		count++
	}
	if count == 0 {
		return 0, 0, nil
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
	for r, t := range targets {
		if t == IgnoreTarget || t < 0 || t >= v {
			continue
		}
		row, d := logits[r*v:(r+1)*v], dlogits[r*v:(r+1)*v]
		lse := logSumExp(row)
		for i, x := range row {
			d[i] = T(f * math.Exp(float64(x)-lse))
		}
		d[t] -= T(f)
	}
}

func logSumExp[T Float](row []T) float64 {
	mx := math.Inf(-1)
	for _, x := range row {
		mx = math.Max(mx, float64(x))
	}
	var s float64
	for _, x := range row {
		s += math.Exp(float64(x) - mx)
	}
	return mx + math.Log(s)
}
