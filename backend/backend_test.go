package backend

import (
	"errors"
	"math"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/optim"
)

func TestOpen(t *testing.T) {
	for _, c := range []struct {
		device, precision string
		dev               Device
		prec              Precision
		want              string // error substring; "" for success
	}{
		{"", "", CPU, F32, ""},
		{"cpu", "f32", CPU, F32, ""},
		{"cpu", "bf16", CPU, BF16, ""},
		{"tpu", "", "", "", `unknown device "tpu"`},
		{"cpu", "fp8", "", "", `unknown precision "fp8"`},
	} {
		be, err := Open(c.device, c.precision)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Open(%q, %q): %v", c.device, c.precision, err)
		case c.want == "" && (be.Device() != c.dev || be.Precision() != c.prec):
			t.Errorf("Open(%q, %q) = %s/%s, want %s/%s", c.device, c.precision, be.Device(), be.Precision(), c.dev, c.prec)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("Open(%q, %q): %v, want an error containing %q", c.device, c.precision, err, c.want)
		}
	}
	for _, name := range []string{"cuda", "gpu"} {
		be, err := Open(name, "")
		switch {
		case !cudaBuilt && (err == nil || !strings.Contains(err.Error(), "-tags gpu")):
			t.Errorf("Open(%q) without the gpu build tag: %v", name, err)
		case cudaBuilt && err == nil && be.Device() != CUDA:
			t.Errorf("Open(%q) = %s", name, be.Device())
		case cudaBuilt && err != nil && !strings.Contains(err.Error(), "-device cuda"):
			t.Errorf("Open(%q) with no usable device: %v, want an error naming -device cuda", name, err)
		}
		if err == nil {
			be.Close()
		}
	}
}

// linearLoss builds loss = Σ w·x with x fixed, whose gradient with respect
// to w is x.
func linearLoss(t *testing.T, w, x *tensor.Dense) (*G.ExprGraph, *G.Node, *G.Node) {
	t.Helper()
	b := graph.NewBuilder()
	wn := b.Input("w", tensor.Float32, w.Shape(), w)
	xn := b.Input("x", tensor.Float32, x.Shape(), x)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	loss := G.Must(G.Sum(G.Must(G.HadamardProd(wn, xn))))
	grads, err := G.Grad(loss, wn)
	if err != nil {
		t.Fatal(err)
	}
	return b.G, loss, grads[0]
}

// The CPU optimiser is optim's reference rules applied to the executor's
// gradients: its weights after two steps equal ClipGradNorm and
// AdamW.Update applied by hand, and a non-finite loss applies nothing.
func TestCPUOptimizerIsTheReference(t *testing.T) {
	wv := []float32{1, -2, 0.5, 4}
	xv := []float32{3, 0, -1, 2}
	w := tensor.New(tensor.WithShape(4), tensor.WithBacking(append([]float32(nil), wv...)))
	x := tensor.New(tensor.WithShape(4), tensor.WithBacking(xv))
	g, loss, grad := linearLoss(t, w, x)
	be := Default()
	ex, err := be.Executor(g, loss, grad)
	if err != nil {
		t.Fatal(err)
	}
	opt := optim.NewAdamW([]int{4}, []bool{true}, 0.01)
	o, err := be.Optimizer(ex, loss, []*tensor.Dense{w}, []*G.Node{grad}, opt, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := optim.NewAdamW([]int{4}, []bool{true}, 0.01)
	rw := append([]float32(nil), wv...)
	for step := range 2 {
		if err := ex.Run(); err != nil {
			t.Fatal(err)
		}
		l, norm, err := o.Step(1e-2, 1)
		if err != nil {
			t.Fatal(err)
		}
		wantLoss := 0.0
		for i := range rw {
			wantLoss += float64(rw[i] * xv[i])
		}
		rg := [][]float32{append([]float32(nil), xv...)}
		wantNorm := optim.ClipGradNorm(rg, 1)
		if err := ref.Update([][]float32{rw}, rg, 1e-2); err != nil {
			t.Fatal(err)
		}
		if math.Abs(l-wantLoss) > 1e-5 || math.Abs(norm-wantNorm) > 1e-6 || norm != math.Sqrt(14) {
			t.Errorf("step %d: loss %v norm %v, want %v and %v", step+1, l, norm, wantLoss, wantNorm)
		}
		for i, v := range w.Data().([]float32) {
			if v != rw[i] {
				t.Errorf("step %d: w[%d] = %v, reference %v", step+1, i, v, rw[i])
			}
		}
	}
	x.Data().([]float32)[0] = float32(math.Inf(1))
	if err := ex.Run(); err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), w.Data().([]float32)...)
	if _, _, err := o.Step(1e-2, 1); !errors.Is(err, optim.ErrNonFinite) {
		t.Errorf("infinite loss: %v, want ErrNonFinite", err)
	}
	for i, v := range w.Data().([]float32) {
		if v != before[i] {
			t.Errorf("w[%d] changed from %v to %v on a non-finite step", i, before[i], v)
		}
	}
}

