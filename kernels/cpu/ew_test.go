package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/pipeline"
)

// The float32 elementwise kernels (simd vectors, split over the team from
// parallelMin elements) against the float64 loops, element by element, at
// sizes below and above the split: additions and products are the float32
// rounding of the float64 result, and dropout keeps exactly the elements
// pipeline.Keep keeps.
func TestFloat32ElementwiseMatchFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 15, 17, 1000, 3 * parallelMin / 2} {
		x64, y64 := make([]float64, n), make([]float64, n)
		for i := range x64 {
			x64[i] = float64(float32(rng.NormFloat64()))
			y64[i] = float64(float32(rng.NormFloat64()))
		}
		x32, y32 := f32(x64), f32(y64)
		z64, z32 := make([]float64, n), make([]float32, n)

		Add(z64, x64, y64)
		Add(z32, x32, y32)
		if !slices.Equal(z32, f32(z64)) {
			t.Errorf("n=%d: Add differs from the rounded float64 sum", n)
		}

		const p, key, site = 0.3, 1234, 6
		Dropout(z64, x64, p, key, site)
		Dropout(z32, x32, p, key, site)
		thr := pipeline.DropThreshold(p)
		kept := 0
		for i := range z32 {
			keep := pipeline.Keep(key, site, uint64(i), thr)
			if keep {
				kept++
			}
			if keep != (z32[i] != 0) || keep != (z64[i] != 0) || math.Float32bits(z32[i]) != math.Float32bits(float32(x32[i]*float32(1/(1-p)))) && keep {
				t.Fatalf("n=%d: dropout element %d: float32 %v, float64 %v, kept %v", n, i, z32[i], z64[i], keep)
			}
		}
		if n > 1000 && math.Abs(float64(kept)/float64(n)-(1-p)) > 0.02 {
			t.Errorf("n=%d: dropout kept %d", n, kept)
		}
		// In place, as the executor runs it.
		w32 := slices.Clone(x32)
		Dropout(w32, w32, p, key, site)
		if !slices.Equal(w32, z32) {
			t.Errorf("n=%d: dropout in place differs", n)
		}
	}

	// The gate and its gradients on rows of X = [u | v | z] (width xw) and
	// O | lse (width ow).
	for _, rows := range []int{3, 2 * parallelMin / 40} {
		const e, xw, ow = 40, 97, 41
		x64, o64, dy64 := make([]float64, rows*xw), make([]float64, rows*ow), make([]float64, rows*e)
		for _, s := range [][]float64{x64, o64, dy64} {
			for i := range s {
				s[i] = float64(float32(rng.NormFloat64()))
			}
		}
		y64, y32 := make([]float64, rows*e), make([]float32, rows*e)
		Gate(y64, x64, o64, e, xw, ow)
		Gate(y32, f32(x64), f32(o64), e, xw, ow)
		if !slices.Equal(y32, f32(y64)) {
			t.Errorf("rows=%d: Gate differs", rows)
		}
		gx64, gx32 := make([]float64, rows*xw), make([]float32, rows*xw)
		for i := range gx32 {
			gx32[i] = 9 // written over
		}
		GateGradX(gx64, o64, dy64, e, xw, ow)
		GateGradX(gx32, f32(o64), f32(dy64), e, xw, ow)
		if !slices.Equal(gx32, f32(gx64)) {
			t.Errorf("rows=%d: GateGradX differs", rows)
		}
		go64, go32 := make([]float64, rows*ow), make([]float32, rows*ow)
		for i := range go32 {
			go32[i] = 9
		}
		GateGradO(go64, x64, dy64, e, xw, ow)
		GateGradO(go32, f32(x64), f32(dy64), e, xw, ow)
		if !slices.Equal(go32, f32(go64)) {
			t.Errorf("rows=%d: GateGradO differs", rows)
		}
	}
}

// A workspace reused by calls with other policies, lengths and position
// ids (its rotation tables cached from call to call) gives the results of
// a fresh one, bit for bit.
func TestWorkspaceRotationCache(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	const B, E, D = 2, 5, 8
	base := attn.Policy{Norm: attn.Softmax, TrainLen: 16, KeySize: D, Method: attn.RoPE}.WithDefaults()
	other := base
	other.RopeBase = 500
	ntk := base
	ntk.Method = attn.NTK
	type call struct {
		pol attn.Policy
		L   int
		pos func(r, L int) int
	}
	seq := func(r, L int) int { return r % L }
	skip := func(r, L int) int { // PoSE-like: a jump inside each sequence
		if i := r % L; i >= L/2 {
			return i + 3*L
		}
		return r % L
	}
	calls := []call{{base, 16, seq}, {base, 16, seq}, {other, 16, seq}, {base, 16, skip}, {base, 24, seq}, {ntk, 40, seq}, {base, 16, seq}}
	var shared Workspace
	for i, c := range calls {
		a := randAttention(rng, B, c.L, E, D, c.pol)
		a.Pos = make([]int, B*c.L)
		for r := range a.Pos {
			a.Pos[r] = c.pos(r, c.L)
		}
		fresh := make([]float64, B*c.L*a.OutWidth())
		a.Work = new(Workspace)
		if err := a.Forward(fresh); err != nil {
			t.Fatal(err)
		}
		a.Work = &shared
		got := make([]float64, len(fresh))
		if err := a.Forward(got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, fresh) {
			t.Errorf("call %d (%+v, L=%d): the shared workspace's result differs from a fresh one's", i, c.pol.Method, c.L)
		}
	}
}

