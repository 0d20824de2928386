//go:build gpu || gpuemu

package graphexec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/graph"
)

// Choosing the attention path by measurement, as cuDNN's benchmark mode
// chooses a convolution algorithm: with -attention auto, the first time a
// machine runs an attention op of a shape it has not seen, it runs every
// eligible path on the op's own inputs, a warm-up call and measureRuns
// timed calls each (CUDA events), and keeps the fastest for that key
// (attentionKey: the GPU, the shape, what of the policy changes the work,
// training or inference, the precision). A training graph's forward op
// times each path's forward and backward together (the backward on stand-in
// buffers), so the forward and backward ops of a layer take one path and
// one rounding. The choice lives in the Resident (shared by its machines)
// and, when Resident.AttentionCache names a file, in that file, read once
// and rewritten after each new measurement. Where nothing can be timed (the
// emulator), the rule of attentionPath decides, as before.

// AttentionCacheEnv names the file of measured choices Resident uses when
// its AttentionCache is empty: GAUALPHA_ATTENTION_CACHE=/path/file.json.
const AttentionCacheEnv = "GAUALPHA_ATTENTION_CACHE"

// measureRuns is the number of timed calls per path (after one warm-up);
// the median is kept.
const measureRuns = 3

// Measured is one measured choice.
type Measured struct {
	// Path is the fastest path.
	Path AttentionPath `json:"path"`
	// Ms is each path's median milliseconds (a training graph's forward
	// and backward together).
	Ms map[AttentionPath]float64 `json:"ms"`
}

// pathCache holds the measured choices of a Resident, and their file.
type pathCache struct {
	mu      sync.Mutex
	file    string
	loaded  bool
	entries map[string]Measured
}

// cacheFile is the JSON form of the cache file.
type cacheFile struct {
	Version int                 `json:"version"`
	Entries map[string]Measured `json:"entries"`
}

// get returns the choice stored under key, reading the file the first
// time. A file that cannot be read or parsed is reported and then ignored
// (it is rewritten at the next measurement).
func (c *pathCache) get(key string, logf func(string, ...any)) (Measured, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded {
		c.loaded = true
		if c.entries == nil {
			c.entries = map[string]Measured{}
		}
		if c.file != "" {
			if err := c.load(); err != nil && !errors.Is(err, fs.ErrNotExist) {
				logf("graphexec: attention path cache %s ignored: %v", c.file, err)
			}
		}
	}
	m, ok := c.entries[key]
	return m, ok
}

func (c *pathCache) load() error {
	b, err := os.ReadFile(c.file)
	if err != nil {
		return err
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if f.Version != 1 {
		return fmt.Errorf("version %d, want 1", f.Version)
	}
	for k, m := range f.Entries {
		switch m.Path {
		case AttentionFused, AttentionMaterialized:
			c.entries[k] = m
		}
	}
	return nil
}

// put stores a choice and rewrites the file (atomically: a temporary file
// renamed over it).
func (c *pathCache) put(key string, m Measured) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]Measured{}
	}
	c.entries[key] = m
	if c.file == "" {
		return nil
	}
	b, err := json.MarshalIndent(cacheFile{Version: 1, Entries: c.entries}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.file), ".attention-cache-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), c.file)
}

// attentionKey is what a measured choice holds for: the GPU, the op's
// shape, the parts of the policy that change the work (the method, its
// window and sinks, a far window's three rotations), dropout, whether the
// graph trains (forward and backward) or infers (forward), the precision,
// and the group of sequences the materialised path holds at once.
func attentionKey(info gpu.Info, op graph.AttentionOp, train bool, bf16, fusedBF16 bool, group int) string {
	pol := op.Policy
	var b strings.Builder
	fmt.Fprintf(&b, "%s (sm_%d%d)|B=%d L=%d E=%d D=%d|%s", info.Name, info.Major, info.Minor, op.B, op.L, op.E, op.D, pol.Method)
	if windowRemovesPairs(pol, op.L) {
		fmt.Fprintf(&b, " window=%d n0=%d sinks=%d", pol.Window, pol.TrainLen, pol.Sinks)
	}
	if w, ok := pol.FarWindow(); ok && op.L-1 >= w {
		fmt.Fprintf(&b, " far=%d", w)
	}
	if op.Dropout > 0 {
		b.WriteString(" dropout")
	}
	if op.Gated {
		b.WriteString(" gated")
	}
	if train {
		b.WriteString("|train")
	} else {
		b.WriteString("|infer")
	}
	switch {
	case fusedBF16:
		b.WriteString("|bf16 (bf16 X)")
	case bf16:
		b.WriteString("|bf16")
	default:
		b.WriteString("|f32")
	}
	fmt.Fprintf(&b, "|group=%d", group)
	return b.String()
}

