//go:build linux

package gemm

// Tuning harness used to choose the blocking sizes, the small-problem
// threshold and the parallel split (see doc.go). The tests are skipped unless
// GEMM_TUNE is set, e.g.
//
//	GEMM_TUNE=144,256,3072 go test -run 'Tune$' -v ./kernels/gemm   # mc,kc,nc
//	GEMM_TUNE=x go test -run 'TuneSmall|TunePar|TuneWake' -v ./kernels/gemm
//
// Single-thread rates are per second of thread CPU time (RUSAGE_THREAD), which
// is far less sensitive than wall time to other processes on a shared machine.

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuGFLOPS runs f on a locked thread and returns GFLOP/s per thread CPU
// second, the best of reps.
func cpuGFLOPS(flops float64, reps int, f func()) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
	best := 0.0
	for r := 0; r < reps; r++ {
		n := 0
		t0 := threadCPU()
		for batch := 1; ; batch *= 2 {
			for i := 0; i < batch; i++ {
				f()
			}
			n += batch
			if d := threadCPU() - t0; d > 150*time.Millisecond {
				g := flops * float64(n) / d.Seconds() / 1e9
				best = max(best, g)
				break
			}
		}
	}
	return best
}

func TestTune(t *testing.T) {
	spec := os.Getenv("GEMM_TUNE")
	if spec == "" {
		t.Skip("set GEMM_TUNE")
	}
	var mc, kc, nc int
	fmt.Sscanf(spec, "%d,%d,%d", &mc, &kc, &nc)
	kn := *config32.kern
	if mc > 0 {
		kn.mc, kn.kc, kn.nc = mc, kc, nc
	}
	cfg := config32
	cfg.kern = &kn
	var out []string
	for _, s := range benchShapes {
		if float64(s.m)*float64(s.n)*float64(s.k) > 1<<31 && os.Getenv("GEMM_BIG") == "" {
			continue
		}
		a, lda, b, ldb, c := s.operands()
		g := cpuGFLOPS(2*float64(s.m)*float64(s.n)*float64(s.k), 3, func() {
			gemm(&cfg, false, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
		})
		out = append(out, fmt.Sprintf("%s=%.1f", s.name, g))
	}
	t.Logf("mc=%d kc=%d nc=%d: %s", kn.mc, kn.kc, kn.nc, strings.Join(out, " "))
}

func TestTuneSmall(t *testing.T) {
	if os.Getenv("GEMM_TUNE") == "" {
		t.Skip("set GEMM_TUNE")
	}
	big := int(^uint(0) >> 1)
	for _, n := range []int{2, 4, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64} {
		for _, tr := range transposes {
			s := benchShape{"", tr[0], tr[1], n, n, n}
			a, lda, b, ldb, c := s.operands()
			var res []string
			for _, small := range []int{0, big} {
				cfg := config32
				cfg.small = small
				g := cpuGFLOPS(2*float64(n*n*n), 3, func() {
					gemm(&cfg, false, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
				})
				res = append(res, fmt.Sprintf("%.2f", g))
			}
			t.Logf("n=%d tA=%t tB=%t packed %s naive %s", n, tr[0], tr[1], res[0], res[1])
		}
	}
}

func wallGFLOPS(flops float64, reps int, f func()) float64 {
	f()
	best := 0.0
	for r := 0; r < reps; r++ {
		n := 0
		t0 := time.Now()
		for batch := 1; ; batch *= 2 {
			for i := 0; i < batch; i++ {
				f()
			}
			n += batch
			if d := time.Since(t0); d > 100*time.Millisecond {
				best = max(best, flops*float64(n)/d.Seconds()/1e9)
				break
			}
		}
	}
	return best
}

func TestTunePar(t *testing.T) {
	if os.Getenv("GEMM_TUNE") == "" {
		t.Skip("set GEMM_TUNE")
	}
	for _, s := range []benchShape{
		{"", false, true, 32, 32, 64}, {"", false, true, 48, 48, 96}, {"", false, true, 64, 64, 64},
		{"", false, true, 64, 64, 128}, {"", false, false, 64, 128, 128}, {"", false, false, 128, 128, 128},
		{"", false, false, 64, 256, 1536}, {"", false, false, 256, 256, 256},
	} {
		a, lda, b, ldb, c := s.operands()
		var res []string
		for _, procs := range []int{1, 2} {
			cfg := config32
			cfg.grain = 1
			cfg.procs = procs
			g := wallGFLOPS(2*float64(s.m*s.n*s.k), 5, func() {
				gemm(&cfg, true, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
			})
			res = append(res, fmt.Sprintf("%.1f", g))
		}
		t.Logf("%dx%dx%d work=%d: 1 thread %s, 2 threads %s", s.m, s.n, s.k, s.m*s.n*s.k, res[0], res[1])
	}
}

func TestTuneWake(t *testing.T) {
	if os.Getenv("GEMM_TUNE") == "" {
		t.Skip("set GEMM_TUNE")
	}
	for _, yield := range []bool{false, true} {
		var ds []time.Duration
		for rep := 0; rep < 20; rep++ {
			time.Sleep(2 * time.Millisecond)
			t0 := time.Now()
			var started atomic.Int64
			ch := make(chan time.Duration, 1)
			go func() {
				ch <- time.Since(t0)
				started.Store(1)
				for time.Since(t0) < 600*time.Microsecond {
				}
			}()
			if yield {
				runtime.Gosched()
			}
			resumed := time.Since(t0)
			// Both goroutines compute; the measured latency is when both
			// are running, capped by the 500 µs of work.
			for time.Since(t0) < 500*time.Microsecond {
			}
			ds = append(ds, max(resumed, <-ch).Round(time.Microsecond))
		}
		t.Logf("goroutine start latency while the caller computes (Gosched %t): %v", yield, ds)
	}
}

// TestTuneGrain compares Sgemm (GOMAXPROCS goroutines, forced to split) with
// SgemmSerial on mid-sized products, by the median wall time of alternating
// calls.
func TestTuneGrain(t *testing.T) {
	if os.Getenv("GEMM_TUNE") == "" {
		t.Skip("set GEMM_TUNE")
	}
	for _, s := range []benchShape{
		{"", false, true, 64, 64, 128}, {"", false, false, 128, 128, 128}, {"", false, true, 128, 256, 256},
		{"", false, false, 256, 256, 256}, {"", false, false, 64, 256, 1536}, {"", false, true, 128, 256, 768},
		{"", false, false, 256, 256, 512}, {"", false, false, 384, 384, 384}, {"", false, false, 512, 512, 512},
	} {
		a, lda, b, ldb, c := s.operands()
		par := config32
		par.grain = 1
		var dp, ds []time.Duration
		for rep := 0; rep < 41; rep++ {
			t0 := time.Now()
			gemm(&par, true, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
			t1 := time.Now()
			gemm(&config32, false, s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 0, c, s.n)
			dp, ds = append(dp, t1.Sub(t0)), append(ds, time.Since(t1))
		}
		slices.Sort(dp)
		slices.Sort(ds)
		f := 2 * float64(s.m*s.n*s.k) / 1e9
		t.Logf("%dx%dx%d (m*n*k = %.1fM): serial %.1f, parallel %.1f GFLOP/s (medians)",
			s.m, s.n, s.k, float64(s.m*s.n*s.k)/1e6, f/ds[20].Seconds(), f/dp[20].Seconds())
	}
}
