//go:build gpu || gpuemu

package graphexec

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/internal/numcheck"
	"github.com/infoscale/gaualpha/pipeline"
)

// testDevice returns the shared device, skipping the test when there is no
// GPU (no driver or no device) and failing it when one is present but
// cannot be opened.
func testDevice(t testing.TB) *gpu.Device {
	t.Helper()
	if err := gpu.Available(); err != nil {
		t.Skipf("no GPU to test on: %v", err)
	}
	d, err := Shared()
	if err != nil {
		t.Fatalf("a GPU is present but cannot be opened: %v", err)
	}
	return d
}

// tinyConfig is a model small enough for the emulator: 2 layers, hidden
// 16, intermediate 24, key 8, n0 = 16.
func tinyConfig() gau.Config {
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = 40, 16, 24, 16, 2, 16
	// Weights large enough that attention shapes the output.
	cfg.InitializerRange = 0.3
	return cfg
}

// tinyBatch is B sequences of length L (every other one padded after 2/3
// of its length), with M head rows, the last without a target.
func tinyBatch(rng *rand.Rand, cfg gau.Config, B, L, M int, pose bool) *gau.Batch {
	bt := &gau.Batch{Key: 0x5eed}
	for b := 0; b < B; b++ {
		n := L
		if b%2 == 1 {
			n = 2 * L / 3
		}
		for i := 0; i < L; i++ {
			bt.IDs = append(bt.IDs, 1+rng.IntN(cfg.VocabSize-1))
			bt.Types = append(bt.Types, rng.IntN(2))
			bt.Mask = append(bt.Mask, map[bool]int{true: 1}[i < n])
			if pose {
				bt.Pos = append(bt.Pos, 3*i+b)
			}
		}
	}
	for r := 0; r < M; r++ {
		b := r % B
		bt.Select = append(bt.Select, b*L+rng.IntN(L/2))
		bt.Targets = append(bt.Targets, rng.IntN(cfg.VocabSize))
	}
	bt.Targets[M-1] = pipeline.IgnoreTarget
	return bt
}

func f32(v any) []float32 { return v.(interface{ Data() any }).Data().([]float32) }

type policyCase struct {
	name string
	pol  func(cfg gau.Config) attn.Policy
	pose bool
}

func policyCases() []policyCase {
	base := func(cfg gau.Config) attn.Policy {
		p, err := cfg.Policy("")
		if err != nil {
			panic(err)
		}
		return p
	}
	with := func(f func(p *attn.Policy)) func(gau.Config) attn.Policy {
		return func(cfg gau.Config) attn.Policy {
			p := base(cfg)
			f(&p)
			return p.WithDefaults()
		}
	}
	return []policyCase{
		{"rope-softmax", base, false},
		{"rope-infoscale-cosscale", with(func(p *attn.Policy) { p.Norm, p.CosScale = attn.InfoScale, 3 }), false},
		{"streamingllm", with(func(p *attn.Policy) { p.Method = attn.StreamingLLM }), false},
		{"rerope-softmaxplus", with(func(p *attn.Policy) { p.Method, p.Norm = attn.ReRoPE, attn.SoftmaxPlus }), false},
		{"pose-positions", with(func(p *attn.Policy) { p.Method = attn.PoSE }), true},
	}
}

// The training graph (dropout on) on the device gives the CPU machine's
// loss, logits and every gradient; the inference graph (gated attention)
// its logits.
func TestModelMatchesCPU(t *testing.T) {
	d := testDevice(t)
	for _, pc := range policyCases() {
		t.Run(pc.name, func(t *testing.T) { checkModel(t, d, pc, false) })
	}
}

// buildBoth builds the graph of opt over p for the CPU machine and the
// device executor (closed at the end of the test).
func buildBoth(t *testing.T, res *Resident, cfg gau.Config, p *gau.Params, opt gau.Options) (*cpuModel, *Model) {
	t.Helper()
	lm, err := gau.Build(cfg, p, opt)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := newCPUModel(lm)
	if err != nil {
		t.Fatal(err)
	}
	dm, err := NewModel(res, lm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dm.Close() })
	return cm, dm
}

