package eval

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/graph"
)

// BenchmarkEvalForward times the paper-size 6-layer model's forward pass
// over one sequence (B = 1) with one masked position, with InfoScale, at
// L = 4096 and 16384 (the latter takes about a minute per run on two
// cores; select it with -bench 'EvalForward/L=16384').
func BenchmarkEvalForward(b *testing.B) {
	lengths := []int{4096, 16384}
	if testing.Short() { // CI runs every benchmark once, small
		lengths = []int{256}
	}
	for _, L := range lengths {
		b.Run(fmt.Sprintf("L=%d", L), func(b *testing.B) {
			cfg := gau.PaperConfig()
			cfg.HiddenDropout, cfg.AttentionDropout = 0, 0
			pol, err := cfg.Policy("infoscale")
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			p := gau.InitParams(cfg, tensor.Float32, rng)
			m, err := gau.Build(cfg, p, gau.Options{Shape: gau.Shape{B: 1, L: L, M: 1}, Policy: pol})
			if err != nil {
				b.Fatal(err)
			}
			mach, err := graph.NewMachine(m.Graph, m.Outputs()...)
			if err != nil {
				b.Fatal(err)
			}
			bt := &gau.Batch{IDs: make([]int, L), Select: []int{L / 2}}
			for i := range bt.IDs {
				bt.IDs[i] = 5 + rng.IntN(cfg.VocabSize-5)
			}
			bt.IDs[L/2] = 4 // [MASK]
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := m.Run(mach, bt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*L)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
