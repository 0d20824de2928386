//go:build gpu || gpuemu

package gpu

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/infoscale/gaualpha/attn"
)

// TimingEnv turns the timing tests on (scripts/gpu-check.sh sets it); they
// skip otherwise, and always on the emulator.
const TimingEnv = "GAUALPHA_GPU_TIMING"

// Timing sizes: comma-separated batch sizes and lengths for
// TestTimeAttention (defaults 1,8 and 1024,4096,16384).
const (
	TimingBatchEnv  = "GAUALPHA_TIMING_B"
	TimingLengthEnv = "GAUALPHA_TIMING_L"
)

// timingLine prints one result for scripts/gpu-check.sh to collect.
func timingLine(t testing.TB, v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("GAUALPHA_TIMING %s\n", b)
}

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// intsEnv parses a comma-separated list of positive integers from the
// environment variable name, def when it is unset.
func intsEnv(name string, def []int) ([]int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s=%q: %q is not a positive integer", name, v, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// timeRuns times f with CUDA events: warm calls, then one timed call whose
// time sets the number of runs (as many as fit in budget, at least 3, at
// most maxRuns); it returns the median milliseconds and the runs timed.
func timeRuns(t testing.TB, tm *Timer, warm, maxRuns int, budget time.Duration, f func() error) (float64, int) {
	t.Helper()
	once := func() float64 {
		must(t, tm.Start())
		must(t, f())
		ms, err := tm.Stop()
		must(t, err)
		return ms
	}
	for range warm {
		once()
	}
	first := once()
	runs := maxRuns
	if first > 0 {
		runs = min(maxRuns, max(3, int(float64(budget.Milliseconds())/first)))
	}
	ms := []float64{first}
	for len(ms) < runs {
		ms = append(ms, once())
	}
	return median(ms), len(ms)
}

// attnPath is one way of computing the attention that the timings compare:
// forward writes out [B·L, E+1] from the inputs; backward writes dx from
// out and dout.
type attnPath struct {
	name     string
	forward  func(d *Device, a *Attention, in AttentionInputs, out DevicePtr) error
	backward func(d *Device, a *Attention, in AttentionInputs, out, dout, dx DevicePtr) error
}

// matScratch returns the materialised path's workspace for a from the
// device's scratch buffers (kept for the next call: the timed calls
// allocate nothing).
func matScratch(d *Device, a *Attention, backward bool) (DevicePtr, error) {
	n, err := a.MatWorkspace(backward)
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.scratchLocked("attn.mat.timing", n)
}

// attnPaths are the paths TestTimeAttention times: the fused kernels of
// attention.go and the materialised path of attention_mat.go (every
// sequence of the batch in one group).
var attnPaths = []attnPath{{
	name:     "fused",
	forward:  (*Device).AttentionForward,
	backward: (*Device).AttentionBackward,
}, {
	name: "materialized",
	forward: func(d *Device, a *Attention, in AttentionInputs, out DevicePtr) error {
		ws, err := matScratch(d, a, false)
		if err != nil {
			return err
		}
		return d.AttentionForwardMat(a, in, out, ws)
	},
	backward: func(d *Device, a *Attention, in AttentionInputs, out, dout, dx DevicePtr) error {
		ws, err := matScratch(d, a, true)
		if err != nil {
			return err
		}
		return d.AttentionBackwardMat(a, in, out, dout, dx, ws)
	},
}}

// TestTimeAttention times the attention forward and backward of every path
// of attnPaths with CUDA events after warm-up (median of as many runs as
// fit in about 0.3 s, 3 to 20), at the paper's sizes: d = 128,
// d_v = E = 1536, RoPE, softmax, no dropout, B = 1 and 8 sequences
// (GAUALPHA_TIMING_B), L = 4096 (GAUALPHA_TIMING_L), in float32 and in
// bfloat16 as the executor runs it: the forward of an evaluation graph
// reads a bfloat16 X (the fused path on tensor cores,
// gau_attn_fwd_tc_bf16_d128; the materialised path's products from it), the
// backward of a training graph a float32 X (the fused backward in float32,
// the materialised one with bfloat16 products, Attention.MatBF16). The
// float32 output must be finite and the bfloat16 one within 2e-2 of it.
// TFLOP/s are AttentionFLOPs over the median time.
func TestTimeAttention(t *testing.T) {
	if os.Getenv(TimingEnv) == "" {
		t.Skip("timing: set " + TimingEnv + "=1 (scripts/gpu-run.sh does)")
	}
	batches, err := intsEnv(TimingBatchEnv, []int{1, 8})
	if err != nil {
		t.Fatal(err)
	}
	lengths, err := intsEnv(TimingLengthEnv, []int{4096})
	if err != nil {
		t.Fatal(err)
	}
	if emulated() {
		t.Skip("the emulator does not time kernels")
	}
	d := testDevice(t)
	for _, B := range batches {
		for _, L := range lengths {
			t.Run(fmt.Sprintf("B=%d/L=%d", B, L), func(t *testing.T) { timeAttention(t, d, B, L) })
		}
	}
}

// timeAttention times one shape on every path, in float32 and bfloat16.
func timeAttention(t *testing.T, d *Device, B, L int) {
	const D, E = 128, 1536
	W := 2*E + D
	rng := rand.New(rand.NewPCG(1, uint64(L)))
	x := randF32(rng, L*W, 1) // one sequence, copied to the B of the batch
	for r := 0; r < L; r++ {  // moderate logits, like a trained model's
		for c := 2 * E; c < W; c++ {
			x[r*W+c] *= 0.3
		}
	}
	batch := func(one DevicePtr, bytes int) DevicePtr {
		p := nanBuf(t, d, B*bytes/4)
		for b := range B {
			must(t, copyDevice(d, p.Add(b*bytes), one, bytes))
		}
		return p
	}
	gq, gk := upload(t, d, randF32(rng, D, 0.1)), upload(t, d, randF32(rng, D, 0.1))
	in32 := AttentionInputs{X: batch(upload(t, d, x), 4*L*W), GammaQ: gq, GammaK: gk}
	in16 := AttentionInputs{X: batch(upload(t, d, ToBF16(x)), 2*L*W), GammaQ: gq, GammaK: gk}
	dout := batch(upload(t, d, randF32(rng, L*(E+1), 1)), 4*L*(E+1))
	dx := nanBuf(t, d, (B*L+2)*W)
	tm, err := d.NewTimer()
	must(t, err)
	defer tm.Close()
	warm, maxRuns := 2, 20
	const budget = 300 * time.Millisecond
	pol := attn.Policy{Norm: attn.Softmax, TrainLen: 512, KeySize: D}.WithDefaults()
	out := nanBuf(t, d, B*L*(E+1))
	var ref []float32 // the first float32 forward's first sequence
	for _, p := range attnPaths {
		for _, prec := range []string{"f32", "bf16"} {
			line := map[string]any{"impl": "go-cuda", "path": p.name, "precision": prec, "B": B, "L": L, "d": D, "dv": E}
			emit := func(more map[string]any) {
				m := maps.Clone(line)
				maps.Copy(m, more)
				timingLine(t, m)
			}
			// The forward as an evaluation graph runs it.
			a := &Attention{B: B, L: L, E: E, D: D, Policy: pol, BF16: prec == "bf16"}
			in := in32
			if a.BF16 {
				in = in16
			}
			must(t, d.Fill32(out, nanBits, B*L*(E+1)))
			fm, runs := timeRuns(t, tm, warm, maxRuns, budget, func() error { return p.forward(d, a, in, out) })
			syncCheck(t, d)
			o := download[float32](t, d, out, L*(E+1))
			if ref == nil {
				check(t, fmt.Sprintf("%s %s forward output written and finite", p.name, prec), o, o, 1e-4)
				ref = o
			} else {
				check(t, fmt.Sprintf("%s %s forward against float32", p.name, prec), o, ref, 2e-2)
			}
			emit(map[string]any{"case": "attn_fwd", "runs": runs, "ms": fm, "tflops": AttentionFLOPs(B, L, D, E, false) / (fm * 1e-3) / 1e12})
			// The backward as a training graph runs it: float32 X, and on
			// the materialised path bfloat16 products under bf16.
			b := &Attention{B: B, L: L, E: E, D: D, Policy: pol}
			if prec == "bf16" {
				if p.name != "materialized" {
					emit(map[string]any{"case": "attn_bwd", "error": "the fused backward runs in float32 (training graphs keep it so under -precision bf16)"})
					t.Logf("%s %s: forward %.3f ms (median of %d)", p.name, prec, fm, runs)
					continue
				}
				b.MatBF16 = true
			}
			must(t, p.forward(d, b, in32, out))
			bm, bruns := timeRuns(t, tm, warm, maxRuns, budget, func() error { return p.backward(d, b, in32, out, dout, dx) })
			syncCheck(t, d)
			emit(map[string]any{"case": "attn_bwd", "runs": bruns, "ms": bm, "tflops": AttentionFLOPs(B, L, D, E, true) / (bm * 1e-3) / 1e12})
			t.Logf("%s %s: forward %.3f ms (median of %d), backward %.3f ms (median of %d)", p.name, prec, fm, runs, bm, bruns)
		}
	}
}
