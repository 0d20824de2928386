//go:build gpu || gpuemu

package gpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/kernels/cpu"
)

// testPolicies is every method × normalisation × CosScale (off, 3), with a
// training length and window small enough that L = 70 has masked, near,
// far and mixed tiles.
func testPolicies(n0, d int) []attn.Policy {
	var out []attn.Policy
	for _, m := range []attn.Method{attn.RoPE, attn.PI, attn.NTK, attn.YaRN, attn.PoSE, attn.ALiBi,
		attn.StreamingLLM, attn.LMInfinite, attn.ReRoPE, attn.Window} {
		for _, nm := range []attn.Norm{attn.Softmax, attn.SoftmaxPlus, attn.InfoScale} {
			for _, cs := range []float64{0, 3} {
				p := attn.Policy{Norm: nm, TrainLen: n0, KeySize: d, CosScale: cs, Method: m, Window: 20, ALiBiSlope: 0.05}
				out = append(out, p.WithDefaults())
			}
		}
	}
	return out
}

// attnCase is one attention problem with its CPU reference and device inputs.
type attnCase struct {
	cpu *cpu.Attention[float32]
	gpu *Attention
	in  AttentionInputs
}

func newAttnCase(t testing.TB, d *Device, rng *rand.Rand, B, L, E, D int, pol attn.Policy, drop float64) *attnCase {
	t.Helper()
	W := 2*E + D
	c := &attnCase{
		cpu: &cpu.Attention[float32]{B: B, L: L, E: E, D: D, Policy: pol, Dropout: drop, Key: 77, Site: 5, Threads: 2},
		gpu: &Attention{B: B, L: L, E: E, D: D, Policy: pol, Dropout: drop, Key: 77, Site: 5},
	}
	a := c.cpu
	a.X = randF32(rng, B*L*W, 1)
	a.GammaQ = make([]float32, D)
	a.GammaK = make([]float32, D)
	for i := 0; i < D; i++ {
		a.GammaQ[i] = float32(1 + 0.3*rng.NormFloat64())
		a.GammaK[i] = float32(1 + 0.3*rng.NormFloat64())
	}
	a.Mask = make([]int, B*L)
	mask := make([]int64, B*L)
	for b := 0; b < B; b++ {
		n := L - b*(L/3) // every other sequence is padded
		if b%2 == 0 {
			n = L
		}
		for i := 0; i < n; i++ {
			a.Mask[b*L+i] = 1
			mask[b*L+i] = 1
		}
	}
	if pol.Method == attn.PoSE {
		a.Pos = make([]int, B*L)
		pos := make([]int64, B*L)
		for r := range a.Pos {
			a.Pos[r] = (r%L)*3 + r/L // skip-wise, distinct per sequence
			pos[r] = int64(a.Pos[r])
		}
		c.in.Pos = upload(t, d, pos)
	}
	c.in.X = upload(t, d, a.X)
	c.in.GammaQ = upload(t, d, a.GammaQ)
	c.in.GammaK = upload(t, d, a.GammaK)
	c.in.Mask = upload(t, d, mask)
	c.in.Valid = ValidCounts(a.Mask, B, L)
	return c
}

// forward runs both and compares O and the log-sum-exp; it returns the
// CPU output for the backward.
func (c *attnCase) forward(t *testing.T, d *Device, tol float64) []float32 {
	t.Helper()
	a := c.cpu
	rows, OW := a.B*a.L, a.E+1
	want := make([]float32, rows*OW)
	must(t, a.Forward(want))
	out := nanBuf(t, d, rows*OW)
	must(t, d.AttentionForward(c.gpu, c.in, out))
	syncCheck(t, d)
	got := download[float32](t, d, out, rows*OW)
	o, lse := splitOut(got, rows, a.E)
	wo, wlse := splitOut(want, rows, a.E)
	check(t, "O", o, wo, tol)
	check(t, "lse", lse, wlse, tol)
	return want
}

func splitOut(out []float32, rows, E int) (o, lse []float32) {
	for r := 0; r < rows; r++ {
		o = append(o, out[r*(E+1):r*(E+1)+E]...)
		lse = append(lse, out[r*(E+1)+E])
	}
	return o, lse
}

