package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// threadsOr returns t, or GOMAXPROCS when t <= 0.
func threadsOr(t int) int {
	if t <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return t
}

// forEach runs fn(worker, item) for item in [0, n) on up to threads
// goroutines; each worker index in [0, threads) is used by one goroutine at a
// time, so fn may use per-worker scratch space. It returns the first error.
func forEach(n, threads int, fn func(worker, item int) error) error {
	threads = min(threadsOr(threads), n)
	if threads <= 1 {
		for i := 0; i < n; i++ {
			if err := fn(0, i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(w, i); err != nil {
					errOnce.Do(func() { first = err })
					next.Store(int64(n)) // stop handing out items
					return
				}
			}
		}(w)
	}
	wg.Wait()
	return first
}

// forRange splits [0, n) into contiguous chunks, one per worker, and runs
// fn(worker, lo, hi) on each.
func forRange(n, threads int, fn func(worker, lo, hi int)) {
	threads = min(threadsOr(threads), n)
	if threads <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		lo, hi := w*n/threads, (w+1)*n/threads
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	wg.Wait()
}

// forStatic runs fn(worker, item) for item in [0, n), worker w taking the
// contiguous items [w·n/threads, (w+1)·n/threads) in order. Unlike forEach
// the assignment does not depend on timing, so per-worker accumulations
// are reproducible run to run.
func forStatic(n, threads int, fn func(worker, item int) error) error {
	threads = min(threadsOr(threads), n)
	if threads <= 1 {
		for i := 0; i < n; i++ {
			if err := fn(0, i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, threads)
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		lo, hi := w*n/threads, (w+1)*n/threads
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				if err := fn(w, i); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