// TestModelBF16 is TestModelMatchesCPU under Resident.BF16 (-precision
// bf16). The training graph, with bfloat16 GEMM inputs (and on the
// materialised attention path bfloat16 attention products, forward and
// backward), matches the CPU machine doing the same rounding
// (graph.Machine.BF16, with FloatAttention where the device's attention
// took the fused path, float32 in training graphs) to bf16Tol, and
// its loss is within 2e-2 of the float32 CPU's (the gradients' drift from
// float32 is logged: it is bfloat16's, not the device's). The inference
// graph, with bfloat16 GEMM inputs and a bfloat16 X for the attention, is
// within 2e-2 of the float32 CPU machine and not equal to it (the bfloat16
// path ran).
func TestModelBF16(t *testing.T) {
	d := testDevice(t)
	for _, pc := range policyCases() {
		t.Run(pc.name, func(t *testing.T) { checkModel(t, d, pc, true) })
	}
}

// bf16Tol bounds the relative error of the device's bfloat16 training
// graph against the CPU's with the same rounding: the two differ in the
// order of float32 accumulation, and where that moves a value across a
// bfloat16 rounding boundary, by one bfloat16 unit there (up to 2.9e-4 on
// the emulator so far; cuBLAS sums in other orders). bfloat16's own drift
// from float32 is about 1e-2, so an operand left unrounded shows.
const bf16Tol = 2e-3

// f32Tol bounds the relative difference (normwise per tensor, as
// numcheck.RelErr) of the device's float32 loss, logits and gradients from
// the CPU machine's. The two sum in other orders (cuBLAS's k blocks and
// split-k, the kernels' tree reductions, atomicAdd in any order) and round
// otherwise (nvcc's FMAs, CUDA's expf within 2 ulp); in the tiny model a
// value is a sum of at most 48 terms (B·L rows into a weight gradient,
// hidden 16, intermediate 24), off by at most 48·2⁻²⁴ ≈ 3e-6 of its terms'
// magnitudes, a few sums deep (two layers, forward and backward): a
// gradient whose terms cancel to a tenth of their size can reach 1e-5 or
// so. On the emulator, with its seeded orders, the largest gradient
// difference is about 1e-6.
const f32Tol = 1e-4

// trainingAttentionFused reports whether the training machine m runs its
// attention ops on the fused path (float32 under -precision bf16) rather
// than the materialised one (bfloat16 products): the CPU reference rounds
// all attention ops or none, so a mixture fails the test.
func trainingAttentionFused(t *testing.T, m *Machine) bool {
	t.Helper()
	ch := m.AttentionChoices()
	if len(ch) == 0 {
		t.Fatal("no attention op")
	}
	fused := ch[0].Path == AttentionFused
	for _, c := range ch {
		if (c.Path == AttentionFused) != fused {
			t.Fatalf("attention paths mixed (%s: %s, %s: %s): the CPU reference cannot round as the device does", ch[0].Op, ch[0].Path, c.Op, c.Path)
		}
	}
	t.Logf("training attention: %s (%s)", ch[0].Path, ch[0].Reason)
	return fused
}