// backward runs both backwards from the CPU forward output and compares dV,
// dz, dγq and dγk (and checks the zero u columns and padding).
func (c *attnCase) backward(t *testing.T, d *Device, rng *rand.Rand, out []float32, tol float64) {
	t.Helper()
	c.backwardWith(t, d, rng, out, tol, func(fwd, dout, dx DevicePtr) error {
		return d.AttentionBackward(c.gpu, c.in, fwd, dout, dx)
	})
}

// backwardWith runs a device backward (run: forward output, its gradient,
// dX) from the CPU forward output and compares it with the CPU's.
func (c *attnCase) backwardWith(t *testing.T, d *Device, rng *rand.Rand, out []float32, tol float64, run func(fwd, dout, dx DevicePtr) error) {
	t.Helper()
	a := c.cpu
	rows, OW, W, E, D := a.B*a.L, a.E+1, 2*a.E+a.D, a.E, a.D
	dout := randF32(rng, rows*OW, 1)
	want := make([]float32, (rows+2)*W)
	must(t, a.Backward(out, dout, want))
	dx := nanBuf(t, d, (rows+2)*W)
	must(t, run(upload(t, d, out), upload(t, d, dout), dx))
	syncCheck(t, d)
	got := download[float32](t, d, dx, (rows+2)*W)
	cols := func(x []float32, c0, c1 int) []float32 {
		var s []float32
		for r := 0; r < rows; r++ {
			s = append(s, x[r*W+c0:r*W+c1]...)
		}
		return s
	}
	for r := 0; r < rows; r++ {
		for col := 0; col < E; col++ {
			if got[r*W+col] != 0 {
				t.Fatalf("dx u column [%d,%d] = %v, want 0", r, col, got[r*W+col])
			}
		}
	}
	check(t, "dV", cols(got, E, 2*E), cols(want, E, 2*E), tol)
	check(t, "dz", cols(got, 2*E, W), cols(want, 2*E, W), tol)
	check(t, "dγq", got[rows*W:rows*W+D], want[rows*W:rows*W+D], tol)
	check(t, "dγk", got[(rows+1)*W:(rows+1)*W+D], want[(rows+1)*W:(rows+1)*W+D], tol)
	for i := rows * W; i < (rows+2)*W; i++ {
		if c := i % W; c >= D && got[i] != 0 {
			t.Fatalf("dx row %d column %d = %v, want 0", i/W, c, got[i])
		}
	}
}

// TestAttention runs the forward and backward for every method ×
// normalisation × CosScale, with a padded sequence, with and without
// dropout, against cpu.Attention[float32].
func TestAttention(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(11, 12))
	// L = 70: forward query tiles of 16 and key tiles of 32, backward tiles
	// of 32, all with a partial last tile; E = 70: two backward E chunks.
	const B, L, E, D = 2, 70, 70, 16
	for _, pol := range testPolicies(24, D) {
		for _, drop := range []float64{0, 0.3} {
			name := fmt.Sprintf("%s/%s/cos=%v/drop=%v", pol.Method, pol.Norm, pol.CosScale, drop)
			t.Run(name, func(t *testing.T) {
				c := newAttnCase(t, d, rng, B, L, E, D, pol, drop)
				out := c.forward(t, d, 1e-4)
				c.backward(t, d, rng, out, 1e-4)
			})
		}
	}
}

// TestAttentionShapes covers the other tile paths: several column blocks
// (every CPT), a key size of 128 (4 columns per lane in the backward) and
// 64 (the default model's), a batch of 3, a length below one tile.
func TestAttentionShapes(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(13, 14))
	type shape struct{ B, L, E, D, cpt int }
	shapes := []shape{{1, 40, 300, 8, 1}, {1, 40, 300, 8, 2}, {1, 40, 700, 8, 3}, {1, 40, 300, 8, 6},
		{3, 33, 20, 128, 0}, {2, 9, 5, 64, 0}}
	methods := []attn.Method{attn.LMInfinite, attn.ReRoPE, attn.Window, attn.ALiBi}
	for i, s := range shapes {
		pol := attn.Policy{Norm: attn.InfoScale, TrainLen: 12, KeySize: s.D, CosScale: 2, Method: methods[i%len(methods)], Window: 10}.WithDefaults()
		t.Run(fmt.Sprintf("B=%d/L=%d/E=%d/D=%d/cpt=%d/%s", s.B, s.L, s.E, s.D, s.cpt, pol.Method), func(t *testing.T) {
			c := newAttnCase(t, d, rng, s.B, s.L, s.E, s.D, pol, 0.2)
			c.gpu.CPT = s.cpt
			out := c.forward(t, d, 1e-4)
			c.backward(t, d, rng, out, 1e-4)
		})
	}
}

