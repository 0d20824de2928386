//go:build gpu || gpuemu

package graphexec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/graph"
)

// fakeTimer is a measurer with made-up timings: it runs the call (so the
// kernels run and the results stay right) and returns ms[path][pass],
// counting the calls.
type fakeTimer struct {
	mu    sync.Mutex
	ms    map[AttentionPath]map[string]float64
	calls map[string]int // "path pass" -> timed calls
}

func newFakeTimer(fusedFwd, fusedBwd, matFwd, matBwd float64) *fakeTimer {
	return &fakeTimer{
		ms: map[AttentionPath]map[string]float64{
			AttentionFused:        {"forward": fusedFwd, "backward": fusedBwd},
			AttentionMaterialized: {"forward": matFwd, "backward": matBwd},
		},
		calls: map[string]int{},
	}
}

func (f *fakeTimer) measure(path AttentionPath, pass string, run func() error) (float64, error) {
	if err := run(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[string(path)+" "+pass]++
	return f.ms[path][pass], nil
}

func (f *fakeTimer) total() int {
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// measuredModel builds the tiny model's training graph (or, train false,
// its inference graph) on res and runs it twice; it returns the machine and
// whether the device's loss (training) is within f32Tol of the CPU's.
func measuredModel(t *testing.T, res *Resident, train bool) *Machine {
	t.Helper()
	cfg := tinyConfig()
	const B, L, M = 2, 24, 6
	rng := rand.New(rand.NewPCG(5, 5))
	p := gau.InitParams(cfg, tensor.Float32, rng)
	pol, err := cfg.Policy("")
	must(t, err)
	opt := gau.Options{Shape: gau.Shape{B: B, L: L, M: M}, Policy: pol}
	if train {
		opt.Train, opt.Loss, opt.Grad = true, true, true
	}
	lm, dm := buildBoth(t, res, cfg, p, opt)
	bt := tinyBatch(rng, cfg, B, L, M, false)
	for range 2 {
		must(t, dm.Run(bt))
		must(t, dm.M.Check())
	}
	if train {
		must(t, lm.Run(bt))
		want, err := lm.LossValue()
		must(t, err)
		got, err := dm.LossValue()
		must(t, err)
		if e := math.Abs(got-want) / math.Abs(want); !(e < f32Tol) {
			t.Errorf("loss %v, CPU %v (relative error %.2g)", got, want, e)
		}
	}
	return dm.M
}

// logLines collects a Resident's log.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) String() string { return strings.Join(l.lines, "\n") }

// TestAttentionMeasured checks the choice by measurement with fake
// timings on the emulator: the fastest path wins, per key (a training
// graph's forward and backward summed, so both ops of a layer take one
// path); each eligible path is timed measureRuns times per pass, once per
// key (not again at the second run, nor for the second layer); the choice
// and its timings are logged and reported by AttentionChoices; the device
// still matches the CPU.
func TestAttentionMeasured(t *testing.T) {
	d := testDevice(t)
	for _, c := range []struct {
		name           string
		train          bool
		fake           *fakeTimer
		want           AttentionPath
		wantMs         map[AttentionPath]float64
		wantTimedCalls int
	}{
		// Training: fused 1+3 = 4 ms, materialised 2+1.5 = 3.5 ms, though the
		// fused forward alone is faster.
		{"train: materialized by forward + backward", true, newFakeTimer(1, 3, 2, 1.5), AttentionMaterialized,
			map[AttentionPath]float64{AttentionFused: 4, AttentionMaterialized: 3.5}, 4 * measureRuns},
		{"train: fused", true, newFakeTimer(1, 2, 1, 3), AttentionFused,
			map[AttentionPath]float64{AttentionFused: 3, AttentionMaterialized: 4}, 4 * measureRuns},
		{"inference: the forward alone", false, newFakeTimer(1, 100, 2, 0), AttentionFused,
			map[AttentionPath]float64{AttentionFused: 1, AttentionMaterialized: 2}, 2 * measureRuns},
		{"inference: materialized", false, newFakeTimer(3, 0, 2, 0), AttentionMaterialized,
			map[AttentionPath]float64{AttentionFused: 3, AttentionMaterialized: 2}, 2 * measureRuns},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := NewResident(d)
			t.Cleanup(func() { res.Close() })
			var log logLines
			res.measure, res.Logf = c.fake.measure, log.logf
			m := measuredModel(t, res, c.train)
			if n := c.fake.total(); n != c.wantTimedCalls {
				t.Errorf("%d timed calls (%v), want %d: each path and pass measureRuns times, once per key", n, c.fake.calls, c.wantTimedCalls)
			}
			ch := m.AttentionChoices()
			if want := 2; c.train && len(ch) != 2*want || !c.train && len(ch) != want {
				t.Fatalf("%d attention ops", len(ch))
			}
			for _, x := range ch {
				if x.Path != c.want {
					t.Errorf("%s: %s (%s), want %s", x.Op, x.Path, x.Reason, c.want)
				}
				if fmt.Sprint(x.Timings) != fmt.Sprint(c.wantMs) {
					t.Errorf("%s: timings %v, want %v", x.Op, x.Timings, c.wantMs)
				}
				if x.Path == AttentionMaterialized && (x.Group < 1 || x.Workspace <= 0) {
					t.Errorf("%s: materialized with group %d, workspace %d", x.Op, x.Group, x.Workspace)
				}
			}
			if len(log.lines) != 1 || !strings.Contains(log.lines[0], "measured") || !strings.Contains(log.lines[0], string(c.want)) {
				t.Errorf("log: %q, want one line with the measured choice", log.lines)
			}
		})
	}
}