// checkModel runs the training graph (dropout on; loss, logits, every
// gradient) and the inference graph (gated attention; logits) on the device
// and on the CPU machine and compares them: to 1e-4 in float32; with bf16
// as TestModelBF16 says.
func checkModel(t *testing.T, d *gpu.Device, pc policyCase, bf16 bool) {
	cfg := tinyConfig()
	const B, L, M = 2, 24, 6
	tol := f32Tol
	rng := rand.New(rand.NewPCG(7, 7))
	p := gau.InitParams(cfg, tensor.Float32, rng)
	res := NewResident(d)
	res.BF16 = bf16
	t.Cleanup(func() { res.Close() }) // after the machines (cleanups run last first)
	pol := pc.pol(cfg)
	bt := tinyBatch(rng, cfg, B, L, M, pc.pose)

	lm, dm := buildBoth(t, res, cfg, p, gau.Options{Shape: gau.Shape{B: B, L: L, M: M}, Policy: pol, Train: true, Loss: true, Grad: true})
	dm.M.Poison = true // an element not written stays NaN
	cpuRun := func() (loss float64, logits []float32, grads [][]float32) {
		if err := lm.Run(bt); err != nil {
			t.Fatal(err)
		}
		loss, err := lm.LossValue()
		if err != nil {
			t.Fatal(err)
		}
		logits = append([]float32(nil), f32(lm.Value(lm.Logits))...)
		for _, g := range lm.Grads {
			grads = append(grads, append([]float32(nil), f32(lm.Value(g))...))
		}
		return loss, logits, grads
	}
	wantLoss, wantLogits, wantGrads := cpuRun()
	loss32, grads32 := wantLoss, wantGrads
	// The device runs first: on a GPU its attention path is measured at
	// the first run, and the CPU reference rounds as the path taken.
	if err := dm.Run(bt); err != nil {
		t.Fatal(err)
	}
	if bf16 {
		lm.SetBF16(true)
		lm.mach.FloatAttention = trainingAttentionFused(t, dm.M)
		wantLoss, wantLogits, wantGrads = cpuRun()
		tol = bf16Tol
	}

	loss, err := dm.LossValue()
	if err != nil {
		t.Fatal(err)
	}
	if e := math.Abs(loss-wantLoss) / math.Abs(wantLoss); !(e < tol) {
		t.Errorf("loss %v, CPU %v (relative error %.2g)", loss, wantLoss, e)
	}
	logits, err := dm.LogitsValue(nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := numcheck.RelErr(logits, wantLogits); !(e < tol) {
		t.Errorf("logits: relative error %.2g", e)
	}
	named := p.Named()
	worst, drift := 0.0, 0.0
	for i, g := range lm.Grads {
		got := make([]float32, len(wantGrads[i]))
		if err := dm.M.Download(g, got); err != nil {
			t.Fatal(err)
		}
		e := numcheck.RelErr(got, wantGrads[i])
		if !(e < tol) {
			t.Errorf("gradient of %s: relative error %.2g", named[i].Name, e)
		}
		worst = math.Max(worst, e)
		drift = math.Max(drift, numcheck.RelErr(got, grads32[i]))
	}
	t.Logf("loss %.7g (CPU %.7g), largest gradient error %.2g", loss, wantLoss, worst)
	if bf16 {
		e := math.Abs(loss-loss32) / math.Abs(loss32)
		if !(e < 2e-2) {
			t.Errorf("bf16 loss %v, float32 CPU %v (relative error %.2g)", loss, loss32, e)
		}
		t.Logf("against the float32 CPU: loss %.2g, largest gradient drift %.2g", e, drift)
	}

	// Inference graph: gated attention, no dropout.
	em, de := buildBoth(t, res, cfg, p, gau.Options{Shape: gau.Shape{B: B, L: L, M: M}, Policy: pol})
	de.M.Poison = true
	if err := em.Run(bt); err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), f32(em.Value(em.Logits))...)
	if err := de.Run(bt); err != nil {
		t.Fatal(err)
	}
	got, err := de.LogitsValue(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := numcheck.RelErr(got, want)
	switch {
	case !bf16 && !(e < tol):
		t.Errorf("inference logits: relative error %.2g", e)
	case bf16 && !(e > 0 && e < 2e-2):
		t.Errorf("inference logits, bf16: relative error %.2g, want in (0, 2e-2)", e)
	}
	if bf16 {
		t.Logf("inference logits, bf16: relative error %.2g", e)
	}
}

