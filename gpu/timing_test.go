//go:build gpu || gpuemu

package gpu

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"testing"

	"github.com/infoscale/gaualpha/attn"
)

// TimingEnv turns the timing tests on (scripts/gpu-check.sh sets it); they
// skip otherwise, and always on the emulator.
const TimingEnv = "GAUALPHA_GPU_TIMING"

// timingLine prints one result for scripts/gpu-check.sh to collect.
func timingLine(t testing.TB, v map[string]any) {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("GAUALPHA_TIMING %s\n", b)
}

func median(x []float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// TestTimeAttention times the fused attention forward and backward with
// CUDA events after warm-up, median of many runs, at the paper's sizes: one
// sequence, d = 128, d_v = E = 1536, RoPE, softmax, no dropout, L = 1024,
// 4096, 16384; and the bfloat16 forward on tensor cores (attn_fwd_tc_bf16_d128,
// -precision bf16's), whose output must be within 2e-2 of the float32 one.
// TFLOP/s count the matrix products: forward 2·L²·(D+E), backward
// 2·L²·(3D+2E) (logits again, dP, dV, dq̃, dk̃).
func TestTimeAttention(t *testing.T) {
	if os.Getenv(TimingEnv) == "" {
		t.Skip("timing: set " + TimingEnv + "=1 (scripts/gpu-check.sh does)")
	}
	if emulated() {
		t.Skip("the emulator does not time kernels")
	}
	d := testDevice(t)
	const D, E = 128, 1536
	for _, L := range []int{1024, 4096, 16384} {
		warm, runs := 3, 30
		if L == 16384 {
			runs = 10
		}
		rng := rand.New(rand.NewPCG(1, uint64(L)))
		W := 2*E + D
		pol := attn.Policy{Norm: attn.Softmax, TrainLen: 512, KeySize: D}.WithDefaults()
		a := &Attention{B: 1, L: L, E: E, D: D, Policy: pol}
		x := randF32(rng, L*W, 1)
		for r := 0; r < L; r++ { // moderate logits, like a trained model's
			for c := 2 * E; c < W; c++ {
				x[r*W+c] *= 0.3
			}
		}
		in := AttentionInputs{X: upload(t, d, x), GammaQ: upload(t, d, randF32(rng, D, 0.1)), GammaK: upload(t, d, randF32(rng, D, 0.1))}
		out := nanBuf(t, d, L*(E+1))
		dout := upload(t, d, randF32(rng, L*(E+1), 1))
		dx := nanBuf(t, d, (L+2)*W)
		tm, err := d.NewTimer()
		must(t, err)
		var fwd, bwd, fwd16 []float64
		ab := *a
		ab.BF16 = true
		inb := in
		inb.X = upload(t, d, ToBF16(x))
		out16 := nanBuf(t, d, L*(E+1))
		for i := 0; i < warm+runs; i++ {
			must(t, tm.Start())
			must(t, d.AttentionForward(a, in, out))
			ms, err := tm.Stop()
			must(t, err)
			must(t, tm.Start())
			must(t, d.AttentionBackward(a, in, out, dout, dx))
			ms2, err := tm.Stop()
			must(t, err)
			must(t, tm.Start())
			must(t, d.AttentionForward(&ab, inb, out16))
			ms3, err := tm.Stop()
			must(t, err)
			if i >= warm {
				fwd, bwd, fwd16 = append(fwd, ms), append(bwd, ms2), append(fwd16, ms3)
			}
		}
		tm.Close()
		syncCheck(t, d)
		o := download[float32](t, d, out, L*(E+1))
		check(t, fmt.Sprintf("L=%d forward output written and finite", L), o, o, 1e-4)
		check(t, fmt.Sprintf("L=%d bf16 tensor-core forward against float32", L), download[float32](t, d, out16, L*(E+1)), o, 2e-2)
		l2 := float64(L) * float64(L)
		fm, bm, fm16 := median(fwd), median(bwd), median(fwd16)
		timingLine(t, map[string]any{"case": "attn_fwd", "impl": "go-cuda-bf16-tc", "L": L, "d": D, "dv": E, "runs": runs, "ms": fm16, "tflops": 2 * l2 * (D + E) / (fm16 * 1e-3) / 1e12})
		timingLine(t, map[string]any{"case": "attn_fwd", "impl": "go-cuda", "L": L, "d": D, "dv": E, "runs": runs, "ms": fm, "tflops": 2 * l2 * (D + E) / (fm * 1e-3) / 1e12})
		timingLine(t, map[string]any{"case": "attn_bwd", "impl": "go-cuda", "L": L, "d": D, "dv": E, "runs": runs, "ms": bm, "tflops": 2 * l2 * (3*D + 2*E) / (bm * 1e-3) / 1e12})
		t.Logf("L=%d: forward %.3f ms, backward %.3f ms, bf16 forward (tensor cores) %.3f ms (median of %d)", L, fm, bm, fm16, runs)
	}
}
