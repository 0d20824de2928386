package benchmark

import (
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Result is what one side reports for one case: the JSON line a child
// process prints (the Go side's Measure, or scripts/bench_torch.py).
type Result struct {
	// Case is the case's name.
	Case string `json:"case"`
	// Seconds is the median of Times, the timed runs' durations.
	Seconds float64   `json:"seconds"`
	Times   []float64 `json:"times"`
	// Warmup and Runs are the untimed and the timed runs.
	Warmup int `json:"warmup"`
	Runs   int `json:"runs"`
	// PeakRSS is the child's peak resident set in bytes (from its rusage
	// as the parent reaped it; the child's own report otherwise).
	PeakRSS int64 `json:"peak_rss_bytes"`
	// AllocsPerOp and BytesPerOp are the Go heap allocations per timed
	// run (runtime.MemStats Mallocs and TotalAlloc).
	AllocsPerOp float64 `json:"allocs_per_op,omitempty"`
	BytesPerOp  float64 `json:"bytes_per_op,omitempty"`
	// LiveHeap is the Go heap still in use after the timed runs and a
	// collection, with the case's model alive: weights, optimizer state
	// and the executor's pooled buffers.
	LiveHeap int64 `json:"live_heap_bytes,omitempty"`
	// Vocab is the vocabulary size the Go model was built with.
	Vocab int `json:"vocab,omitempty"`
	// Threads is the threads the side ran on; Torch, PyTorch's version.
	Threads int    `json:"threads,omitempty"`
	Torch   string `json:"torch,omitempty"`
	// OtherCores is the average number of cores other processes kept busy
	// while the child ran (-1: unknown); filled in by RunProcess.
	OtherCores float64 `json:"-"`
	// Wall is the child's whole run, setup included; filled in by
	// RunProcess.
	Wall time.Duration `json:"-"`
}

// Measure prepares c and times it in this process: warmup untimed runs
// (negative: the case's own count), then runs timed ones (0: the case's
// own count). onTimed, when not nil, is called with the prepared case
// before its timed runs (cmd/bench -ops attaches a profile there). The
// result's PeakRSS and Threads are left to the caller.
func Measure(c Case, warmup, runs int, onTimed func(*Prepared)) (*Result, error) {
	if warmup < 0 {
		warmup = c.Warmup
	}
	if runs <= 0 {
		runs = c.Runs
	}
	p, err := prepare(c)
	if err != nil {
		return nil, err
	}
	for range warmup {
		if err := p.Step(); err != nil {
			return nil, err
		}
	}
	if onTimed != nil {
		onTimed(p)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	// Times has its room before the first run: the loop allocates nothing
	// of its own, so that the allocation columns are the case's.
	res := &Result{Case: c.Name, Warmup: warmup, Runs: runs, Vocab: p.Vocab, Times: make([]float64, 0, runs)}
	for range runs {
		t0 := time.Now()
		if err := p.Step(); err != nil {
			return nil, err
		}
		res.Times = append(res.Times, time.Since(t0).Seconds())
	}
	runtime.ReadMemStats(&after)
	res.Seconds = median(res.Times)
	res.AllocsPerOp = float64(after.Mallocs-before.Mallocs) / float64(runs)
	res.BytesPerOp = float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.LiveHeap = int64(after.HeapAlloc)
	runtime.KeepAlive(p)
	return res, nil
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// SelfPeakRSS reads this process's peak resident set (VmHWM) in bytes; 0
// where /proc is not available.
func SelfPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return vmHWM(string(b))
}

// vmHWM reads the VmHWM line of a /proc/PID/status text, in bytes; 0
// without one.
func vmHWM(status string) int64 {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