// TestAttentionMeasuredCache: the choice goes to the cache file; a new
// Resident (another process) with the same file takes it from there without
// timing anything; a forced path times nothing; a corrupt file is reported
// and replaced; a budget no sequence fits leaves the fused path alone to
// time.
func TestAttentionMeasuredCache(t *testing.T) {
	d := testDevice(t)
	file := filepath.Join(t.TempDir(), "paths.json")

	res := NewResident(d)
	t.Cleanup(func() { res.Close() })
	fake := newFakeTimer(1, 3, 2, 1.5)
	res.measure, res.AttentionCache, res.Logf = fake.measure, file, (&logLines{}).logf
	measuredModel(t, res, true)
	b, err := os.ReadFile(file)
	must(t, err)
	if !strings.Contains(string(b), `"path": "materialized"`) || !strings.Contains(string(b), "|train|f32|") {
		t.Errorf("cache file:\n%s", b)
	}

	// Another Resident reads the file: nothing is timed.
	res2 := NewResident(d)
	t.Cleanup(func() { res2.Close() })
	var log2 logLines
	never := newFakeTimer(0, 0, 0, 0)
	res2.measure, res2.Logf = never.measure, log2.logf
	t.Setenv(AttentionCacheEnv, file) // the environment's file
	m := measuredModel(t, res2, true)
	if never.total() != 0 {
		t.Errorf("%v timed with the choice in the cache file", never.calls)
	}
	for _, x := range m.AttentionChoices() {
		if x.Path != AttentionMaterialized || !strings.HasPrefix(x.Reason, "cached") {
			t.Errorf("%s: %s (%s), want materialized from the cache", x.Op, x.Path, x.Reason)
		}
	}
	if !strings.Contains(log2.String(), "cached") {
		t.Errorf("log: %s", log2.String())
	}

	// Forced: nothing timed.
	res3 := NewResident(d)
	t.Cleanup(func() { res3.Close() })
	res3.measure, res3.Attention = never.measure, AttentionFused
	for _, x := range measuredModel(t, res3, true).AttentionChoices() {
		if x.Path != AttentionFused || x.Timings != nil {
			t.Errorf("forced: %s: %s (%s)", x.Op, x.Path, x.Reason)
		}
	}
	if never.total() != 0 {
		t.Errorf("forced path: %v timed", never.calls)
	}

	// A corrupt file: reported, then rewritten with the new measurement.
	bad := filepath.Join(t.TempDir(), "bad.json")
	must(t, os.WriteFile(bad, []byte("{not json"), 0o644))
	res4 := NewResident(d)
	t.Cleanup(func() { res4.Close() })
	var log4 logLines
	fake4 := newFakeTimer(1, 1, 5, 5)
	res4.measure, res4.AttentionCache, res4.Logf = fake4.measure, bad, log4.logf
	measuredModel(t, res4, false)
	if !strings.Contains(log4.String(), "ignored") {
		t.Errorf("the corrupt cache was not reported: %s", log4.String())
	}
	if b, err := os.ReadFile(bad); err != nil || !strings.Contains(string(b), `"path": "fused"`) {
		t.Errorf("the corrupt cache was not rewritten: %s (%v)", b, err)
	}

	// A budget no sequence fits: only the fused path is eligible.
	res5 := NewResident(d)
	t.Cleanup(func() { res5.Close() })
	fake5 := newFakeTimer(9, 9, 1, 1)
	res5.measure, res5.AttentionBudget, res5.Logf = fake5.measure, 1024, (&logLines{}).logf
	for _, x := range measuredModel(t, res5, true).AttentionChoices() {
		if x.Path != AttentionFused || len(x.Timings) != 1 {
			t.Errorf("budget of 1 KiB: %s: %s (%v)", x.Op, x.Path, x.Timings)
		}
	}
	if fake5.calls["materialized forward"] != 0 {
		t.Errorf("the materialised path was timed though it does not fit: %v", fake5.calls)
	}
}

