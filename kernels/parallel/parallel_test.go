package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// countTask counts how often each item is run and records which worker
// ran it.
type countTask struct {
	hits   []atomic.Int32
	worker []atomic.Int32
	maxW   atomic.Int32
}

func newCountTask(n int) *countTask {
	return &countTask{hits: make([]atomic.Int32, n), worker: make([]atomic.Int32, n)}
}

func (c *countTask) Run(w, lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
		c.worker[i].Store(int32(w))
	}
	for {
		m := c.maxW.Load()
		if int32(w) <= m || c.maxW.CompareAndSwap(m, int32(w)) {
			break
		}
	}
}

func (c *countTask) check(t *testing.T, what string) {
	t.Helper()
	for i := range c.hits {
		if h := c.hits[i].Load(); h != 1 {
			t.Fatalf("%s: item %d run %d times", what, i, h)
		}
	}
}

func TestForStaticPartition(t *testing.T) {
	for _, procs := range []int{1, 2, 3, 8} {
		old := runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 2, 5, 64, 1000} {
			for _, threads := range []int{0, 1, 2, 3, 16} {
				c := newCountTask(n)
				For(n, threads, c)
				c.check(t, "For")
				k := min(Workers(threads), n)
				for i := 0; i < n; i++ {
					// Item i belongs to the chunk w with w·n/k <= i < (w+1)·n/k.
					w := int(c.worker[i].Load())
					if i < w*n/k || i >= (w+1)*n/k {
						t.Fatalf("GOMAXPROCS %d, n %d, threads %d: item %d ran as worker %d, outside its chunk", procs, n, threads, i, w)
					}
				}
				if int(c.maxW.Load()) >= max(k, 1) {
					t.Fatalf("GOMAXPROCS %d, n %d, threads %d: worker %d used, %d workers", procs, n, threads, c.maxW.Load(), k)
				}
			}
		}
		runtime.GOMAXPROCS(old)
	}
}

func TestEachCoversItems(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		old := runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 7, 100, 1001} {
			for _, grain := range []int{0, 1, 3, 64} {
				c := newCountTask(n)
				Each(n, grain, 0, c)
				c.check(t, "Each")
				if int(c.maxW.Load()) >= max(procs, 1) {
					t.Fatalf("worker %d of %d", c.maxW.Load(), procs)
				}
			}
		}
		runtime.GOMAXPROCS(old)
	}
}

// nestTask starts a loop from inside a loop body: the inner loop runs on
// the worker alone, with the same partition.
type nestTask struct {
	inner []*countTask
}

func (nt *nestTask) Run(w, lo, hi int) {
	for i := lo; i < hi; i++ {
		For(len(nt.inner[i].hits), 0, nt.inner[i])
	}
}

func TestNestedAndConcurrentLoops(t *testing.T) {
	old := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(old)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 50; rep++ {
				nt := &nestTask{}
				for i := 0; i < 6; i++ {
					nt.inner = append(nt.inner, newCountTask(37))
				}
				For(len(nt.inner), 0, nt)
				for _, c := range nt.inner {
					for i := range c.hits {
						if c.hits[i].Load() != 1 {
							t.Errorf("nested item run %d times", c.hits[i].Load())
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

type sumArgs struct {
	x    []float64
	part []float64
}

var sumJob = Job[sumArgs]{Body: func(a *sumArgs, w, lo, hi int) {
	for _, v := range a.x[lo:hi] {
		a.part[w] += v
	}
}}

func TestJobNoAllocations(t *testing.T) {
	old := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(old)
	x := make([]float64, 4096)
	for i := range x {
		x[i] = float64(i)
	}
	part := make([]float64, 2)
	run := func() {
		clear(part)
		sumJob.For(len(x), 0, sumArgs{x: x, part: part})
	}
	run()
	if got, want := part[0]+part[1], float64(4095*4096/2); got != want {
		t.Fatalf("sum %v, want %v", got, want)
	}
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("Job.For allocates %v times per call", a)
	}
	each := func() { sumJob.Each(len(x), 512, 1, sumArgs{x: x, part: part}) }
	if a := testing.AllocsPerRun(100, each); a != 0 {
		t.Errorf("Job.Each allocates %v times per call", a)
	}
}

type nopTask struct{}

func (nopTask) Run(w, lo, hi int) {}

// BenchmarkLoopOverhead is the cost of an empty loop on every worker: the
// team against a go statement per worker and a WaitGroup.
func BenchmarkLoopOverhead(b *testing.B) {
	b.Run("team", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			For(runtime.GOMAXPROCS(0), 0, nopTask{})
		}
	})
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var wg sync.WaitGroup
			for w := 1; w < runtime.GOMAXPROCS(0); w++ {
				wg.Add(1)
				go func() { defer wg.Done() }()
			}
			wg.Wait()
		}
	})
}

// spinTask does about the same amount of arithmetic per item.
type spinTask struct{ sink []float64 }

func (s *spinTask) Run(w, lo, hi int) {
	x := 1.0
	for i := lo; i < hi; i++ {
		for j := 0; j < 100; j++ {
			x = x*0.999999 + 1e-9
		}
	}
	s.sink[w*8] += x
}

// BenchmarkLoop20us is a loop of about 20 µs of arithmetic in all, split
// over the workers: the team against a go statement per worker.
func BenchmarkLoop20us(b *testing.B) {
	const n = 64
	t := &spinTask{sink: make([]float64, 8*runtime.GOMAXPROCS(0))}
	b.Run("serial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			t.Run(0, 0, n)
		}
	})
	b.Run("team", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			For(n, 0, t)
		}
	})
	b.Run("go", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			k := runtime.GOMAXPROCS(0)
			var wg sync.WaitGroup
			for w := 1; w < k; w++ {
				wg.Add(1)
				go func() { defer wg.Done(); t.Run(w, w*n/k, (w+1)*n/k) }()
			}
			t.Run(0, 0, n/k)
			wg.Wait()
		}
	})
}

func TestFreeList(t *testing.T) {
	var l FreeList[[4]int]
	a, b := l.Get(), l.Get()
	if a == b {
		t.Fatal("two Gets returned the same value")
	}
	a[0] = 7
	l.Put(a)
	if c := l.Get(); c != a || c[0] != 7 {
		t.Fatal("Get did not return the value Put back")
	}
	l.Put(a)
	l.Put(b)
	if n := testing.AllocsPerRun(100, func() { l.Put(l.Get()) }); n != 0 {
		t.Errorf("Get and Put allocate %v times", n)
	}
}
