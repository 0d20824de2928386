//go:build gpu || gpuemu

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
)

// TestAttentionOutStride runs every path with out and dout rows padded
// (Attention.OutStride: OutStrideFor(E), 16-byte aligned rows, and an odd
// E+5) against the dense layout (E+1): the forward's O and log-sum-exp are
// the same bits (no atomics in the forwards; the products' sums do not
// depend on the leading dimension), the padding columns keep the NaN they
// were filled with (never written), and the backward from a dout whose
// padding is NaN gives the dense backward's dx (to the last bits the
// atomics of dq̃ leave: 1e-6), so the padding is never read.
func TestAttentionOutStride(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(41, 42))
	const B, L, E, D = 2, 70, 70, 16
	rows, W := B*L, 2*E+D
	type path struct {
		name    string
		bf16    bool // bfloat16 X in the forward (tensor cores, or the materialised products)
		mat     bool
		forward func(a *Attention, in AttentionInputs, out DevicePtr) error
	}
	fused := func(a *Attention, in AttentionInputs, out DevicePtr) error { return d.AttentionForward(a, in, out) }
	mat := func(a *Attention, in AttentionInputs, out DevicePtr) error {
		return d.AttentionForwardMat(a, in, out, matWork(t, d, a, false))
	}
	for _, p := range []path{{"fused", false, false, fused}, {"tensor-cores", true, false, fused},
		{"materialized", false, true, mat}, {"materialized-bf16", true, true, mat}} {
		for _, m := range []attn.Method{attn.RoPE, attn.ReRoPE} {
			pol := attn.Policy{Norm: attn.InfoScale, TrainLen: 24, KeySize: D, Method: m, Window: 20}.WithDefaults()
			t.Run(fmt.Sprintf("%s/%s", p.name, m), func(t *testing.T) {
				c := newAttnCase(t, d, rng, B, L, E, D, pol, 0)
				in := c.in
				if p.bf16 {
					c.gpu.BF16 = true
					in.X = upload(t, d, ToBF16(c.cpu.X))
				}
				dout := randF32(rng, rows*(E+1), 1)
				var ref, refDx []float32
				for _, ow := range []int{E + 1, OutStrideFor(E), E + 5} {
					a := *c.gpu
					a.OutStride = ow
					out := nanBuf(t, d, rows*ow)
					must(t, p.forward(&a, in, out))
					syncCheck(t, d)
					got := download[float32](t, d, out, rows*ow)
					dense := make([]float32, 0, rows*(E+1))
					for r := range rows {
						dense = append(dense, got[r*ow:r*ow+E+1]...)
						for col := E + 1; col < ow; col++ {
							if v := got[r*ow+col]; !math.IsNaN(float64(v)) {
								t.Fatalf("stride %d: padding [%d,%d] written (%v)", ow, r, col, v)
							}
						}
					}
					if ref == nil {
						ref = dense
					} else {
						for i := range ref {
							if math.Float32bits(ref[i]) != math.Float32bits(dense[i]) {
								t.Fatalf("stride %d: forward element %d is %v, %v with stride %d", ow, i, dense[i], ref[i], E+1)
							}
						}
					}
					// The backward, as a training graph runs it: float32 X.
					if p.bf16 && !p.mat {
						continue // the fused backward is float32: covered by "fused"
					}
					b := *c.gpu
					b.BF16, b.MatBF16, b.OutStride = false, p.bf16, ow
					fwd, dd := nanBuf(t, d, rows*ow), nanBuf(t, d, rows*ow)
					for r := range rows {
						must(t, Upload(d, fwd.Add(4*r*ow), ref[r*(E+1):(r+1)*(E+1)]))
						must(t, Upload(d, dd.Add(4*r*ow), dout[r*(E+1):(r+1)*(E+1)]))
					}
					dx := nanBuf(t, d, (rows+2)*W)
					if p.mat {
						must(t, d.AttentionBackwardMat(&b, c.in, fwd, dd, dx, matWork(t, d, &b, true)))
					} else {
						must(t, d.AttentionBackward(&b, c.in, fwd, dd, dx))
					}
					syncCheck(t, d)
					gotDx := download[float32](t, d, dx, (rows+2)*W)
					if refDx == nil {
						check(t, "dx written and finite", gotDx, gotDx, 1e-6)
						refDx = gotDx
					} else {
						check(t, fmt.Sprintf("dx with stride %d", ow), gotDx, refDx, 1e-6)
					}
				}
			})
		}
	}
	a := &Attention{B: B, L: L, E: E, D: D, Policy: attn.Policy{Norm: attn.Softmax, TrainLen: 24, KeySize: D}.WithDefaults(), OutStride: E}
	in := AttentionInputs{X: nanBuf(t, d, rows*W), GammaQ: nanBuf(t, d, D), GammaK: nanBuf(t, d, D)}
	if err := d.AttentionForward(a, in, nanBuf(t, d, rows*(E+1))); err == nil {
		t.Error("an out stride below E+1 was accepted")
	}
	if got := OutStrideFor(1536); got != 1544 {
		t.Errorf("OutStrideFor(1536) = %d, want 1544", got)
	}
}
