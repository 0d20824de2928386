//go:build gpu || gpuemu

package gpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
)

// matWork allocates the materialised path's workspace for a, NaN-filled
// (a region a kernel reads before anything writes it shows up as NaN).
func matWork(t *testing.T, d *Device, a *Attention, backward bool) DevicePtr {
	t.Helper()
	n, err := a.MatWorkspace(backward)
	must(t, err)
	return nanBuf(t, d, n/4)
}

// forwardMat is attnCase.forward on the materialised path.
func (c *attnCase) forwardMat(t *testing.T, d *Device, tol float64) []float32 {
	t.Helper()
	a := c.cpu
	rows, OW := a.B*a.L, a.E+1
	want := make([]float32, rows*OW)
	must(t, a.Forward(want))
	out := nanBuf(t, d, rows*OW)
	must(t, d.AttentionForwardMat(c.gpu, c.in, out, matWork(t, d, c.gpu, false)))
	syncCheck(t, d)
	got := download[float32](t, d, out, rows*OW)
	o, lse := splitOut(got, rows, a.E)
	wo, wlse := splitOut(want, rows, a.E)
	check(t, "O", o, wo, tol)
	check(t, "lse", lse, wlse, tol)
	return want
}

// backwardMat is attnCase.backward on the materialised path.
func (c *attnCase) backwardMat(t *testing.T, d *Device, rng *rand.Rand, out []float32, tol float64) {
	t.Helper()
	c.backwardWith(t, d, rng, out, tol, func(fwd, dout, dx DevicePtr) error {
		return d.AttentionBackwardMat(c.gpu, c.in, fwd, dout, dx, matWork(t, d, c.gpu, true))
	})
}

// TestAttentionMat runs the materialised forward and backward for every
// method × normalisation × CosScale against cpu.Attention[float32], with a
// padded sequence, with dropout on every other policy, with the batch in
// one group or one sequence per group, in float32 (1e-4), and for every
// third policy with bfloat16 products (MatBF16): the forward within 2e-2,
// the backward within 5e-2. Rounding q̃ and k̃ to 8 significant bits moves
// logits of magnitude ~10 by ~0.04, so P, and every gradient through P and
// dS (themselves rounded again for their products), moves by a few
// percent; a wrong index or variant would move them by O(1).
func TestAttentionMat(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(31, 32))
	// L = 70 with n0 = 24 and window 20: masked pairs, far pairs (ReRoPE's
	// and LM-Infinite's w = 24 <= L-1) and near ones.
	const B, L, E, D = 2, 70, 40, 16
	for i, pol := range testPolicies(24, D) {
		drop := 0.0
		if i%2 == 1 {
			drop = 0.3
		}
		group := i % 3 % 2 // 0 (all), 1, 0, ...
		for _, bf := range []bool{false, true} {
			if bf && i%3 != 0 {
				continue
			}
			name := fmt.Sprintf("%s/%s/cos=%v/drop=%v/bf16=%v", pol.Method, pol.Norm, pol.CosScale, drop, bf)
			t.Run(name, func(t *testing.T) {
				c := newAttnCase(t, d, rng, B, L, E, D, pol, drop)
				c.gpu.Group, c.gpu.MatBF16 = group, bf
				ftol, btol := 1e-4, 1e-4
				if bf {
					ftol, btol = 2e-2, 5e-2
				}
				out := c.forwardMat(t, d, ftol)
				c.backwardMat(t, d, rng, out, btol)
			})
		}
	}
}

// TestAttentionMatShapes: a key size of 128 and 64, a batch of 3 in
// groups of 2 (a partial last group), a length of one, and a bfloat16 X
// (Attention.BF16: the forward reads V and z in bfloat16), against the CPU
// on the rounded X.
func TestAttentionMatShapes(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(33, 34))
	type shape struct{ B, L, E, D, group int }
	methods := []attn.Method{attn.ReRoPE, attn.ALiBi, attn.LMInfinite, attn.RoPE}
	for i, s := range []shape{{3, 33, 20, 128, 2}, {2, 9, 5, 64, 0}, {2, 1, 3, 8, 1}, {1, 40, 300, 8, 0}} {
		pol := attn.Policy{Norm: attn.InfoScale, TrainLen: 12, KeySize: s.D, CosScale: 2, Method: methods[i], Window: 10}.WithDefaults()
		t.Run(fmt.Sprintf("B=%d/L=%d/E=%d/D=%d/group=%d/%s", s.B, s.L, s.E, s.D, s.group, pol.Method), func(t *testing.T) {
			c := newAttnCase(t, d, rng, s.B, s.L, s.E, s.D, pol, 0.2)
			c.gpu.Group = s.group
			out := c.forwardMat(t, d, 1e-4)
			c.backwardMat(t, d, rng, out, 1e-4)
		})
	}
	for _, m := range []attn.Method{attn.RoPE, attn.ReRoPE} {
		pol := attn.Policy{Norm: attn.SoftmaxPlus, TrainLen: 24, KeySize: 16, CosScale: 3, Method: m}.WithDefaults()
		t.Run("bf16X/"+m.String(), func(t *testing.T) {
			c := newAttnCase(t, d, rng, 2, 70, 40, 16, pol, 0.1)
			c.cpu.X = roundBF16(c.cpu.X)
			c.gpu.BF16 = true
			c.in.X = upload(t, d, ToBF16(c.cpu.X))
			c.forwardMat(t, d, 2e-2)
			dx := nanBuf(t, d, 1)
			if err := d.AttentionBackwardMat(c.gpu, c.in, dx, dx, dx, dx); err == nil {
				t.Fatal("backward with a bfloat16 X: no error")
			}
		})
	}
}

// TestAttentionMatErrors: a bad group, a missing workspace and a fully
// padded sequence are refused; a padding row that no key reaches (a window
// of 0 around a padded key) gets zeros and no error, as on the CPU.
func TestAttentionMatErrors(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(35, 36))
	const L, E, D = 10, 3, 4
	pol := attn.Policy{Norm: attn.Softmax, TrainLen: 8, KeySize: D}.WithDefaults()
	c := newAttnCase(t, d, rng, 1, L, E, D, pol, 0)
	out := nanBuf(t, d, L*(E+1))
	c.gpu.Group = 2
	if _, err := c.gpu.MatWorkspace(false); err == nil {
		t.Error("group 2 of a batch of 1: no error")
	}
	c.gpu.Group = 0
	if err := d.AttentionForwardMat(c.gpu, c.in, out, 0); err == nil {
		t.Error("no workspace: no error")
	}
	if err := d.AttentionForwardMat(c.gpu, AttentionInputs{X: c.in.X, GammaQ: c.in.GammaQ, GammaK: c.in.GammaK,
		Mask: c.in.Mask, Valid: []int{0}}, out, matWork(t, d, c.gpu, false)); err == nil {
		t.Error("all-padding sequence: no error")
	}

	c = loneKeyCase(t, d, rng, L, E, D)
	c.forwardMat(t, d, 1e-6)
}
