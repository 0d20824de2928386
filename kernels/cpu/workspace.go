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
}

// Workspaces are recycled across calls (one per concurrently running
// attention call; training runs the layers one after another, so a single
// workspace serves a whole step).
var (
	workspaces32 = sync.Pool{New: func() any { return new(workspace[float32]) }}
	workspaces64 = sync.Pool{New: func() any { return new(workspace[float64]) }}
)

func getWorkspace[T Float]() *workspace[T] {
	var w any
	if is32[T]() {
		w = workspaces32.Get()
	} else {
		w = workspaces64.Get()
	}
	ws := w.(*workspace[T])
	ws.f.reset()
	ws.ints.reset()
	ws.bools.reset()
	return ws
}

func putWorkspace[T Float](ws *workspace[T]) {
	if is32[T]() {
		workspaces32.Put(ws)
	} else {
		workspaces64.Put(ws)
	}
}

// scratchFor returns one block scratch per worker for rows of width E.
func (w *workspace[T]) scratchFor(threads, E int) []*blockScratch[T] {
	for len(w.scratch) < threads {
		w.scratch = append(w.scratch, nil)
	}
	for i := 0; i < threads; i++ {
		if w.scratch[i] == nil || len(w.scratch[i].acc) != blockQ*E {
			w.scratch[i] = newBlockScratch[T](E)
		}
	}
	return w.scratch[:threads]
}
