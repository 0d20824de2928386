package gemm

import (
	"runtime"
	"sync"
	"time"
)

// Peak is a measured arithmetic peak of this machine: the rate of the
// package's own FMA loop, independent chains of one vector FMA instruction
// (VFMADD231PS), run on every thread at once.
type Peak struct {
	// Unit names the loop: "512-bit FMA" (AVX-512F), "256-bit FMA"
	// (AVX2+FMA) or "bf16 dot (VDPBF16PS)".
	Unit string
	// Threads is the number of goroutines, each locked to an OS thread,
	// that ran the loop at the same time.
	Threads int
	// GFLOPS is their combined rate in 10⁹ float32 operations per second
	// of wall time, an FMA counting 2 per lane (VDPBF16PS 4).
	GFLOPS float64
}

// peakLoop is one FMA loop: run executes iters iterations of flopsPerIter
// operations.
type peakLoop struct {
	unit         string
	flopsPerIter float64
	run          func(iters int)
}

// MeasurePeak runs the widest float32 FMA loop this CPU has on threads
// goroutines at once for about d and returns their combined rate; ok is
// false where the package has no such loop (no assembly kernels on this
// CPU or GOARCH).
func MeasurePeak(threads int, d time.Duration) (p Peak, ok bool) {
	loops := peakLoops()
	if len(loops) == 0 {
		return Peak{}, false
	}
	return measureLoop(loops[0], threads, d), true
}

// MeasurePeakBF16 is MeasurePeak for the VDPBF16PS loop of SgemmBF16's
// kernel; ok is false on CPUs without AVX512_BF16.
func MeasurePeakBF16(threads int, d time.Duration) (p Peak, ok bool) {
	l, ok := peakLoopBF16()
	if !ok {
		return Peak{}, false
	}
	return measureLoop(l, threads, d), true
}

// measureLoop runs l on threads locked goroutines, each for about d, and
// returns the total operations over the wall time of the slowest.
func measureLoop(l peakLoop, threads int, d time.Duration) Peak {
	threads = max(1, threads)
	const iters = 1 << 16
	l.run(iters) // warm up (and bring the vector units up to speed)
	var wg sync.WaitGroup
	start := make(chan struct{})
	counts := make([]int, threads)
	var t0 time.Time // set before start is closed
	for w := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			<-start
			for n := 0; ; n++ {
				if time.Since(t0) >= d {
					counts[w] = n
					return
				}
				l.run(iters)
			}
		}()
	}
	t0 = time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	total := 0
	for _, n := range counts {
		total += n
	}
	return Peak{Unit: l.unit, Threads: threads, GFLOPS: float64(total) * iters * l.flopsPerIter / wall.Seconds() / 1e9}
}