// GatedSwishGrad has the bits of GateGradX, the gradient sum and SwishGrad
// run one after the other, up to the sign of zeros, for float32 (vector
// rows on the team) and float64.
func TestGatedSwishGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const e, xw, ow = 24, 64, 25
	for _, rows := range []int{3, 2 * parallelMin / xw} {
		pre, o, dy, d := make([]float64, rows*xw), make([]float64, rows*ow), make([]float64, rows*e), make([]float64, (rows+2)*xw)
		for _, s := range [][]float64{pre, o, dy, d} {
			for i := range s {
				s[i] = float64(float32(rng.NormFloat64()))
			}
		}
		for r := 0; r < rows; r++ {
			clear(d[r*xw : r*xw+e]) // the attention's dX has zero u columns
		}
		o[0], dy[0] = 0, -1 // a -0 product
		check := func(name string, got, want []float32) {
			t.Helper()
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] == 0 && want[i] == 0) {
					t.Fatalf("rows=%d %s: element %d is %v, want %v", rows, name, i, got[i], want[i])
				}
			}
		}
		// Reference: the three ops.
		gx := make([]float32, rows*xw)
		GateGradX(gx, f32(o), f32(dy), e, xw, ow)
		sum := make([]float32, rows*xw)
		Add(sum, gx, f32(d)[:rows*xw])
		want := make([]float32, rows*xw)
		SwishGrad(want, f32(pre), sum)

		got := make([]float32, rows*xw)
		GatedSwishGrad(got, f32(pre), f32(o), f32(dy), f32(d), e, xw, ow)
		check("float32", got, want)
		inPlace := f32(pre)
		GatedSwishGrad(inPlace, inPlace, f32(o), f32(dy), f32(d), e, xw, ow)
		check("float32 in place", inPlace, want)

		gx64, sum64, want64 := make([]float64, rows*xw), make([]float64, rows*xw), make([]float64, rows*xw)
		GateGradX(gx64, o, dy, e, xw, ow)
		Add(sum64, gx64, d[:rows*xw])
		SwishGrad(want64, pre, sum64)
		got64 := make([]float64, rows*xw)
		GatedSwishGrad(got64, pre, o, dy, d, e, xw, ow)
		for i := range want64 {
			if math.Float64bits(got64[i]) != math.Float64bits(want64[i]) && !(got64[i] == 0 && want64[i] == 0) {
				t.Fatalf("rows=%d float64: element %d is %v, want %v", rows, i, got64[i], want64[i])
			}
		}
	}
}

// DropoutAddNorm and the attention's GateOut give the bits of the ops they
// fuse (Dropout, Add, Norm; Gate), float32 and float64.
func TestFusedResidualAndGate(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	const n = 64
	for _, rows := range []int{3, 2 * parallelMin / n} {
		h, y := make([]float64, rows*n), make([]float64, rows*n)
		for i := range h {
			h[i], y[i] = float64(float32(rng.NormFloat64())), float64(float32(rng.NormFloat64()))
		}
		const p, key, site = 0.1, 77, 2
		// float32
		ws, wo := make([]float32, rows*n), make([]float32, rows*n)
		Dropout(ws, f32(y), p, key, site)
		Add(ws, f32(h), ws)
		Norm(wo, ws, n)
		gs, gout := make([]float32, rows*n), make([]float32, rows*n)
		DropoutAddNorm(gs, gout, f32(h), f32(y), n, p, key, site)
		if !slices.Equal(gs, ws) || !slices.Equal(gout, wo) {
			t.Errorf("rows=%d: float32 DropoutAddNorm differs from Dropout, Add, Norm", rows)
		}
		// float64
		ws64, wo64 := make([]float64, rows*n), make([]float64, rows*n)
		Dropout(ws64, y, p, key, site)
		Add(ws64, h, ws64)
		Norm(wo64, ws64, n)
		gs64, gout64 := make([]float64, rows*n), make([]float64, rows*n)
		DropoutAddNorm(gs64, gout64, h, y, n, p, key, site)
		if !slices.Equal(gs64, ws64) || !slices.Equal(gout64, wo64) {
			t.Errorf("rows=%d: float64 DropoutAddNorm differs from Dropout, Add, Norm", rows)
		}
	}

	pol := attn.Policy{Norm: attn.Softmax, TrainLen: 16, KeySize: 8, Method: attn.RoPE}.WithDefaults()
	const B, L, E, D = 2, 20, 6, 8
	a := randAttention(rng, B, L, E, D, pol)
	a32 := &Attention[float32]{B: B, L: L, E: E, D: D, Policy: pol, Mask: a.Mask, Dropout: 0.2, Key: 3, Site: 1,
		X: f32(a.X), GammaQ: f32(a.GammaQ), GammaK: f32(a.GammaK)}
	out := make([]float32, B*L*a32.OutWidth())
	a32.GateOut = make([]float32, B*L*E)
	if err := a32.Forward(out); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, B*L*E)
	Gate(want, a32.X, out, E, a32.Width(), a32.OutWidth())
	if !slices.Equal(a32.GateOut, want) {
		t.Error("the attention's GateOut differs from Gate on its output")
	}
}
