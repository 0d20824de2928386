package stats

import (
	"math"
	"testing"
)

func TestSignFlipHandCounted(t *testing.T) {
	cases := []struct {
		name  string
		diffs []float64
		want  float64
	}{
		// 3 units, 8 assignments; sums: ±1±2±3 = 6, 4, 2, 0, 0, -2, -4, -6.
		// |sum| >= 6: two of eight.
		{"all one sign", []float64{1, 2, 3}, 2.0 / 8},
		// Observed 1+2-3 = 0: every assignment is at least as extreme.
		{"zero mean", []float64{1, 2, -3}, 1},
		// Observed 3+2-1 = 4: |sum| >= 4 for 6, 4, -4, -6: four of eight.
		{"one against", []float64{3, 2, -1}, 4.0 / 8},
		// A zero difference doubles every count: the same p.
		{"a zero unit", []float64{1, 2, 3, 0}, 2.0 / 8},
		// Ten units of one sign: 2/1024.
		{"ten wins", []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 2.0 / 1024},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := SignFlip(c.diffs, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(p-c.want) > 1e-15 {
				t.Errorf("p = %v, want %v", p, c.want)
			}
		})
	}
	if _, err := SignFlip(nil, 10, 1); err == nil {
		t.Error("no units accepted")
	}
	if _, err := SignFlip([]float64{1, math.NaN()}, 10, 1); err == nil {
		t.Error("NaN accepted")
	}
}

// Beyond the exact limit the sampled p-value is close to the exact one: 24
// units of which 18 are +1 and 6 are −1 (observed sum 12); the exact
// p-value is P(|2B − 24| >= 12) for B ~ Binomial(24, 1/2), 2·P(B <= 6).
func TestSignFlipSampled(t *testing.T) {
	var diffs []float64
	for i := range 24 {
		diffs = append(diffs, map[bool]float64{true: -1, false: 1}[i < 6])
	}
	cdf, _ := binomHalfCDF(6, 24)
	want := 2 * cdf
	p, err := SignFlip(diffs, 200000, 7)
	if err != nil {
		t.Fatal(err)
	}
	if se := math.Sqrt(want * (1 - want) / 200000); math.Abs(p-want) > 5*se {
		t.Errorf("sampled p = %v, exact %v (5 standard errors: %v)", p, want, 5*se)
	}
	if _, err := SignFlip(diffs, 0, 7); err == nil {
		t.Error("no resamples accepted beyond the exact limit")
	}
}

func TestPowerHelpers(t *testing.T) {
	if got := SignFlipMinP(10); got != 2.0/1024 {
		t.Errorf("SignFlipMinP(10) = %v", got)
	}
	// Holm over 10 comparisons: the first needs p < 0.005; 2/2^n < 0.005
	// first at n = 9 (2/512 = 0.0039).
	if got := MinUnits(0.005); got != 9 {
		t.Errorf("MinUnits(0.005) = %d, want 9", got)
	}
	for _, c := range []struct{ p, z float64 }{{0.975, 1.959963984540054}, {0.8, 0.8416212335729143}, {0.5, 0}, {0.025, -1.959963984540054}} {
		if got := NormalQuantile(c.p); math.Abs(got-c.z) > 1e-12 {
			t.Errorf("NormalQuantile(%v) = %v, want %v", c.p, got, c.z)
		}
	}
	// (1.96 + 0.8416)·2/√16 = 1.40 (hand computed: 2.8016·0.5).
	if got := MinDetectable(2, 16, 0.05, 0.8); math.Abs(got-1.400792609056484) > 1e-12 {
		t.Errorf("MinDetectable = %v", got)
	}
}
