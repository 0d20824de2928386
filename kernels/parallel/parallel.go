// Package parallel runs the kernels' loops on a team of long-lived worker
// goroutines, without allocating and without waiting for a new goroutine
// to be scheduled.
//
// A goroutine started with a go statement may begin running long after it
// is created: on a 2-vCPU virtual machine 0.1-0.6 ms, several ms when the
// other vCPU was idle (docs/benchmarks.md), which is more than many of a
// small model's kernels take in all. The team's helpers are started once
// and, between loops, spin on an atomic flag for a short while (Spin)
// before they park, as OpenMP's threads do; a loop started while they spin
// begins on every core within about a microsecond. Each loop also
// allocated a closure and a goroutine; here a loop allocates nothing once
// its Job has warmed up.
//
// The team is process-wide, like the Go scheduler it sits on: one loop
// runs on it at a time. A loop started while another is running (from
// another goroutine, or from inside a loop body) runs on its caller alone,
// with the same worker numbers and partition, so its results do not
// depend on whether it ran in parallel (see For).
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Task is the body of a loop.
type Task interface {
	// Run processes the items [lo, hi) as worker w. A worker's calls
	// never overlap, so Run may use per-worker scratch indexed by w.
	Run(w, lo, hi int)
}

// Spin is how long an idle helper polls for the next loop before it
// parks, and how long a caller polls for its helpers to finish before it
// parks. Loops of a training step follow each other within microseconds;
// a helper that parks takes tens of microseconds or more to wake.
const Spin = 200 * time.Microsecond

// Workers returns the number of workers of a loop asked for threads
// workers: threads, or runtime.GOMAXPROCS when threads <= 0. (More workers
// than GOMAXPROCS share the processors; the partition, and so the results
// of a static loop, are those of threads workers either way.)
func Workers(threads int) int {
	if threads <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return threads
}

// For runs t.Run(w, lo, hi) on the k = min(Workers(threads), n) chunks
// [w·n/k, (w+1)·n/k) of [0, n), chunk w as worker w: a static partition,
// so per-worker partial results are the same from run to run. (The calls
// may run on any goroutine: the caller runs a chunk whose helper has not
// started it when its own is done, still as worker w.) It returns when
// every chunk is done.
func For(n, threads int, t Task) {
	k := min(Workers(threads), n)
	if k <= 1 {
		if n > 0 {
			t.Run(0, 0, n)
		}
		return
	}
	if !theTeam.run(t, n, k, 0) {
		for w := 0; w < k; w++ {
			t.Run(w, w*n/k, (w+1)*n/k)
		}
	}
}

// Each runs t.Run(w, lo, hi) over [0, n) in pieces of grain items (the
// last may be shorter), which up to Workers(threads) workers claim in
// turn: a dynamic partition, for items whose results do not depend on
// the worker that computes them. It returns when every piece is done.
func Each(n, grain, threads int, t Task) {
	grain = max(1, grain)
	pieces := (n + grain - 1) / grain
	k := min(Workers(threads), pieces)
	if k <= 1 {
		for lo := 0; lo < n; lo += grain {
			t.Run(0, lo, min(lo+grain, n))
		}
		return
	}
	if !theTeam.run(t, n, k, grain) {
		for lo := 0; lo < n; lo += grain {
			t.Run(0, lo, min(lo+grain, n))
		}
	}
}

// team is the process's helpers and the loop they are running.
type team struct {
	mu      sync.Mutex // held by the caller of the running loop
	start   sync.Mutex // guards helpers
	helpers []*helper  // worker w+1 is helpers[w]

	// The running loop, written before the helpers are released.
	task  Task
	n, k  int
	grain int          // 0: static chunks; else dynamic pieces
	next  atomic.Int64 // the next unclaimed item (dynamic)
	// claimed[w] is set by whoever runs static chunk w: its helper, or
	// the caller when it has finished its own chunk first (a helper whose
	// core is busy with another process must not hold the loop up).
	claimed []atomic.Bool

	pending atomic.Int32  // helpers of this loop still running
	waiting atomic.Bool   // the caller parked on done
	done    chan struct{} // wakes the caller (buffered 1)
}