// pathSet is the measured choice of one key within a machine, shared by
// the attention ops of that key (the layers' forward ops and, training,
// their backward ops): the rule's choice, the materialised path's group,
// the runs of one backward op of the key (to time a training graph's
// backward from its forward op), and what was chosen.
type pathSet struct {
	key         string
	rule        AttentionChoice // attentionPath's choice: used when nothing can be timed
	eligibleMat bool            // a group of sequences fits the budget on the materialised path
	bwd         map[AttentionPath]runFn
	bwdSize     int           // bytes of the backward's output (dx), for the stand-in
	chosen      AttentionPath // "" until decided
	entries     []pathEntry
}

// pathEntry is one attention op of a pathSet: its place in
// Machine.attention and its materialised path's group and workspace.
type pathEntry struct {
	index int
	mat   AttentionChoice
}

// eligible lists the paths in a fixed order.
func (ps *pathSet) eligible() []AttentionPath {
	out := []AttentionPath{AttentionFused}
	if ps.eligibleMat {
		out = append(out, AttentionMaterialized)
	}
	return out
}

// measurer times one call: it runs run and returns its milliseconds.
// Resident.measure replaces it in tests (fake timings).
type measurer func(path AttentionPath, pass string, run func() error) (float64, error)

// timeOnDevice is the measurer of a real device: CUDA events around run.
func timeOnDevice(dev *gpu.Device) measurer {
	return func(_ AttentionPath, _ string, run func() error) (float64, error) {
		tm, err := dev.NewTimer()
		if err != nil {
			return 0, err
		}
		defer tm.Close()
		if err := tm.Start(); err != nil {
			return 0, err
		}
		if err := run(); err != nil {
			return 0, err
		}
		return tm.Stop()
	}
}

// releaseScratch gives back the buffers an op's calls took for themselves
// (one stream: the next user runs after them).
func (m *Machine) releaseScratch() {
	for _, p := range m.scratch {
		m.give(p)
	}
	m.scratch = m.scratch[:0]
}

// measure returns the median milliseconds of measureRuns timed calls of
// run after a warm-up call.
func (m *Machine) measure(path AttentionPath, pass string, run func() error) (float64, error) {
	if err := run(); err != nil {
		return 0, err
	}
	m.releaseScratch()
	ms := make([]float64, 0, measureRuns)
	for range measureRuns {
		t, err := m.res.measurer()(path, pass, run)
		m.releaseScratch()
		if err != nil {
			return 0, err
		}
		ms = append(ms, t)
	}
	sort.Float64s(ms)
	return ms[len(ms)/2], nil
}

// decide makes the choice of ps at its first run, by the op whose runs
// (one per eligible path) are given: from the Resident's cache if it holds
// the key, else by timing every eligible path on the op's arguments a (a
// forward op: its forward into out, and in a training graph the key's
// backward from out, standing in for the forward output and its gradient,
// into a pooled stand-in for dx; a backward op: its backward into out).
// Timing that fails leaves the rule's choice.
func (m *Machine) decide(ps *pathSet, grad bool, runs map[AttentionPath]runFn, out gpu.DevicePtr, a []gpu.DevicePtr) error {
	logf := m.res.logf()
	if c, ok := m.res.cache().get(ps.key, logf); ok && (c.Path != AttentionMaterialized || ps.eligibleMat) {
		m.settle(ps, c, "cached")
		return nil
	}
	c := Measured{Ms: map[AttentionPath]float64{}}
	for _, p := range ps.eligible() {
		var total float64
		if !grad {
			f := runs[p]
			t, err := m.measure(p, "forward", func() error { return f(m, out, a) })
			if err != nil {
				return m.unmeasured(ps, err)
			}
			total += t
		}
		b := ps.bwd[p]
		if grad {
			b = runs[p]
		}
		if b != nil {
			dx, args := out, a
			if !grad { // stand-ins: the backward's output, and out as the gradient of out
				var err error
				if dx, err = m.take(ps.bwdSize); err != nil {
					return err
				}
				args = append(append(make([]gpu.DevicePtr, 0, 8), a[:6]...), out, out)
			}
			t, err := m.measure(p, "backward", func() error { return b(m, dx, args) })
			if !grad {
				m.give(dx)
			}
			if err != nil {
				return m.unmeasured(ps, err)
			}
			total += t
		}
		c.Ms[p] = total
	}
	c.Path = AttentionFused
	for _, p := range ps.eligible() {
		if c.Ms[p] < c.Ms[c.Path] {
			c.Path = p
		}
	}
	if err := m.res.cache().put(ps.key, c); err != nil {
		logf("graphexec: attention path cache %s not written: %v", m.res.attentionCacheFile(), err)
	}
	m.settle(ps, c, "measured")
	return nil
}

