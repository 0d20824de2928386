package parallel

import "sync"

// Job is a loop body with arguments of type A, for loops run through For
// and Each without allocating: a Task that another goroutine runs must live
// on the heap, so Job keeps the argument blocks of finished calls and
// reuses them. Declare one per loop, with Body a plain function:
//
//	var swishJob = parallel.Job[swishArgs]{Body: func(a *swishArgs, w, lo, hi int) { ... }}
//
//	swishJob.For(len(x), 0, swishArgs{y, x})
//
// A Job may be used by several goroutines at once.
type Job[A any] struct {
	// Body processes items [lo, hi) as worker w with the call's arguments.
	Body func(a *A, w, lo, hi int)

	mu   sync.Mutex
	free []*jobTask[A]
}

type jobTask[A any] struct {
	args A
	body func(a *A, w, lo, hi int)
}

func (t *jobTask[A]) Run(w, lo, hi int) { t.body(&t.args, w, lo, hi) }

func (j *Job[A]) get(args *A) *jobTask[A] {
	j.mu.Lock()
	var t *jobTask[A]
	if n := len(j.free); n > 0 {
		t, j.free = j.free[n-1], j.free[:n-1]
	}
	j.mu.Unlock()
	if t == nil {
		t = &jobTask[A]{body: j.Body}
	}
	t.args = *args
	return t
}

func (j *Job[A]) put(t *jobTask[A]) {
	var zero A
	t.args = zero // keep no references to the caller's data
	j.mu.Lock()
	j.free = append(j.free, t)
	j.mu.Unlock()
}

// For runs the body with args over [0, n) as For does.
func (j *Job[A]) For(n, threads int, args A) {
	t := j.get(&args)
	For(n, threads, t)
	j.put(t)
}

// Each runs the body with args over [0, n) as Each does.
func (j *Job[A]) Each(n, grain, threads int, args A) {
	t := j.get(&args)
	Each(n, grain, threads, t)
	j.put(t)
}

// FreeList keeps values of type T for reuse, for buffers that a loop's
// tasks need beside their arguments: Get returns a kept value or a new
// zero one, Put keeps one. Unlike a sync.Pool it is never emptied (by the
// garbage collector or otherwise), so a program that Puts back what it
// Gets allocates nothing in its steady state; it holds at most as many
// values as were in use at once.
type FreeList[T any] struct {
	mu   sync.Mutex
	free []*T
}

// Get returns a value from the list, or a new one.
func (l *FreeList[T]) Get() *T {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		v := l.free[n-1]
		l.free = l.free[:n-1]
		return v
	}
	return new(T)
}

// Put keeps v for a later Get.
func (l *FreeList[T]) Put(v *T) {
	l.mu.Lock()
	l.free = append(l.free, v)
	l.mu.Unlock()
}
