package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
)

// benchAttention returns the fused attention of one paper-size layer (d =
// 128, e = 1536, InfoScale at n0 = 64, RoPE) over one sequence of length L,
// on random X with moderate logits, as cmd/bench times it.
func benchAttention(L int) *Attention[float32] {
	const E, D = 1536, 128
	pol := attn.Policy{Norm: attn.InfoScale, TrainLen: 64, KeySize: D, Method: attn.RoPE}.WithDefaults()
	a := &Attention[float32]{B: 1, L: L, E: E, D: D, Policy: pol}
	W := a.Width()
	rng := rand.New(rand.NewPCG(1, 2))
	a.X = make([]float32, L*W)
	for i := range a.X {
		s := 1.0
		if i%W >= 2*E {
			s = 0.3 // z: logits of a moderate size
		}
		a.X[i] = float32(rng.NormFloat64() * s)
	}
	a.GammaQ, a.GammaK = make([]float32, D), make([]float32, D)
	for i := range a.GammaQ {
		a.GammaQ[i], a.GammaK[i] = 1, 1
	}
	return a
}

// BenchmarkAttentionForward times the fused attention forward (B = 1, d =
// 128, e = 1536) at L = 1024 and 4096.
func BenchmarkAttentionForward(b *testing.B) {
	lengths := []int{1024, 4096}
	if testing.Short() { // CI runs every benchmark once, small
		lengths = []int{128}
	}
	for _, L := range lengths {
		b.Run(fmt.Sprintf("L=%d", L), func(b *testing.B) {
			a := benchAttention(L)
			out := make([]float32, L*a.OutWidth())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := a.Forward(out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAttentionBackward times the fused attention backward alone (the
// forward output is computed once, outside the timing) at L = 1024.
func BenchmarkAttentionBackward(b *testing.B) {
	L := 1024
	if testing.Short() { // CI runs every benchmark once, small
		L = 128
	}
	a := benchAttention(L)
	out := make([]float32, L*a.OutWidth())
	if err := a.Forward(out); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	dout := make([]float32, len(out))
	for i := range dout {
		dout[i] = float32(rng.NormFloat64())
	}
	dx := make([]float32, (L+2)*a.Width())
	b.Run(fmt.Sprintf("L=%d", L), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := a.Backward(out, dout, dx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchAttentionDefault is the attention of one layer of the default model's
// training step: B = 32 sequences of L = 64, e = 256, d = 64, softmax,
// dropout 0.1, positions given (as the model passes them).
func benchAttentionDefault() *Attention[float32] {
	const B, L, E, D = 32, 64, 256, 64
	pol := attn.Policy{Norm: attn.Softmax, TrainLen: 64, KeySize: D, Method: attn.RoPE}.WithDefaults()
	a := &Attention[float32]{B: B, L: L, E: E, D: D, Policy: pol, Dropout: 0.1, Key: 99, Site: 3, Work: new(Workspace)}
	W := a.Width()
	rng := rand.New(rand.NewPCG(1, 2))
	a.X = make([]float32, B*L*W)
	for i := range a.X {
		s := 1.0
		if i%W >= 2*E {
			s = 0.3
		}
		a.X[i] = float32(rng.NormFloat64() * s)
	}
	a.GammaQ, a.GammaK = make([]float32, D), make([]float32, D)
	for i := range a.GammaQ {
		a.GammaQ[i], a.GammaK[i] = 1, 1
	}
	a.Pos = make([]int, B*L)
	for i := range a.Pos {
		a.Pos[i] = i % L
	}
	return a
}

// BenchmarkAttentionDefault times the attention forward and backward of one
// layer of the default model's training step (B = 32, L = 64, e = 256,
// d = 64, dropout 0.1).
func BenchmarkAttentionDefault(b *testing.B) {
	a := benchAttentionDefault()
	out := make([]float32, a.B*a.L*a.OutWidth())
	b.Run("fwd", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := a.Forward(out); err != nil {
				b.Fatal(err)
			}
		}
	})
	rng := rand.New(rand.NewPCG(3, 4))
	dout := make([]float32, len(out))
	for i := range dout {
		dout[i] = float32(rng.NormFloat64())
	}
	dx := make([]float32, (a.B*a.L+2)*a.Width())
	b.Run("bwd", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := a.Backward(out, dout, dx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSplitThreshold times an elementwise kernel (Swish) on n
// elements on one core and split over the team (two pieces per worker),
// the measurement behind parallelMin: the split pays from about the size
// where the two times cross.
func BenchmarkSplitThreshold(b *testing.B) {
	sizes := []int{1 << 10, 1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16, 1 << 18}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(i%17) - 8
		}
		a := ewArgs{op: ewSwish, y: y, x: x}
		b.Run(fmt.Sprintf("n=%d/serial", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ewRun(&a, 0, 0, n)
			}
		})
		b.Run(fmt.Sprintf("n=%d/team", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ewJob.Each(n, (n+3)/4, 0, a)
			}
		})
	}
}
