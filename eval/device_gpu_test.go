//go:build gpu || gpuemu

package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/gpu/graphexec"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/internal/numcheck"
)

// deviceTol bounds the relative difference of the device's logits and
// losses from the CPU's on the same weights: both sum in float32, in other
// orders (cuBLAS's k blocks and split-k, the kernels' tree reductions) and
// with other roundings (nvcc's FMAs, CUDA's expf within 2 ulp); in the test
// model a value is a sum of at most 64 terms (hidden 16, intermediate 24,
// key 8; the attention sums up to 64 rows at length 64), off by at most
// 64·2⁻²⁴ ≈ 4e-6 of its terms' magnitudes per sum, a few sums deep (two
// layers): 1e-5 is already a large difference (1e-6 is measured on the
// emulator).
const deviceTol = 1e-4

// Evaluation on the device gives the CPU's tallies: the paper protocol
// (batches of masked copies, the last batch smaller) and the fast one, two
// normalisations, two lengths. The logits match to deviceTol, the losses
// too, and every argmax except at a near-tie (numcheck.PredictionsAgree), so the
// counts of correct predictions differ at most by the near-ties decided
// otherwise.
func TestDeviceEvaluateMatchesCPU(t *testing.T) {
	if err := gpu.Available(); err != nil {
		t.Skipf("no GPU to test on: %v", err)
	}
	if _, err := graphexec.Shared(); err != nil {
		t.Fatalf("a GPU is present but cannot be opened: %v", err)
	}
	cfg, p, v := tinyModel(t)
	docs := randDocs(rand.New(rand.NewPCG(5, 6)), v, 2, 70)
	// A document of runs of one token: the untrained model gets some of it
	// right, so the argmax counts are compared too.
	var runs []int
	for i := 0; i < 70; i++ {
		runs = append(runs, 5+(i/10)%3)
	}
	docs = append(docs, runs)
	vs, err := Variants(cfg, []string{"softmax", "infoscale"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{
		{Lengths: []int{32, 64}, Protocol: Paper, Positions: 20, MaxTokens: 3 * 64},
		{Lengths: []int{32, 64}, Protocol: Fast, Stride: 8, Offsets: 2, MinPerDoc: 8},
	} {
		var wantLogits, gotLogits []float32
		o.Backend = recorder{backend.Default(), &wantLogits}
		want, err := Evaluate(context.Background(), cfg, p, v, docs, vs, o)
		if err != nil {
			t.Fatal(err)
		}
		o.Backend = recorder{openBackend(t, "cuda", "f32"), &gotLogits}
		got, err := Evaluate(context.Background(), cfg, p, v, docs, vs, o)
		if err != nil {
			t.Fatal(err)
		}
		flips := numcheck.PredictionsAgree(t, string(o.Protocol)+" protocol", gotLogits, wantLogits, cfg.VocabSize, deviceTol)
		for i, w := range want.Results {
			g := got.Results[i]
			if g.Variant != w.Variant || g.Length != w.Length || g.Tally.Count != w.Tally.Count ||
				max(g.Tally.Correct-w.Tally.Correct, w.Tally.Correct-g.Tally.Correct) > flips ||
				!(math.Abs(g.Tally.SumLoss-w.Tally.SumLoss) <= deviceTol*math.Abs(w.Tally.SumLoss)) {
				t.Errorf("%s protocol, %s at %d: device %+v, CPU %+v", o.Protocol, w.Variant, w.Length, g.Tally, w.Tally)
			}
		}
		correct := 0
		for _, r := range got.Results {
			correct += r.Tally.Correct
		}
		if correct == 0 {
			t.Errorf("%s protocol: no correct prediction at all; the argmax is not compared", o.Protocol)
		}
		t.Logf("%s protocol: %d results agree, %d correct predictions in all", o.Protocol, len(want.Results), correct)
	}
	// bf16 inputs: the same positions are scored, the losses within 2e-2
	// of float32's and not equal to them.
	o16 := Options{Lengths: []int{32, 64}, Protocol: Fast, Stride: 8, Offsets: 2, MinPerDoc: 8}
	want, err := Evaluate(context.Background(), cfg, p, v, docs, vs, o16)
	if err != nil {
		t.Fatal(err)
	}
	o16.Backend = openBackend(t, "cuda", "bf16")
	got, err := Evaluate(context.Background(), cfg, p, v, docs, vs, o16)
	if err != nil {
		t.Fatal(err)
	}
	if got.Precision != "bf16" || !strings.Contains(got.Describe(), "bf16 inputs") {
		t.Errorf("report does not say bf16: %q", got.Describe())
	}
	for i, w := range want.Results {
		g := got.Results[i]
		e := math.Abs(g.Tally.SumLoss-w.Tally.SumLoss) / math.Abs(w.Tally.SumLoss)
		if g.Tally.Count != w.Tally.Count || !(e > 0 && e < 2e-2) {
			t.Errorf("bf16, %s at %d: device %+v, CPU %+v (loss relative error %.2g, want in (0, 2e-2))", w.Variant, w.Length, g.Tally, w.Tally, e)
		}
	}
}

// recorder is a backend whose executors keep a copy of every float32
// output read (in Evaluate: the logits of every batch) in *out.
type recorder struct {
	backend.Backend
	out *[]float32
}

func (r recorder) Executor(g *G.ExprGraph, outputs ...*G.Node) (graph.Executor, error) {
	ex, err := r.Backend.Executor(g, outputs...)
	if err != nil {
		return nil, err
	}
	return recordingExecutor{ex, r.out}, nil
}

type recordingExecutor struct {
	graph.Executor
	out *[]float32
}

func (e recordingExecutor) Float32s(n *G.Node, dst []float32) ([]float32, error) {
	x, err := e.Executor.Float32s(n, dst)
	if err == nil {
		*e.out = append(*e.out, x...)
	}
	return x, err
}

// openBackend opens a backend, closed at the end of the test.
func openBackend(t testing.TB, device, precision string) backend.Backend {
	t.Helper()
	be, err := backend.Open(device, precision)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}