// TestOpenAuto: -device auto opens what -device cuda opens when that
// succeeds and the CPU otherwise, and says which, and why, in one line.
func TestOpenAuto(t *testing.T) {
	cuda, cudaErr := Open("cuda", "")
	if cudaErr == nil {
		cuda.Close()
	}
	want := CPU
	if cudaErr == nil {
		want = CUDA
	}
	var log strings.Builder
	be, err := OpenOptions(Options{Device: Auto, Precision: "bf16", Log: &log})
	if err != nil {
		t.Fatalf("-device auto: %v", err)
	}
	defer be.Close()
	line := log.String()
	t.Logf("%s", strings.TrimSuffix(line, "\n"))
	if be.Device() != want || be.Precision() != BF16 {
		t.Errorf("-device auto = %s/%s, want %s/bf16 (-device cuda: %v)", be.Device(), be.Precision(), want, cudaErr)
	}
	if !strings.HasPrefix(line, "device auto: "+string(want)+" (") || !strings.HasSuffix(line, ")\n") || strings.Count(line, "\n") != 1 {
		t.Errorf("-device auto said %q, want one line naming %s and why", line, want)
	}
	switch {
	case !cudaBuilt && !strings.Contains(line, "no GPU support"):
		t.Errorf("-device auto without the gpu build tag said %q", line)
	case cudaBuilt && cudaErr != nil && !strings.Contains(line, strings.TrimPrefix(cudaErr.Error(), "-device cuda: ")):
		t.Errorf("-device auto said %q, want the reason -device cuda gives: %v", line, cudaErr)
	}
	// A forced attention path needs the GPU.
	be2, err := OpenOptions(Options{Device: Auto, Attention: AttentionFused})
	switch {
	case want == CPU && (err == nil || !strings.Contains(err.Error(), "-attention fused: -device auto runs on the CPU") || strings.Contains(err.Error(), "\n")):
		t.Errorf("-device auto -attention fused without a GPU: %v, want a one-line error", err)
	case want == CUDA && err != nil:
		t.Errorf("-device auto -attention fused with a GPU: %v", err)
	}
	if err == nil {
		be2.Close()
	}
	// Without a writer nothing is said, and nothing fails.
	be3, err := OpenOptions(Options{Device: Auto})
	if err != nil {
		t.Fatalf("-device auto, no log: %v", err)
	}
	be3.Close()
}

// TestDefaultDevice: the commands' default opens, and is the CPU in a
// binary without GPU support.
func TestDefaultDevice(t *testing.T) {
	if !cudaBuilt && DefaultDevice != "cpu" {
		t.Errorf("DefaultDevice = %q without GPU support, want cpu", DefaultDevice)
	}
	be, err := Open(DefaultDevice, "")
	if err != nil {
		t.Fatalf("Open(DefaultDevice %q): %v", DefaultDevice, err)
	}
	be.Close()
}