// TestAttentionBF16 runs the bfloat16-X forward against the float32 CPU
// forward on the unrounded X.
func TestAttentionBF16(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(15, 16))
	const B, L, E, D = 2, 70, 40, 16
	for _, m := range []attn.Method{attn.RoPE, attn.LMInfinite, attn.ALiBi} {
		pol := attn.Policy{Norm: attn.InfoScale, TrainLen: 24, KeySize: D, CosScale: 3, Method: m}.WithDefaults()
		t.Run(m.String(), func(t *testing.T) {
			c := newAttnCase(t, d, rng, B, L, E, D, pol, 0.1)
			c.gpu.BF16 = true
			c.in.X = upload(t, d, ToBF16(c.cpu.X))
			c.forward(t, d, 2e-2)
		})
	}
}

// TestAttentionTensorCores runs the tensor-core forward (bfloat16 q̃, k̃, P
// and V, float32 accumulation) against the float32 CPU forward on the
// rounded X, for every method it takes × normalisation × CosScale, and
// over the shapes of its tiles: a partial last query and key tile (L = 70
// and 130), one column block of 512 (E = 40, 300: a part of its warps
// idle; E a multiple of 8 or not: 16-byte or scalar copies of V) and two
// with a partial last one (E = 600), every D it is built for, a padded
// sequence. Its output must differ
// from the CUDA-core bfloat16 kernel's (NoTensorCores), which shows that it
// ran; where it does not apply (a far rotation, dropout, another D) the
// output equals that kernel's bit for bit.
func TestAttentionTensorCores(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(19, 20))
	type shape struct{ B, L, E, D int }
	run := func(t *testing.T, c *attnCase) []float32 {
		rows, OW := c.gpu.B*c.gpu.L, c.gpu.E+1
		out := nanBuf(t, d, rows*OW)
		must(t, d.AttentionForward(c.gpu, c.in, out))
		syncCheck(t, d)
		return download[float32](t, d, out, rows*OW)
	}
	bf16Case := func(t *testing.T, s shape, pol attn.Policy, drop float64) *attnCase {
		c := newAttnCase(t, d, rng, s.B, s.L, s.E, s.D, pol, drop)
		c.gpu.BF16 = true
		c.cpu.X = fromBF16(ToBF16(c.cpu.X))
		c.in.X = upload(t, d, ToBF16(c.cpu.X))
		return c
	}
	sameAsCUDACores := func(t *testing.T, c *attnCase, want bool) {
		tc := run(t, c)
		c.gpu.NoTensorCores = true
		plain := run(t, c)
		c.gpu.NoTensorCores = false
		same := true
		for i := range tc {
			if tc[i] != plain[i] {
				same = false
				break
			}
		}
		if same != want {
			t.Errorf("output equal to the CUDA-core kernel's: %v, want %v (tensor cores used where they should not be, or not used)", same, want)
		}
	}
	for _, m := range []attn.Method{attn.RoPE, attn.PI, attn.NTK, attn.YaRN, attn.PoSE, attn.ALiBi, attn.StreamingLLM, attn.Window} {
		for _, nm := range []attn.Norm{attn.Softmax, attn.SoftmaxPlus, attn.InfoScale} {
			for _, cs := range []float64{0, 3} {
				pol := attn.Policy{Norm: nm, TrainLen: 24, KeySize: 16, CosScale: cs, Method: m, Window: 20, ALiBiSlope: 0.05}.WithDefaults()
				t.Run(fmt.Sprintf("%s/%s/cos=%v", m, nm, cs), func(t *testing.T) {
					c := bf16Case(t, shape{2, 70, 40, 16}, pol, 0)
					c.forward(t, d, 2e-2)
					sameAsCUDACores(t, c, false)
				})
			}
		}
	}
	// The shapes, with one and two shared-memory stages (double buffering):
	// the same arithmetic in the same order, so the same bits.
	stages := func(t *testing.T, c *attnCase) {
		c.gpu.TCStages = 2
		two := run(t, c)
		c.gpu.TCStages = 1
		c.forward(t, d, 2e-2)
		one := run(t, c)
		c.gpu.TCStages = 0
		for i := range one {
			if math.Float32bits(one[i]) != math.Float32bits(two[i]) {
				t.Fatalf("element %d: %v with one stage, %v with two", i, one[i], two[i])
			}
		}
	}
	for _, s := range []shape{{2, 130, 300, 32}, {1, 70, 300, 64}, {1, 70, 600, 64}, {2, 70, 130, 128}, {1, 5, 9, 128}} {
		pol := attn.Policy{Norm: attn.InfoScale, TrainLen: 24, KeySize: s.D, CosScale: 2, Method: attn.RoPE}.WithDefaults()
		t.Run(fmt.Sprintf("B=%d/L=%d/E=%d/D=%d", s.B, s.L, s.E, s.D), func(t *testing.T) {
			c := bf16Case(t, s, pol, 0)
			c.forward(t, d, 2e-2)
			sameAsCUDACores(t, c, false)
			stages(t, c)
		})
	}
	// A window that skips key tiles: the next tile loaded is the next one
	// computed on, not the next in memory.
	for _, m := range []attn.Method{attn.Window, attn.StreamingLLM} {
		pol := attn.Policy{Norm: attn.Softmax, TrainLen: 24, KeySize: 16, Method: m, Window: 20}.WithDefaults()
		t.Run(fmt.Sprintf("skipped-tiles/%s", m), func(t *testing.T) {
			c := bf16Case(t, shape{2, 330, 40, 16}, pol, 0)
			c.forward(t, d, 2e-2)
			stages(t, c)
		})
	}
	for _, x := range []struct {
		name string
		s    shape
		m    attn.Method
		drop float64
	}{{"rerope", shape{1, 40, 20, 16}, attn.ReRoPE, 0}, {"lminfinite", shape{1, 40, 20, 16}, attn.LMInfinite, 0},
		{"dropout", shape{1, 40, 20, 16}, attn.RoPE, 0.1}, {"D=8", shape{1, 40, 20, 8}, attn.RoPE, 0}} {
		pol := attn.Policy{Norm: attn.InfoScale, TrainLen: 12, KeySize: x.s.D, Method: x.m, Window: 10}.WithDefaults()
		t.Run("not/"+x.name, func(t *testing.T) {
			sameAsCUDACores(t, bf16Case(t, x.s, pol, x.drop), true)
		})
	}
}

