package layers

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/graph"
)

// benchGAULayer builds one paper-size GAU layer (768/1536/128, dropout off)
// over a batch of B = 8 sequences of L = 512 random hidden states, as the
// model builds each of its layers; with grad it adds the gradients of
// ⟨h', r⟩ (r a random cotangent) wrt the input and the layer's weights.
func benchGAULayer(b *testing.B, grad bool) *graph.Machine {
	b.Helper()
	const B, L = 8, 512
	cfg := PaperConfig()
	cfg.NumLayers = 1
	pol, err := cfg.Policy("")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	p := InitParams(cfg, tensor.Float32, rng)
	randn := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	bd := graph.NewBuilder()
	m := &Model{Config: cfg, Options: Options{Shape: Shape{B: B, L: L}, Policy: pol}, inputs: map[*G.Node][]int{}}
	mask, pos := make([]int, B*L), make([]int, B*L)
	for i := range mask {
		mask[i], pos[i] = 1, i%L
	}
	ints := func(name string, v []int) *G.Node {
		return bd.Input(name, tensor.Int, tensor.Shape{len(v)}, tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v)))
	}
	floats := func(name string, v []float32) *G.Node {
		shape := tensor.Shape{B * L, cfg.HiddenSize}
		return bd.Input(name, tensor.Float32, shape, tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v)))
	}
	m.Mask, m.Pos, m.Key = ints("mask", mask), ints("pos", pos), ints("key", []int{0})
	in := floats("h", randn(B*L*cfg.HiddenSize))
	var w []*G.Node
	for _, n := range p.Named()[2:6] {
		w = append(w, bd.Input(n.Name, tensor.Float32, n.T.Shape(), n.T))
	}
	out, _ := m.gauLayer(bd, in, w, 0)
	if err := bd.Err(); err != nil {
		b.Fatal(err)
	}
	outputs := G.Nodes{out}
	if grad {
		r := floats("cotangent", randn(B*L*cfg.HiddenSize))
		grads, err := G.Backpropagate(G.Nodes{out}, G.Nodes{r}, append(G.Nodes{in}, w...))
		if err != nil {
			b.Fatal(err)
		}
		outputs = append(outputs, grads...)
	}
	mach, err := graph.NewMachine(bd.G, outputs...)
	if err != nil {
		b.Fatal(err)
	}
	return mach
}

func runBenchMachine(b *testing.B, mach *graph.Machine) {
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
	b.ReportMetric(float64(b.N*8*512)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkGAULayerFwd times one paper-size GAU layer's forward pass at B =
// 8, L = 512.
func BenchmarkGAULayerFwd(b *testing.B) { runBenchMachine(b, benchGAULayer(b, false)) }

// BenchmarkGAULayerFwdBwd times one paper-size GAU layer's forward and
// backward pass at B = 8, L = 512 (the CPU speed issue's headline case;
// compare with scripts/bench_torch.py --case layer_fwdbwd).
func BenchmarkGAULayerFwdBwd(b *testing.B) { runBenchMachine(b, benchGAULayer(b, true)) }
