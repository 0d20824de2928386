//go:build gpu || gpuemu

package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/gpu/graphexec"
	"github.com/infoscale/gaualpha/internal/numcheck"
	"github.com/infoscale/gaualpha/metrics"
	"github.com/infoscale/gaualpha/pipeline"
	"github.com/infoscale/gaualpha/tokenizer"
)

// needDevice skips the test when no GPU can be used (no driver, no
// device) and fails it when one is present but cannot be opened.
func needDevice(t testing.TB) {
	t.Helper()
	if err := gpu.Available(); err != nil {
		t.Skipf("no GPU to test on: %v", err)
	}
	if _, err := graphexec.Shared(); err != nil {
		t.Fatalf("a GPU is present but cannot be opened: %v", err)
	}
}

// deviceSetup is a tiny model on a synthetic corpus (no files needed, so
// the test binary runs anywhere): 2 layers, hidden 16, n0 = 16.
func deviceSetup(t testing.TB) (gau.Config, *tokenizer.Vocab, [][]int, [][]int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	const letters = "abcdefghij klmnop"
	var docs []corpus.Document
	for d := 0; d < 30; d++ {
		b := make([]byte, 300)
		for i := range b {
			// A little structure to learn: runs of one letter.
			if i > 0 && rng.IntN(3) > 0 {
				b[i] = b[i-1]
			} else {
				b[i] = letters[rng.IntN(len(letters))]
			}
		}
		docs = append(docs, corpus.Document{Text: string(b)})
	}
	v, err := tokenizer.Build(slices.Values([]string{letters}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = v.Size(), 16, 24, 8, 2, 16
	cfg.InitializerRange = 0.1
	tr, va := corpus.Split(docs, 0.8)
	trs, err := Sequences(tr, v, cfg.TrainLength)
	if err != nil {
		t.Fatal(err)
	}
	vas, err := Sequences(va, v, cfg.TrainLength)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, v, trs, vas
}

func newDeviceTestTrainer(t testing.TB, out string, steps int, device string) *Trainer {
	t.Helper()
	return newPrecisionTestTrainer(t, out, steps, device, "")
}

func newPrecisionTestTrainer(t testing.TB, out string, steps int, device, precision string) *Trainer {
	t.Helper()
	cfg, v, trs, vas := deviceSetup(t)
	o := DefaultOptions()
	o.Steps, o.Batch, o.EvalEvery, o.EvalSeqs, o.LR, o.ClipNorm = steps, 8, 4, 16, 3e-3, 0.5
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(o.Seed, 0)))
	tr, err := New(cfg, v, p, trs, vas, o)
	if err != nil {
		t.Fatal(err)
	}
	tr.OutDir = out
	// The device's attention takes the materialised path, whose bfloat16
	// products the CPU reference rounds alike (auto would measure the
	// paths and could take the fused one, float32 in training).
	o2 := backend.Options{Device: device, Precision: precision}
	if device == "cuda" {
		o2.Attention = backend.AttentionMaterialized
	}
	be, err := backend.OpenOptions(o2)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Use(be); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func relDiff(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-30) }

// Tolerances of the float32 device against the CPU, which sum in other
// orders (cuBLAS's k blocks and split-k, the kernels' tree reductions,
// atomicAdd in any order) and round differently (nvcc fuses a*b+c into
// FMAs; CUDA's expf and logf are within 2 ulp where Go's are correctly
// rounded). In the test model every value is a float32 sum of at most 64
// products (hidden 16, intermediate 24, sequence 16) a few times over
// (2 layers forward and backward), each sum off by at most n·2⁻²⁴ ≈ 4e-6
// of its terms' magnitudes, and the losses and gradient norms are float64
// sums of such values: a relative difference of 1e-5 in a loss or a norm
// is already a large one (1e-6 is measured on the emulator).
const (
	// deviceTol bounds the relative difference of losses, gradient norms,
	// logits and first moments (normwise, as numcheck.RelErr).
	deviceTol = 1e-4
	// deviceTolV bounds the second moments', squares of the gradients:
	// twice the gradients' relative difference.
	deviceTolV = 2 * deviceTol
)