var theTeam = &team{done: make(chan struct{}, 1)}

// helper is one long-lived worker goroutine.
type helper struct {
	w        int
	gen      atomic.Uint64 // incremented to release the helper into a loop
	sleeping atomic.Bool
	wake     chan struct{} // buffered 1
}

// run runs a loop on k workers, the caller as worker 0; it reports false,
// having run nothing, when another loop holds the team.
func (tm *team) run(t Task, n, k, grain int) bool {
	if !tm.mu.TryLock() {
		return false
	}
	defer tm.mu.Unlock()
	hs := tm.ensure(k - 1)
	tm.task, tm.n, tm.k, tm.grain = t, n, k, grain
	tm.next.Store(0)
	for w := range tm.claimed[:k] {
		tm.claimed[w].Store(false)
	}
	tm.pending.Store(int32(k - 1))
	for _, h := range hs[:k-1] {
		h.gen.Add(1)
		if h.sleeping.Load() {
			select {
			case h.wake <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
	}
	tm.work(0)
	if grain == 0 {
		// Run the chunks whose helpers have not started them yet.
		for w := 1; w < k; w++ {
			tm.work(w)
		}
	}
	tm.wait()
	tm.task = nil
	return true
}

// ensure starts helpers until there are at least m and returns them.
func (tm *team) ensure(m int) []*helper {
	tm.start.Lock()
	defer tm.start.Unlock()
	for len(tm.helpers) < m {
		h := &helper{w: len(tm.helpers) + 1, wake: make(chan struct{}, 1)}
		tm.helpers = append(tm.helpers, h)
		go h.loop(tm)
	}
	if len(tm.claimed) < m+1 {
		tm.claimed = make([]atomic.Bool, m+1)
	}
	return tm.helpers
}

// work runs worker w's share of the current loop: static chunk w, unless
// another worker has claimed it, or dynamic pieces until none is left.
func (tm *team) work(w int) {
	t, n := tm.task, tm.n
	if tm.grain == 0 {
		if tm.claimed[w].CompareAndSwap(false, true) {
			t.Run(w, w*n/tm.k, (w+1)*n/tm.k)
		}
		return
	}
	g := int64(tm.grain)
	for {
		lo := tm.next.Add(g) - g
		if lo >= int64(n) {
			return
		}
		t.Run(w, int(lo), int(min(lo+g, int64(n))))
	}
}

// wait returns when every helper of the current loop has finished.
func (tm *team) wait() {
	if spinUntil(func() bool { return tm.pending.Load() == 0 }) {
		return
	}
	tm.waiting.Store(true)
	for tm.pending.Load() != 0 {
		<-tm.done
	}
	tm.waiting.Store(false)
	select { // drop a wake-up sent after the last check
	case <-tm.done:
	default:
	}
}

// loop is a helper's life: wait for a loop, run its share, report.
func (h *helper) loop(tm *team) {
	var seen uint64
	for {
		if !spinUntil(func() bool { return h.gen.Load() != seen }) {
			h.sleeping.Store(true)
			for h.gen.Load() == seen {
				<-h.wake
			}
			h.sleeping.Store(false)
		}
		seen = h.gen.Load()
		tm.work(h.w)
		if tm.pending.Add(-1) == 0 && tm.waiting.Load() {
			select {
			case tm.done <- struct{}{}:
			default:
			}
		}
	}
}

// spinUntil polls cond for up to Spin and reports whether it held.
func spinUntil(cond func() bool) bool {
	var start time.Time
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		if i&63 == 63 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > Spin {
				return false
			}
			runtime.Gosched()
		}
	}
}