// settle records the choice c in ps and in the machine's choices, and
// logs it.
func (m *Machine) settle(ps *pathSet, c Measured, how string) {
	ps.chosen = c.Path
	reason := fmt.Sprintf("%s: %s", how, formatMs(c.Ms))
	for _, e := range ps.entries {
		ch := AttentionChoice{Op: m.attention[e.index].Op, Path: AttentionFused, Reason: reason, Timings: maps.Clone(c.Ms)}
		if c.Path == AttentionMaterialized {
			ch.Path, ch.Group, ch.Workspace = AttentionMaterialized, e.mat.Group, e.mat.Workspace
		}
		m.attention[e.index] = ch
	}
	m.res.logf()("graphexec: attention %s: %s (%s)", ps.key, c.Path, reason)
}

// unmeasured falls back on the rule's choice (of the key's first op; the
// fused path where the materialised one is not eligible) when timing
// fails.
func (m *Machine) unmeasured(ps *pathSet, err error) error {
	m.releaseScratch()
	ps.chosen = ps.rule.Path
	if ps.chosen != AttentionMaterialized || !ps.eligibleMat {
		ps.chosen = AttentionFused
	}
	reason := fmt.Sprintf("the rule (%s); not measured: %v", ps.rule.Reason, err)
	for _, e := range ps.entries {
		ch := AttentionChoice{Op: m.attention[e.index].Op, Path: ps.chosen, Reason: reason}
		if ps.chosen == AttentionMaterialized {
			ch.Group, ch.Workspace = e.mat.Group, e.mat.Workspace
		}
		m.attention[e.index] = ch
	}
	m.res.logf()("graphexec: attention %s: %s by %s", ps.key, ps.chosen, reason)
	return nil
}

// formatMs writes timings as "fused 1.23 ms, materialized 0.98 ms" in a
// fixed order.
func formatMs(ms map[AttentionPath]float64) string {
	keys := slices.Sorted(maps.Keys(ms))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.3f ms", k, ms[k]))
	}
	return strings.Join(parts, ", ")
}

// measuredRun is the run of an attention op whose path is measured (runs:
// the op's run on each eligible path): the first call of the key decides,
// every call runs the chosen path.
func measuredRun(ps *pathSet, grad bool, runs map[AttentionPath]runFn) runFn {
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		if ps.chosen == "" {
			if err := m.decide(ps, grad, runs, out, a); err != nil {
				return err
			}
		}
		run := runs[ps.chosen]
		if run == nil {
			return fmt.Errorf("graphexec: attention %s: no %s run", ps.key, ps.chosen)
		}
		return run(m, out, a)
	}
}

// cache returns the Resident's measured choices.
func (r *Resident) cache() *pathCache {
	r.pathsOnce.Do(func() { r.paths = &pathCache{file: r.attentionCacheFile()} })
	return r.paths
}

// attentionCacheFile is AttentionCache, or the file GAUALPHA_ATTENTION_CACHE
// names.
func (r *Resident) attentionCacheFile() string {
	if r.AttentionCache != "" {
		return r.AttentionCache
	}
	return os.Getenv(AttentionCacheEnv)
}

// logf is Logf, or the standard logger.
func (r *Resident) logf() func(string, ...any) {
	if r.Logf != nil {
		return r.Logf
	}
	return log.Printf
}

// measurer returns how attention paths are timed: the test's fake, else
// CUDA events; nil when nothing can be timed (the emulator), so that the
// rule decides at build time.
func (r *Resident) measurer() measurer {
	if r.measure != nil {
		return r.measure
	}
	if r.dev.Info().Backend == "emulator" {
		return nil
	}
	return timeOnDevice(r.dev)
}
