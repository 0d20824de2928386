package optim

import (
	"math"
	"math/rand/v2"
	"runtime"
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

// SumSquares is the float64 sum of squares to within the summation bound,
// gives the same bits with one core or several, and ClipGradNorm scales
// every element by the same float32 factor (the scalar product's bits),
// allocating nothing once warm.
func TestSumSquaresAndClip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	sizes := []int{1, 64, normPiece - 1, normPiece, normPiece + 1, 5*normPiece + 77, 200000}
	grads := make([][]float32, len(sizes))
	var exact float64
	for i, n := range sizes {
		grads[i] = make([]float32, n)
		for j := range grads[i] {
			v := float32(rng.NormFloat64() * 0.01)
			grads[i][j] = v
			exact += float64(v) * float64(v)
		}
	}
	var total int
	for _, n := range sizes {
		total += n
	}
	got := SumSquares(grads)
	if math.Abs(got-exact) > float64(total)*0x1p-52*exact {
		t.Errorf("SumSquares %v, float64 loop %v", got, exact)
	}
	prev := runtime.GOMAXPROCS(1)
	one := SumSquares(grads)
	runtime.GOMAXPROCS(max(2, prev))
	two := SumSquares(grads)
	runtime.GOMAXPROCS(prev)
	if math.Float64bits(one) != math.Float64bits(got) || math.Float64bits(two) != math.Float64bits(got) {
		t.Errorf("SumSquares depends on the cores: %v (1), %v (2), %v", one, two, got)
	}

	want := make([][]float32, len(grads))
	for i, g := range grads {
		want[i] = append([]float32(nil), g...)
	}
	norm := ClipGradNorm(grads, 0.01)
	if norm != math.Sqrt(got) {
		t.Errorf("ClipGradNorm returned %v, want sqrt(SumSquares) = %v", norm, math.Sqrt(got))
	}
	f := float32(0.01 / (norm + 1e-6))
	for i := range want {
		for j, v := range want[i] {
			if w := v * f; math.Float32bits(grads[i][j]) != math.Float32bits(w) {
				t.Fatalf("tensor %d element %d: %v, want %v", i, j, grads[i][j], w)
			}
		}
	}
	if a := testing.AllocsPerRun(5, func() { ClipGradNorm(grads, 1e-3) }); a != 0 {
		t.Errorf("ClipGradNorm allocates %v times per call", a)
	}
}
