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
	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/gpu/graphexec"
	"github.com/infoscale/gaualpha/internal/numcheck"
	"github.com/infoscale/gaualpha/layers"
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
func deviceSetup(t testing.TB) (layers.Config, *tokenizer.Vocab, [][]int, [][]int) {
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
	cfg := layers.DefaultConfig()
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
	p := layers.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(o.Seed, 0)))
	tr, err := New(cfg, v, p, trs, vas, o)
	if err != nil {
		t.Fatal(err)
	}
	tr.OutDir = out
	be, err := backend.Open(device, precision)
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

// Several steps on the device give the CPU trainer's losses and gradient
// norms (clipping active), and the same weights, moments and validation
// tallies at the end.
func TestDeviceTrainingMatchesCPU(t *testing.T) {
	needDevice(t)
	const N = 6
	c := newDeviceTestTrainer(t, "", N, "cpu")
	g := newDeviceTestTrainer(t, "", N, "cuda")
	clipped := 0
	for i := 0; i < N; i++ {
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
		if e := relDiff(lg, lc); !(e < 1e-4) {
			t.Errorf("step %d: loss %.7g on the device, %.7g on the CPU", i+1, lg, lc)
		}
		if e := relDiff(ng, nc); !(e < 1e-4) {
			t.Errorf("step %d: gradient norm %.7g on the device, %.7g on the CPU", i+1, ng, nc)
		}
		t.Logf("step %d: loss %.6f (CPU %.6f), gradient norm %.5f (CPU %.5f)", i+1, lg, lc, ng, nc)
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
	for i, n := range c.Params.Named() {
		e := numcheck.RelErr(wg[i], wc[i])
		em := numcheck.RelErr(g.Opt.M[i], c.Opt.M[i])
		ev := numcheck.RelErr(g.Opt.V[i], c.Opt.V[i])
		if !(e < 1e-4) || !(em < 1e-3) || !(ev < 1e-3) {
			t.Errorf("%s: relative error %.2g (weights), %.2g (m), %.2g (v)", n.Name, e, em, ev)
		}
		worst = math.Max(worst, e)
	}
	t.Logf("largest relative weight difference after %d steps: %.2g", N, worst)
	tc, err := c.Validate()
	if err != nil {
		t.Fatal(err)
	}
	tg, err := g.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if tc.Count != tg.Count || tc.Correct != tg.Correct || !(relDiff(tg.SumLoss, tc.SumLoss) < 1e-4) {
		t.Errorf("validation on the device %+v, on the CPU %+v", tg, tc)
	}
}

// With Precision "bf16" the device's steps match the CPU trainer doing the
// same bfloat16 rounding of every product's operands (backend precision bf16 on the CPU)
// to 2e-3 in loss and gradient norm, and the float32 CPU trainer to 2e-2
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
// moments; resuming uploads them, and the run continues as if never
// stopped.
func TestDeviceResume(t *testing.T) {
	needDevice(t)
	const N, k = 8, 4
	straight := newDeviceTestTrainer(t, "", N, "cuda")
	var lossA []float64
	for i := 0; i < N; i++ {
		l, _, err := straight.Step()
		if err != nil {
			t.Fatal(err)
		}
		lossA = append(lossA, l)
	}
	if err := straight.opt.Pull(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := newDeviceTestTrainer(t, dir, N, "cuda")
	for i := 0; i < k; i++ {
		if _, _, err := first.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := first.evaluate(); err != nil { // pulls, writes last/
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(filepath.Join(dir, "last"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Opt.Step != k || slices.Equal(ck.Opt.M[0], make([]float32, len(ck.Opt.M[0]))) {
		t.Fatalf("checkpoint optimizer step %d (want %d), or zero moments: not the device's state", ck.Opt.Step, k)
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
		if e := relDiff(l, lossA[i]); !(e < 1e-5) {
			t.Errorf("step %d: resumed loss %.9f, straight %.9f", i+1, l, lossA[i])
		}
	}
	if err := second.opt.Pull(); err != nil {
		t.Fatal(err)
	}
	wa, wb := weights(straight.Params), weights(second.Params)
	for i := range wa {
		if e := numcheck.RelErr(wb[i], wa[i]); !(e < 1e-5) {
			t.Errorf("parameter %d differs after resuming (relative %.2g)", i, e)
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
	if _, err := tr.evaluate(); err != nil {
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
