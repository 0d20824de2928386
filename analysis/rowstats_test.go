package analysis

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/kernels/cpu"
)

// A uniform row (all logits equal) has entropy ln(n) and all its mass in a
// band wider than the row; a one-hot-like row (one logit far above the
// rest) has entropy near 0 and its mass at that key.
func TestRowStats(t *testing.T) {
	const L, E, D, valid = 100, 2, 4, 90
	pol := attn.Policy{TrainLen: 8, KeySize: D}.WithDefaults()
	a := &cpu.Attention[float64]{B: 1, L: L, E: E, D: D, Policy: pol}
	a.X = make([]float64, L*a.Width()) // z = 0: every logit is 0
	a.GammaQ, a.GammaK = []float64{1, 1, 1, 1}, []float64{1, 1, 1, 1}
	a.Mask = make([]int, L)
	for i := 0; i < valid; i++ {
		a.Mask[i] = 1
	}
	out := make([]float64, L*a.OutWidth())
	if err := a.Forward(out); err != nil {
		t.Fatal(err)
	}
	h, m, err := rowStats(a, out, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < L; i++ {
		if i >= valid {
			if !math.IsNaN(h[i]) || !math.IsNaN(m[i]) {
				t.Fatalf("padding row %d: entropy %v mass %v, want NaN", i, h[i], m[i])
			}
			continue
		}
		if math.Abs(h[i]-math.Log(valid)) > 1e-12 || math.Abs(m[i]-1) > 1e-12 {
			t.Fatalf("row %d: entropy %v (want ln %d = %v), mass %v", i, h[i], valid, math.Log(valid), m[i])
		}
	}
	// Band 2 holds the keys i-2..i+2 that exist: 5 of 90 in the middle.
	if _, m2, err := rowStats(a, out, 2); err != nil || math.Abs(m2[50]-5.0/valid) > 1e-12 || math.Abs(m2[0]-3.0/valid) > 1e-12 {
		t.Errorf("band 2: mass %v in the middle (want 5/90), %v at row 0 (want 3/90), %v", m2[50], m2[0], err)
	}
	// The statistics of a random attention do not depend on the blocking:
	// a row's entropy is the same in float32 as in float64 to 1e-4.
	rng := rand.New(rand.NewPCG(1, 1))
	a.Mask = nil
	for i := range a.X {
		a.X[i] = rng.NormFloat64()
	}
	if err := a.Forward(out); err != nil {
		t.Fatal(err)
	}
	h64, _, err := rowStats(a, out, 3)
	if err != nil {
		t.Fatal(err)
	}
	a32 := &cpu.Attention[float32]{B: 1, L: L, E: E, D: D, Policy: pol, GammaQ: []float32{1, 1, 1, 1}, GammaK: []float32{1, 1, 1, 1}}
	for _, v := range a.X {
		a32.X = append(a32.X, float32(v))
	}
	out32 := make([]float32, L*a32.OutWidth())
	if err := a32.Forward(out32); err != nil {
		t.Fatal(err)
	}
	h32, _, err := rowStats(a32, out32, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h64 {
		if math.Abs(h64[i]-h32[i]) > 1e-4 {
			t.Fatalf("row %d: entropy %v in float64, %v in float32", i, h64[i], h32[i])
		}
	}
}
