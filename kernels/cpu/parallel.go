package cpu

import "github.com/infoscale/gaualpha/kernels/parallel"

// The closure-based loops below serve the kernels off the training path
// (float64, the analyses): a closure run on another goroutine is
// allocated per call. The training path's loops are tasks kept in the
// workspace or parallel.Jobs, which allocate nothing.

// funcTask adapts a closure to parallel.Task.
type funcTask func(w, lo, hi int)

func (f funcTask) Run(w, lo, hi int) { f(w, lo, hi) }

// forEach runs fn(worker, item) for item in [0, n) on up to threads
// workers (0: GOMAXPROCS), items claimed one at a time; each worker index
// is used by one goroutine at a time, so fn may use per-worker scratch
// space. It returns the first error of the lowest-numbered worker that
// had one.
func forEach(n, threads int, fn func(worker, item int) error) error {
	errs := make([]error, max(1, min(parallel.Workers(threads), n)))
	parallel.Each(n, 1, threads, funcTask(func(w, lo, hi int) {
		for i := lo; i < hi && errs[w] == nil; i++ {
			errs[w] = fn(w, i)
		}
	}))
	return firstError(errs)
}

// forRange splits [0, n) into contiguous chunks, one per worker, and runs
// fn(worker, lo, hi) on each.
func forRange(n, threads int, fn func(worker, lo, hi int)) {
	parallel.For(n, threads, funcTask(fn))
}

// chunks runs fn over [0, n) in one piece, or split across cores when n is
// large.
func chunks(n int, fn func(lo, hi int)) {
	if n < parallelMin {
		fn(0, n)
		return
	}
	forRange(n, 0, func(_, lo, hi int) { fn(lo, hi) })
}