// TestPaddedRows: in the tiny model's training graph (E = 24) every
// attention output and its gradient get rows of gpu.OutStrideFor(24) = 32
// elements on the device (the model still matches the CPU:
// TestModelMatchesCPU); asked for as an output, an attention output stays
// dense, and downloading a padded value is refused.
func TestPaddedRows(t *testing.T) {
	d := testDevice(t)
	cfg := tinyConfig()
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 1)))
	pol, err := cfg.Policy("")
	must(t, err)
	lm, err := gau.Build(cfg, p, gau.Options{Shape: gau.Shape{B: 2, L: 24, M: 6}, Policy: pol, Train: true, Loss: true, Grad: true})
	must(t, err)
	res := NewResident(d)
	t.Cleanup(func() { res.Close() })
	m, err := New(res, lm.Graph, lm.Outputs()...)
	must(t, err)
	t.Cleanup(func() { m.Close() })
	want := gpu.OutStrideFor(cfg.IntermediateSize)
	var attnOut *G.Node
	fwd, grads := 0, 0
	for _, s := range m.Plan().Steps {
		switch s.Node.Op().(type) {
		case graph.AttentionOp:
			fwd++
			attnOut = s.Node
			if m.stride[s.Node] != want {
				t.Errorf("%v: row stride %d, want %d", s.Node, m.stride[s.Node], want)
			}
		case graph.AttentionGradOp:
			grads++
			if m.stride[s.Args[7]] != want {
				t.Errorf("%v: its dout has row stride %d, want %d", s.Node, m.stride[s.Args[7]], want)
			}
		}
	}
	if fwd == 0 || grads == 0 {
		t.Fatalf("%d attention ops, %d gradients", fwd, grads)
	}
	if err := m.Download(attnOut, make([]float32, attnOut.Shape().TotalSize())); err == nil {
		t.Error("a padded value was downloaded")
	}
	m2, err := New(res, lm.Graph, append(lm.Outputs(), attnOut)...)
	must(t, err)
	t.Cleanup(func() { m2.Close() })
	if s, ok := m2.stride[attnOut]; ok {
		t.Errorf("an output attention value has row stride %d", s)
	}
}
