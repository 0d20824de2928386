package optim

import (
	"math"
	"testing"
)

func TestAdamWAgainstHandComputedSteps(t *testing.T) {
	o := NewAdamW([]int{1, 1}, []bool{true, false}, 0.01)
	p := [][]float32{{1}, {1}}
	for i, g := range []float32{0.5, -0.25} {
		if err := o.Update(p, [][]float32{{g}, {g}}, 0.1); err != nil {
			t.Fatal(err)
		}
		// Values computed by hand from PyTorch's AdamW rule in float64.
		want := []float64{0.899000002, 0.8714672987058463}[i]
		if math.Abs(float64(p[0][0])-want) > 1e-6 {
			t.Errorf("step %d: decayed parameter %v, want %v", i+1, p[0][0], want)
		}
	}
	// Without decay: step 1 moves by lr·m̂/(√v̂+ε) = 0.1·0.5/0.5.
	o = NewAdamW([]int{1}, []bool{false}, 0.01)
	q := [][]float32{{1}}
	o.Update(q, [][]float32{{0.5}}, 0.1)
	if math.Abs(float64(q[0][0])-0.9) > 1e-6 {
		t.Errorf("undecayed parameter %v, want 0.9", q[0][0])
	}
}

func TestSchedule(t *testing.T) {
	s := Schedule{Peak: 1e-3, Warmup: 10, Total: 100}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 0}, {5, 5e-4}, {10, 1e-3}, {55, 5e-4}, {99, 1e-3 / 90}, {100, 0}, {150, 0}} {
		if got := s.At(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("step %d: lr %v, want %v", c.step, got, c.want)
		}
	}
}

func TestClipGradNorm(t *testing.T) {
	g := [][]float32{{3, 0}, {4}}
	if n := ClipGradNorm(g, 1); math.Abs(n-5) > 1e-9 {
		t.Fatalf("norm %v, want 5", n)
	}
	if got := math.Hypot(float64(g[0][0]), float64(g[1][0])); math.Abs(got-1) > 1e-5 {
		t.Errorf("clipped norm %v, want 1", got)
	}
	g = [][]float32{{0.3}}
	ClipGradNorm(g, 1)
	if g[0][0] != 0.3 {
		t.Errorf("small gradient changed to %v", g[0][0])
	}
}