// The pool serves every run after the first: no device allocation, the
// same results; within a run values share buffers (fewer buffers than
// steps).
func TestPoolReuse(t *testing.T) {
	d := testDevice(t)
	cfg := tinyConfig()
	rng := rand.New(rand.NewPCG(3, 1))
	p := gau.InitParams(cfg, tensor.Float32, rng)
	res := NewResident(d)
	t.Cleanup(func() { res.Close() })
	pol, _ := cfg.Policy("")
	const B, L, M = 2, 16, 4
	_, dm := buildBoth(t, res, cfg, p, gau.Options{Shape: gau.Shape{B: B, L: L, M: M}, Policy: pol, Train: true, Loss: true, Grad: true})
	bt := tinyBatch(rng, cfg, B, L, M, false)
	var first float64
	var after1 Stats
	for run := 0; run < 3; run++ {
		if err := dm.Run(bt); err != nil {
			t.Fatal(err)
		}
		loss, err := dm.LossValue()
		if err != nil {
			t.Fatal(err)
		}
		st := dm.M.Stats()
		switch run {
		case 0:
			first, after1 = loss, st
			steps := len(dm.M.Plan().Steps)
			t.Logf("%d steps, %d buffers (%d bytes) after the first run", steps, st.Allocs, st.Bytes)
			if st.Allocs >= steps {
				t.Errorf("%d buffers for %d steps: values do not share buffers", st.Allocs, steps)
			}
		default:
			if loss != first {
				t.Errorf("run %d: loss %v, first run %v", run, loss, first)
			}
			if st.Allocs != after1.Allocs || st.Bytes != after1.Bytes {
				t.Errorf("run %d allocated: %+v after the first run, %+v now", run, after1, st)
			}
		}
	}
	// A second model over the same weights shares them: nothing uploaded
	// twice.
	before := len(res.order)
	em, err := gau.Build(cfg, p, gau.Options{Shape: gau.Shape{B: 1, L: 32, M: 2}, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	de, err := NewModel(res, em)
	if err != nil {
		t.Fatal(err)
	}
	de.Close()
	if len(res.order) != before || before != len(p.Named()) {
		t.Errorf("%d resident tensors before the second model, %d after, %d parameters", before, len(res.order), len(p.Named()))
	}
}

// Kernel-detected errors come back with the scalars; float64 models are
// refused.
func TestErrors(t *testing.T) {
	d := testDevice(t)
	cfg := tinyConfig()
	rng := rand.New(rand.NewPCG(4, 4))
	res := NewResident(d)
	defer res.Close()
	pol, _ := cfg.Policy("")
	lm, err := gau.Build(cfg, gau.InitParams(cfg, tensor.Float64, rng), gau.Options{Shape: gau.Shape{B: 1, L: 8, M: 2}, Policy: pol, Loss: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewModel(res, lm); err == nil || !strings.Contains(err.Error(), "float32") {
		t.Errorf("float64 model: %v", err)
	}
	lm, err = gau.Build(cfg, gau.InitParams(cfg, tensor.Float32, rng), gau.Options{Shape: gau.Shape{B: 1, L: 8, M: 2}, Policy: pol, Loss: true})
	if err != nil {
		t.Fatal(err)
	}
	dm, err := NewModel(res, lm)
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	bt := tinyBatch(rng, cfg, 1, 8, 2, false)
	bt.Targets[0] = cfg.VocabSize + 3
	if err := dm.Run(bt); err != nil {
		t.Fatal(err)
	}
	if _, err := dm.LossValue(); err == nil || !strings.Contains(err.Error(), "target") {
		t.Errorf("bad target: %v", err)
	}
	bt.Targets[0] = 1
	if err := dm.Run(bt); err != nil {
		t.Fatal(err)
	}
	if l, err := dm.LossValue(); err != nil || math.IsNaN(l) {
		t.Errorf("after the error: %v, %v", l, err)
	}
}
