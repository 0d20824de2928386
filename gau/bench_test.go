package gau

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/graph"
)

// benchGAULayer builds one paper-size GAU layer (768/1536/128, dropout off)
// with BuildLayer over a batch of B = 8 sequences of L = 512 random hidden
// states; with grad it adds the gradients of ⟨h', r⟩ (r a random
// cotangent) wrt the input and the layer's weights. Under -short it builds
// a tiny layer instead (B = 1, L = 16, 16/24/8), so that CI runs every
// benchmark once (-benchtime 1x) without the paper-size cost.
func benchGAULayer(b *testing.B, grad bool) (*graph.Machine, int) {
	b.Helper()
	B, L := 8, 512
	cfg := PaperConfig()
	if testing.Short() {
		B, L = 1, 16
		cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize = 16, 24, 8
	}
	cfg.NumLayers = 1
	pol, err := cfg.Policy("")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	p := InitParams(cfg, tensor.Float32, rng)
	randn := func() *tensor.Dense {
		x := make([]float32, B*L*cfg.HiddenSize)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return tensor.New(tensor.WithShape(B*L, cfg.HiddenSize), tensor.WithBacking(x))
	}
	var r *tensor.Dense
	h := randn()
	if grad {
		r = randn()
	}
	lg, err := BuildLayer(cfg, pol, p.Layers[0], B, L, nil, nil, h, r)
	if err != nil {
		b.Fatal(err)
	}
	mach, err := graph.NewMachine(lg.Graph, lg.Outputs()...)
	if err != nil {
		b.Fatal(err)
	}
	return mach, B * L
}

func runBenchMachine(b *testing.B, mach *graph.Machine, tokens int) {
	if err := mach.Run(); err != nil { // warm-up: buffers allocated
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := mach.Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*tokens)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkGAULayerFwd times one paper-size GAU layer's forward pass (the
// gated inference attention, as in evaluation) at B = 8, L = 512.
func BenchmarkGAULayerFwd(b *testing.B) {
	mach, tokens := benchGAULayer(b, false)
	runBenchMachine(b, mach, tokens)
}

// BenchmarkGAULayerFwdBwd times one paper-size GAU layer's forward and
// backward pass at B = 8, L = 512 (compare with scripts/bench_torch.py
// --case layer_fwdbwd).
func BenchmarkGAULayerFwdBwd(b *testing.B) {
	mach, tokens := benchGAULayer(b, true)
	runBenchMachine(b, mach, tokens)
}
