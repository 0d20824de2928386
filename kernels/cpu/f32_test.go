package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/pipeline"
)

// The float32 paths (vectorised exp, swish and softmax rows) agree with the
// float64 paths to float32 accuracy.
func TestFloat32KernelsMatchFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 50000 // above parallelMin: the split path runs too
	x64 := make([]float64, n)
	dy64 := make([]float64, n)
	for i := range x64 {
		x64[i] = 6 * rng.NormFloat64()
		dy64[i] = rng.NormFloat64()
	}
	x32, dy32 := f32(x64), f32(dy64)
	check := func(name string, got32 []float32, want []float64, tol float64) {
		t.Helper()
		for i := range want {
			if d := math.Abs(float64(got32[i]) - want[i]); d > tol*math.Max(1, math.Abs(want[i])) {
				t.Fatalf("%s[%d] (x=%v): float32 %v, float64 %v", name, i, x64[i], got32[i], want[i])
			}
		}
	}
	y64, y32 := make([]float64, n), make([]float32, n)
	Swish(y64, x64)
	Swish(y32, x32)
	check("swish", y32, y64, 1e-6)
	SwishGrad(y64, x64, dy64)
	SwishGrad(y32, x32, dy32)
	check("swish grad", y32, y64, 1e-6)

	const rows, v = 40, 3000
	lg64 := make([]float64, rows*v)
	for i := range lg64 {
		lg64[i] = 4 * rng.NormFloat64()
	}
	lg32 := f32(lg64)
	tg := make([]int, rows)
	for i := range tg {
		tg[i] = rng.IntN(v)
	}
	tg[3] = pipeline.IgnoreTarget
	l64, c64, _ := CrossEntropy(lg64, tg, v)
	l32, c32, _ := CrossEntropy(lg32, tg, v)
	if c64 != c32 || math.Abs(l64-l32) > 1e-5*l64 {
		t.Errorf("cross entropy: float32 %v (%d), float64 %v (%d)", l32, c32, l64, c64)
	}
	d64, d32 := make([]float64, rows*v), make([]float32, rows*v)
	CrossEntropyGrad(d64, lg64, tg, v, 0.7)
	CrossEntropyGrad(d32, lg32, tg, v, 0.7)
	for i := range d64 {
		if math.Abs(float64(d32[i])-d64[i]) > 1e-8+1e-5*math.Abs(d64[i]) {
			t.Fatalf("cross entropy grad [%d]: float32 %v, float64 %v", i, d32[i], d64[i])
		}
	}

	// Attention backward in float32 against float64.
	pol := attn.Policy{Norm: attn.InfoScale, TrainLen: 32, KeySize: 16, CosScale: 3, Method: attn.LMInfinite}.WithDefaults()
	const B, L, E, D = 2, 140, 6, 16
	a64 := randAttention(rng, B, L, E, D, pol)
	a64.Dropout, a64.Key = 0.1, 5
	a32 := &Attention[float32]{B: B, L: L, E: E, D: D, Policy: pol, Mask: a64.Mask, Dropout: 0.1, Key: 5,
		X: f32(a64.X), GammaQ: f32(a64.GammaQ), GammaK: f32(a64.GammaK)}
	out64 := make([]float64, B*L*a64.OutWidth())
	out32 := make([]float32, B*L*a32.OutWidth())
	if err := a64.Forward(out64); err != nil {
		t.Fatal(err)
	}
	if err := a32.Forward(out32); err != nil {
		t.Fatal(err)
	}
	dout64 := make([]float64, len(out64))
	for i := range dout64 {
		if i%a64.OutWidth() != E {
			dout64[i] = rng.NormFloat64()
		}
	}
	dx64 := make([]float64, (B*L+2)*a64.Width())
	dx32 := make([]float32, len(dx64))
	if err := a64.Backward(out64, dout64, dx64); err != nil {
		t.Fatal(err)
	}
	if err := a32.Backward(out32, f32(dout64), dx32); err != nil {
		t.Fatal(err)
	}
	var scale float64
	for _, v := range dx64 {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := range dx64 {
		if math.Abs(float64(dx32[i])-dx64[i]) > 2e-5*scale {
			t.Fatalf("attention dx[%d]: float32 %v, float64 %v (max |dx| %v)", i, dx32[i], dx64[i], scale)
		}
	}
}