// Several steps on the device give the CPU trainer's losses and gradient
// norms (clipping active). After the first step the weights and moments
// match; after the last, the weights are not compared: AdamW's steps are
// about lr·sign(m), so where a gradient element is within rounding of zero
// its sign, and its weight's step, may go either way (2·lr apart), and the
// steps after carry that difference. The validation on the device's final
// weights matches the CPU's on the same weights: logits to deviceTol and
// the same argmax except at near-ties (numcheck.PredictionsAgree).
func TestDeviceTrainingMatchesCPU(t *testing.T) {
	needDevice(t)
	const N = 6
	c := newDeviceTestTrainer(t, "", N, "cpu")
	g := newDeviceTestTrainer(t, "", N, "cuda")
	clipped := 0
	for i := 0; i < N; i++ {
		w0 := weights(c.Params)
		lc, nc, err := c.Step()
		if err != nil {
			t.Fatal(err)
		}
		lg, ng, err := g.Step()
		if err != nil {
			t.Fatal(err)
		}
		if nc > c.opts.ClipNorm {
			clipped++
		}
		if e := relDiff(lg, lc); !(e < deviceTol) {
			t.Errorf("step %d: loss %.7g on the device, %.7g on the CPU", i+1, lg, lc)
		}
		if e := relDiff(ng, nc); !(e < deviceTol) {
			t.Errorf("step %d: gradient norm %.7g on the device, %.7g on the CPU", i+1, ng, nc)
		}
		t.Logf("step %d: loss %.6f (CPU %.6f), gradient norm %.5f (CPU %.5f)", i+1, lg, lc, ng, nc)
		if i == 0 {
			if err := g.opt.Pull(); err != nil {
				t.Fatal(err)
			}
			firstStepAgrees(t, g, c, w0, c.schedule().At(0))
		}
	}
	if clipped == 0 {
		t.Error("no step clipped: the test does not cover clipping")
	}
	if err := g.opt.Pull(); err != nil {
		t.Fatal(err)
	}
	if g.Opt.Step != c.Opt.Step || g.State.Step != N {
		t.Errorf("optimizer step %d, CPU %d; trainer step %d", g.Opt.Step, c.Opt.Step, g.State.Step)
	}
	wc, wg := weights(c.Params), weights(g.Params)
	worst := 0.0
	for i := range wc {
		worst = math.Max(worst, numcheck.RelErr(wg[i], wc[i]))
	}
	t.Logf("largest relative weight difference after %d steps: %.2g (not compared)", N, worst)
	tc, err := c.validate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("validation on the CPU's own weights: %+v", tc)

	// The CPU on the device's weights.
	cg := newDeviceTestTrainer(t, "", N, "cpu")
	for i, n := range cg.Params.Named() {
		copy(n.T.Data().([]float32), wg[i])
	}
	tw, lw := validationLogits(t, cg)
	tg, lg := validationLogits(t, g)
	flips := numcheck.PredictionsAgree(t, "validation", lg, lw, c.Config.VocabSize, deviceTol)
	if tw.Count != tg.Count || !(relDiff(tg.SumLoss, tw.SumLoss) < deviceTol) || absInt(tg.Correct-tw.Correct) > flips {
		t.Errorf("validation on the device %+v, on the CPU with the same weights %+v (%d near-ties decided otherwise)", tg, tw, flips)
	}
	if tg.Correct == 0 {
		t.Error("no correct prediction in the validation: the argmax is not compared")
	}
}

func absInt(x int) int { return max(x, -x) }

// firstStepAgrees compares the device trainer g with the CPU trainer c
// after their first step from the weights w0: the moments to deviceTol
// and deviceTolV (m = (1-β1)·g and v = (1-β2)·g², so these compare the
// clipped gradients element by element), and the weights. AdamW's first
// step is lr·g/(|g| + ε) with ε = 1e-8, about lr·sign(g): where the CPU's
// gradient element is within deviceTol of the tensor's largest from zero,
// its sign is not decided by the arithmetic, and the two weights may be up
// to 2·lr apart (steps of opposite sign); the other weights match to
// deviceTol (normwise). lr is the first step's learning rate.
func firstStepAgrees(t *testing.T, g, c *Trainer, w0 [][]float32, lr float64) {
	t.Helper()
	wc, wg := weights(c.Params), weights(g.Params)
	undecided, changed := 0, 0
	for i, n := range c.Params.Named() {
		em := numcheck.RelErr(g.Opt.M[i], c.Opt.M[i])
		ev := numcheck.RelErr(g.Opt.V[i], c.Opt.V[i])
		if !(em < deviceTol) || !(ev < deviceTolV) {
			t.Errorf("%s after one step: relative error %.2g (m), %.2g (v)", n.Name, em, ev)
		}
		var mmax float64
		for _, m := range c.Opt.M[i] {
			mmax = math.Max(mmax, math.Abs(float64(m)))
		}
		decided := slices.Clone(wg[i])
		for j, m := range c.Opt.M[i] {
			if wc[i][j] != w0[i][j] {
				changed++
			}
			if math.Abs(float64(m)) <= deviceTol*mmax {
				if d := math.Abs(float64(wg[i][j]) - float64(wc[i][j])); !(d <= 2*lr*(1+1e-3)) {
					t.Errorf("%s[%d] after one step: %g on the device, %g on the CPU: more than 2·lr apart", n.Name, j, wg[i][j], wc[i][j])
				}
				decided[j] = wc[i][j]
				undecided++
			}
		}
		if e := numcheck.RelErr(decided, wc[i]); !(e < deviceTol) {
			t.Errorf("%s after one step: relative error %.2g (weights)", n.Name, e)
		}
	}
	if changed == 0 {
		t.Error("the first step changed no weight")
	}
	t.Logf("after one step: %d weights changed, %d with a gradient within rounding of zero", changed, undecided)
}

