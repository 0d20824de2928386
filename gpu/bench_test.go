//go:build gpu || gpuemu

package gpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
)

// BenchmarkAttention times the fused forward and backward at the paper's
// sizes (d = 128, E = 1536, one sequence, RoPE, softmax, no dropout) with
// CUDA events and reports TFLOP/s: the forward does 2·L²·(D+E) flops (q·k
// and P·V), the backward 2·L²·(3D+2E) (logits again, dP, dV, dq̃, dk̃).
//
//	go test -tags gpu -run '^$' -bench Attention ./gpu
func BenchmarkAttention(b *testing.B) {
	if emulated() {
		b.Skip("the emulator does not time kernels")
	}
	d := testDevice(b)
	const D, E = 128, 1536
	for _, L := range []int{1024, 4096, 16384} {
		b.Run(fmt.Sprintf("L=%d", L), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, uint64(L)))
			W := 2*E + D
			pol := attn.Policy{Norm: attn.Softmax, TrainLen: 512, KeySize: D}.WithDefaults()
			a := &Attention{B: 1, L: L, E: E, D: D, Policy: pol}
			in := AttentionInputs{
				X:      upload(b, d, randF32(rng, L*W, 1)),
				GammaQ: upload(b, d, randF32(rng, D, 1)),
				GammaK: upload(b, d, randF32(rng, D, 1)),
			}
			out := nanBuf(b, d, L*(E+1))
			dout := upload(b, d, randF32(rng, L*(E+1), 1))
			dx := nanBuf(b, d, (L+2)*W)
			tm, err := d.NewTimer()
			must(b, err)
			defer tm.Close()
			// Warm up (JIT, workspaces, cuBLAS-free).
			must(b, d.AttentionForward(a, in, out))
			must(b, d.AttentionBackward(a, in, out, dout, dx))
			syncCheck(b, d)
			var fwdMs, bwdMs float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				must(b, tm.Start())
				must(b, d.AttentionForward(a, in, out))
				ms, err := tm.Stop()
				must(b, err)
				fwdMs += ms
				must(b, tm.Start())
				must(b, d.AttentionBackward(a, in, out, dout, dx))
				ms, err = tm.Stop()
				must(b, err)
				bwdMs += ms
			}
			n := float64(b.N)
			l2 := float64(L) * float64(L)
			b.ReportMetric(fwdMs/n, "fwd-ms")
			b.ReportMetric(bwdMs/n, "bwd-ms")
			b.ReportMetric(2*l2*(D+E)/(fwdMs/n*1e-3)/1e12, "fwd-TFLOP/s")
			b.ReportMetric(2*l2*(3*D+2*E)/(bwdMs/n*1e-3)/1e12, "bwd-TFLOP/s")
		})
	}
}
