package cpu

import (
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/kernels/parallel"

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
	var sum float64
	if is32[T]() {
		xs := xentScratchFor(len(targets), v)
		xentRows(len(targets), v, xentArgs{logits: asF32(logits), targets: targets, v: v, xs: xs})
		for _, l := range xs.rowLoss {
			sum += l
		}
		xentScratch.Put(xs)
		return sum / float64(count), count, nil
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
	if count == 0 {
		clear(dlogits[:len(targets)*v])
		return
	}
	f := scale / float64(count)
	if is32[T]() { // each row written or cleared by its worker
		xentRows(len(targets), v, xentArgs{grad: true, logits: asF32(logits), dlogits: asF32(dlogits), targets: targets, v: v, f: f})
		return
	}
	rowRanges(len(targets), v, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			crossEntropyGradRow(dlogits, logits, targets, v, f, r)
		}
	})
}

// crossEntropyGradRow writes row r of CrossEntropyGrad: f·(softmax -
// onehot), f = scale/count.
func crossEntropyGradRow[T Float](dlogits, logits []T, targets []int, v int, f float64, r int) {
	t := targets[r]
	row, d := logits[r*v:(r+1)*v], dlogits[r*v:(r+1)*v]
	if t == pipeline.IgnoreTarget || t < 0 || t >= v {
		clear(d)
		return
	}
	lse := logSumExp(row, d)
	expShiftSum(d, row, T(lse))
	ff := T(f)
	for i := range d {
		d[i] *= ff
	}
	d[t] -= T(f)
}

// The float32 loss and its gradient run through a parallel.Job over rows.
type xentArgs struct {
	grad            bool
	logits, dlogits []float32
	targets         []int
	v               int
	f               float64      // the gradient's factor
	xs              *xentBuffers // the loss's row losses and scratch rows
}

// xentBuffers are the loss's per-row losses and one scratch row per
// worker, recycled through xentScratch.
type xentBuffers struct {
	rowLoss []float64
	rows    [][]float32
}

var xentScratch parallel.FreeList[xentBuffers]

func xentScratchFor(rows, v int) *xentBuffers {
	xs := xentScratch.Get()
	if cap(xs.rowLoss) < rows {
		xs.rowLoss = make([]float64, rows)
	}
	xs.rowLoss = xs.rowLoss[:rows]
	clear(xs.rowLoss)
	for w := 0; w < parallel.Workers(0); w++ {
		if w == len(xs.rows) {
			xs.rows = append(xs.rows, nil)
		}
		if len(xs.rows[w]) != v {
			xs.rows[w] = make([]float32, v)
		}
	}
	return xs
}

var xentJob = parallel.Job[xentArgs]{Body: xentRun}

func xentRun(a *xentArgs, w, lo, hi int) {
	for r := lo; r < hi; r++ {
		if a.grad {
			crossEntropyGradRow(a.dlogits, a.logits, a.targets, a.v, a.f, r)
			continue
		}
		if t := a.targets[r]; t != pipeline.IgnoreTarget {
			row := a.logits[r*a.v : (r+1)*a.v]
			a.xs.rowLoss[r] = logSumExp(row, a.xs.rows[w]) - float64(row[t])
		}
	}
}

// xentRows runs the float32 loss or gradient over rows rows of width v,
// on one core when they are few.
func xentRows(rows, v int, a xentArgs) {
	if rows*v < parallelMin {
		xentRun(&a, 0, 0, rows)
		return
	}
	xentJob.Each(rows, max(1, grain(rows*v)/v), 0, a)
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