// validationLogits is tr.Validate with the logits of every scored row kept.
func validationLogits(t *testing.T, tr *Trainer) (metrics.Tally, []float32) {
	t.Helper()
	var tl metrics.Tally
	var all []float32
	v := tr.Config.VocabSize
	for _, bt := range tr.valBatch {
		if err := tr.evalModel.Run(tr.valExec, bt); err != nil {
			t.Fatal(err)
		}
		logits, err := tr.valExec.Float32s(tr.evalModel.Logits, nil)
		if err != nil {
			t.Fatal(err)
		}
		tl.Add(logits, bt.Targets, v)
		for r, tg := range bt.Targets {
			if tg != pipeline.IgnoreTarget {
				all = append(all, logits[r*v:(r+1)*v]...)
			}
		}
	}
	if want, err := tr.validate(context.Background()); err != nil || want != tl {
		t.Fatalf("validationLogits %+v, Validate %+v, %v", tl, want, err)
	}
	return tl, all
}

// With Precision "bf16" the device's steps match the CPU trainer doing the
// same bfloat16 rounding of every product's operands, the attention's
// included (backend precision bf16 on the CPU; the test model's attention
// ops are forced onto the device's materialised path, whose bfloat16
// products the CPU attention rounds alike), to 2e-3 in loss and gradient norm, and the float32 CPU trainer to 2e-2
// (bfloat16's own drift, logged). The losses of the later steps carry the
// device's AdamW updates. The weights are compared in the log only: where
// a different float32 summation order moves a product operand across a
// bfloat16 rounding boundary, a gradient element near zero can change sign,
// and AdamW, which steps by about lr·sign(g), then moves that weight the
// other way (2·lr apart per step), a difference that says nothing about
// the device.
func TestDeviceTrainingBF16(t *testing.T) {
	needDevice(t)
	const N = 6
	c32 := newDeviceTestTrainer(t, "", N, "cpu")
	c16 := newPrecisionTestTrainer(t, "", N, "cpu", "bf16") // the same rounding on the CPU
	g := newPrecisionTestTrainer(t, "", N, "cuda", "bf16")
	drift := 0.0
	for i := 0; i < N; i++ {
		l32, n32, err := c32.Step()
		if err != nil {
			t.Fatal(err)
		}
		l16, n16, err := c16.Step()
		if err != nil {
			t.Fatal(err)
		}
		lg, ng, err := g.Step()
		if err != nil {
			t.Fatal(err)
		}
		if e := relDiff(lg, l16); !(e < 2e-3) {
			t.Errorf("step %d: loss %.7g on the device, %.7g on the CPU with bfloat16 products", i+1, lg, l16)
		}
		if e := relDiff(ng, n16); !(e < 2e-3) {
			t.Errorf("step %d: gradient norm %.7g on the device, %.7g on the CPU with bfloat16 products", i+1, ng, n16)
		}
		if e := max(relDiff(lg, l32), relDiff(ng, n32)); !(e < 2e-2) {
			t.Errorf("step %d: loss %.7g and gradient norm %.7g on the device (bf16), %.7g and %.7g on the float32 CPU", i+1, lg, ng, l32, n32)
		}
		drift = max(drift, relDiff(lg, l32), relDiff(ng, n32))
		t.Logf("step %d: loss %.6f (CPU bf16 %.6f, f32 %.6f), gradient norm %.5f (CPU bf16 %.5f, f32 %.5f)", i+1, lg, l16, l32, ng, n16, n32)
	}
	if drift == 0 {
		t.Error("the bf16 device steps equal the float32 ones: nothing was rounded")
	}
	if err := g.opt.Pull(); err != nil {
		t.Fatal(err)
	}
	w16, w32, wg := weights(c16.Params), weights(c32.Params), weights(g.Params)
	worst, worst32 := 0.0, 0.0
	for i := range c16.Params.Named() {
		worst = max(worst, numcheck.RelErr(wg[i], w16[i]))
		worst32 = max(worst32, numcheck.RelErr(wg[i], w32[i]))
	}
	t.Logf("after %d steps: weights within %.2g of the CPU's with bfloat16 products, %.2g of the float32 CPU's", N, worst, worst32)
}