// TestAttentionEmptyRows: a fully padded sequence is refused on the host; a
// 0-wide window leaves each valid row only itself (O = v) and a padding row
// nothing (O = 0, no error).
func TestAttentionEmptyRows(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(17, 18))
	const L, E, D = 10, 3, 4
	pol := attn.Policy{Norm: attn.Softmax, TrainLen: 8, KeySize: D}.WithDefaults()
	c := newAttnCase(t, d, rng, 1, L, E, D, pol, 0)
	out := nanBuf(t, d, L*(E+1))
	if err := d.AttentionForward(c.gpu, AttentionInputs{X: c.in.X, GammaQ: c.in.GammaQ, GammaK: c.in.GammaK,
		Mask: c.in.Mask, Valid: []int{0}}, out); !errors.Is(err, attn.ErrEmptyRow) {
		t.Fatalf("all-padding sequence: %v, want attn.ErrEmptyRow", err)
	}

	c = loneKeyCase(t, d, rng, L, E, D)
	c.forward(t, d, 1e-6)
	// (A valid row always keeps itself as a key under every policy, so the
	// device's empty-row flag, like the CPU's error, is a safeguard that the
	// policies cannot reach.)
}

// loneKeyCase is a case of one sequence under windowed attention of
// window 0 whose first position is padding: every other row's only key is
// itself.
func loneKeyCase(t *testing.T, d *Device, rng *rand.Rand, L, E, D int) *attnCase {
	t.Helper()
	wp := attn.Policy{Norm: attn.InfoScale, TrainLen: 8, KeySize: D, Method: attn.Window}.WithDefaults()
	wp.Window = 0
	c := newAttnCase(t, d, rng, 1, L, E, D, wp, 0)
	mask := make([]int64, L)
	for i := range mask {
		mask[i] = 1
		c.cpu.Mask[i] = 1
	}
	mask[0], c.cpu.Mask[0] = 0, 0
	c.in.Mask = upload(t, d, mask)
	c.in.Valid = ValidCounts(c.cpu.Mask, 1, L)
	return c
}
