package cpu

import "sync"

// arena hands out slices of one reusable buffer. Reset makes its memory
// available again; when a run needs more than the buffer holds, a larger
// buffer replaces it (slices already handed out stay valid), so after the
// first call of a given size no allocation happens.
type arena[T any] struct {
	buf  []T
	off  int
	high int // largest total requested since the buffer was sized
}

func (a *arena[T]) reset() {
	if a.high > len(a.buf) {
		a.buf = make([]T, a.high)
	}
	a.off, a.high = 0, 0
}

// alloc returns n elements, zeroed when zero is set.
func (a *arena[T]) alloc(n int, zero bool) []T {
	a.high += n
	if a.off+n > len(a.buf) {
		// Too small this time: fall back to a fresh slice; reset will
		// size the buffer for the whole run next time.
		return make([]T, n)
	}
	s := a.buf[a.off : a.off+n : a.off+n]
	a.off += n
	if zero {
		clear(s)
	}
	return s
}

// workspace holds the temporary memory of one attention call.
type workspace[T Float] struct {
	f       arena[T]
	ints    arena[int]
	bools   arena[bool]
	scratch []*blockScratch[T]
	rope    ropeCache[T]

	// The state of the running call, kept here (on the heap, reused) so
	// that the parallel loops' tasks allocate nothing.
	att      Attention[T] // the call's arguments
	prep     prep[T]
	tmp      []T // prepare's per-worker q and k rows
	ones     []T
	errs     []error
	qgrads   []qgrads[T]
	prepTask prepTask[T]
	fwd      fwdTask[T]
	bwd      bwdTask[T]
}

// clearAttention drops the call's references to its arguments and
// buffers, so that a workspace kept for the next call holds none.
func (w *workspace[T]) clearAttention() {
	w.att = Attention[T]{}
	w.prep = prep[T]{}
	w.fwd = fwdTask[T]{}
	clear(w.errs)
	clear(w.qgrads)
}

// onesFor returns n ones.
func (w *workspace[T]) onesFor(n int) []T {
	if len(w.ones) < n {
		w.ones = make([]T, n)
		for i := range w.ones {
			w.ones[i] = 1
		}
	}
	return w.ones[:n]
}

// errsFor returns one cleared error slot per worker.
func (w *workspace[T]) errsFor(threads int) []error {
	if cap(w.errs) < threads {
		w.errs = make([]error, threads)
	}
	w.errs = w.errs[:threads]
	clear(w.errs)
	return w.errs
}

// qgradsFor returns one query-gradient slot per worker.
func (w *workspace[T]) qgradsFor(threads int) []qgrads[T] {
	if cap(w.qgrads) < threads {
		w.qgrads = make([]qgrads[T], threads)
	}
	w.qgrads = w.qgrads[:threads]
	return w.qgrads
}

// Workspaces are recycled across calls (one per concurrently running
// attention call; training runs the layers one after another, so a single
// workspace serves a whole step).
var (
	workspaces32 = sync.Pool{New: func() any { return new(workspace[float32]) }}
	workspaces64 = sync.Pool{New: func() any { return new(workspace[float64]) }}
)

// Workspace keeps the temporary memory of the attention calls of one layer
// from call to call. The sync.Pool fallback used without one may drop its
// contents at every garbage collection; a Workspace held by the graph op
// does not. A Workspace must not be used by two calls at once.
type Workspace struct {
	mu  sync.Mutex
	w32 *workspace[float32]
	w64 *workspace[float64]
}

// get returns the workspace for T, from ws when given, else from the pool.
func getWorkspace[T Float](ws *Workspace) *workspace[T] {
	var w any
	switch {
	case ws != nil:
		ws.mu.Lock()
		if is32[T]() {
			if ws.w32 == nil {
				ws.w32 = new(workspace[float32])
			}
			w = ws.w32
		} else {
			if ws.w64 == nil {
				ws.w64 = new(workspace[float64])
			}
			w = ws.w64
		}
	case is32[T]():
		w = workspaces32.Get()
	default:
		w = workspaces64.Get()
	}
	wk := w.(*workspace[T])
	wk.f.reset()
	wk.ints.reset()
	wk.bools.reset()
	return wk
}

func putWorkspace[T Float](ws *Workspace, wk *workspace[T]) {
	switch {
	case ws != nil:
		ws.mu.Unlock()
	case is32[T]():
		workspaces32.Put(wk)
	default:
		workspaces64.Put(wk)
	}
}

// scratchFor returns one block scratch per worker for rows of width E.
func (w *workspace[T]) scratchFor(threads, E int) []*blockScratch[T] {
	for len(w.scratch) < threads {
		w.scratch = append(w.scratch, nil)
	}
	for i := 0; i < threads; i++ {
		if w.scratch[i] == nil || len(w.scratch[i].acc) != blockQMax*E {
			w.scratch[i] = newBlockScratch[T](E)
		}
	}
	return w.scratch[:threads]
}