// Checkpoints written from the device hold the device's weights and
// moments; resuming uploads them, and the run continues as the one that
// wrote them does: the same losses and, after the first step from the
// checkpoint, the same moments (to deviceTol: the two runs are on the
// device, but atomicAdd's order, and so the gradients' rounding, differs
// from run to run). The weights are not compared, for the reason
// TestDeviceTrainingMatchesCPU gives.
func TestDeviceResume(t *testing.T) {
	needDevice(t)
	const N, k = 8, 4
	dir := t.TempDir()
	first := newDeviceTestTrainer(t, dir, N, "cuda")
	for i := 0; i < k; i++ {
		if _, _, err := first.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := first.evaluate(context.Background()); err != nil { // pulls, writes last/
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(filepath.Join(dir, "last"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Opt.Step != k || slices.Equal(ck.Opt.M[0], make([]float32, len(ck.Opt.M[0]))) {
		t.Fatalf("checkpoint optimizer step %d (want %d), or zero moments: not the device's state", ck.Opt.Step, k)
	}
	var lossA []float64
	var mA, vA [][]float32
	for i := k; i < N; i++ {
		l, _, err := first.Step()
		if err != nil {
			t.Fatal(err)
		}
		lossA = append(lossA, l)
		if i == k {
			if err := first.opt.Pull(); err != nil {
				t.Fatal(err)
			}
			for j := range first.Opt.M {
				mA, vA = append(mA, slices.Clone(first.Opt.M[j])), append(vA, slices.Clone(first.Opt.V[j]))
			}
		}
	}
	second := newDeviceTestTrainer(t, dir, N, "cuda") // on the device before Resume: Resume uploads
	if err := second.Resume(ck); err != nil {
		t.Fatal(err)
	}
	for i := k; i < N; i++ {
		l, _, err := second.Step()
		if err != nil {
			t.Fatal(err)
		}
		if e := relDiff(l, lossA[i-k]); !(e < deviceTol) {
			t.Errorf("step %d: resumed loss %.9f, straight %.9f", i+1, l, lossA[i-k])
		}
		if i == k {
			if err := second.opt.Pull(); err != nil {
				t.Fatal(err)
			}
			if second.Opt.Step != k+1 {
				t.Errorf("optimizer step %d after resuming at %d and one step", second.Opt.Step, k)
			}
			for j := range mA {
				em, ev := numcheck.RelErr(second.Opt.M[j], mA[j]), numcheck.RelErr(second.Opt.V[j], vA[j])
				if !(em < deviceTol) || !(ev < deviceTolV) {
					t.Errorf("parameter %d, one step after resuming: moments differ from the straight run's by %.2g (m), %.2g (v)", j, em, ev)
				}
			}
		}
	}
	// Run (not just Step) leaves the trained weights in Params.
	third := newDeviceTestTrainer(t, "", 2, "cuda")
	before := weights(third.Params)
	if err := third.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(weights(third.Params)[2], before[2]) {
		t.Error("Params unchanged after Run on the device")
	}
}

// A NaN weight stops device training with the step named and leaves the
// last good checkpoint alone.
func TestDeviceNaNStops(t *testing.T) {
	needDevice(t)
	dir := t.TempDir()
	tr := newDeviceTestTrainer(t, dir, 12, "cuda")
	for i := 0; i < 4; i++ {
		if _, _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.evaluate(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, "last", checkpoint.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	tr.Params.Layers[0].IDense.Data().([]float32)[3] = float32(math.NaN())
	if err := tr.opt.Push(); err != nil {
		t.Fatal(err)
	}
	err = tr.Run(context.Background())
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 5") {
		t.Fatalf("got %v, want a non-finite error naming step 5", err)
	}
	t.Logf("stopped: %v", err)
	if tr.Opt.Step != 4 {
		t.Errorf("optimizer step %d after the failed step, want 4", tr.Opt.Step)
	}
	after, err := os.ReadFile(filepath.Join(dir, "last", checkpoint.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatal("the last good checkpoint changed")
	}
}
