package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// normRef is GAU-α's Norm and its gradient for one row in float64: y =
// x/s, s = sqrt(mean(x²) + ε), dx = (dy - y·mean(dy⊙y))/s. size is the
// magnitude of dx's terms, |dy|/s + |y·mean(dy⊙y)|/s, for the error bound.
func normRef(x, dy []float64) (y, dx, size []float64) {
	n := float64(len(x))
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	s := math.Sqrt(ss/n + NormEps)
	var m float64
	for i, v := range x {
		m += dy[i] * v / s
	}
	m /= n
	for i, v := range x {
		y = append(y, v/s)
		dx = append(dx, (dy[i]-v/s*m)/s)
		size = append(size, (math.Abs(dy[i])+math.Abs(v/s*m))/s)
	}
	return y, dx, size
}

// TestNormFloat32 checks the float32 Norm and NormGrad (vector kernels of
// package simd) against the float64 formulas row by row, at widths that
// exercise every vector tail and at a size that splits the rows across
// cores, including zero rows (s = sqrt(ε)) and rows of large and tiny
// magnitude.
func TestNormFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, c := range []struct {
		rows, n int
		scale   float64
	}{
		{3, 1, 1}, {5, 7, 1}, {4, 17, 2}, {6, 33, 0.5}, {3, 100, 1e-3},
		{2, 768, 1e15}, {2, 768, 1e-15}, {64, 768, 1}, // 64×768 > parallelMin: split
	} {
		t.Run(fmt.Sprintf("%dx%d", c.rows, c.n), func(t *testing.T) {
			x := make([]float32, c.rows*c.n)
			dy := make([]float32, len(x))
			for i := range x {
				x[i] = float32(c.scale * rng.NormFloat64())
				dy[i] = float32(rng.NormFloat64())
			}
			clear(x[:c.n]) // a zero row
			y := make([]float32, len(x))
			dx := make([]float32, len(x))
			Norm(y, x, c.n)
			NormGrad(dx, x, dy, c.n)
			for r := 0; r < c.rows; r++ {
				x64, dy64 := make([]float64, c.n), make([]float64, c.n)
				for i := range x64 {
					x64[i], dy64[i] = float64(x[r*c.n+i]), float64(dy[r*c.n+i])
				}
				wy, wdx, size := normRef(x64, dy64)
				for i := range wy {
					got := float64(y[r*c.n+i])
					if math.Abs(got-wy[i]) > 3*0x1p-24*math.Abs(wy[i]) {
						t.Fatalf("row %d: y[%d] = %v, want %v", r, i, got, wy[i])
					}
					got = float64(dx[r*c.n+i])
					if math.Abs(got-wdx[i]) > 4*0x1p-24*size[i] {
						t.Fatalf("row %d: dx[%d] = %v, want %v (terms %v)", r, i, got, wdx[i], size[i])
					}
				}
			}
		})
	}
}

// BenchmarkNorm times the float32 Norm and NormGrad over the activations
// of one paper-size layer's batch (B·L = 4096 rows of 768).
func BenchmarkNorm(b *testing.B) {
	const rows, n = 4096, 768
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, rows*n)
	dy := make([]float32, rows*n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		dy[i] = float32(rng.NormFloat64())
	}
	out := make([]float32, rows*n)
	b.Run("Norm", func(b *testing.B) {
		b.SetBytes(int64(8 * len(x)))
		for b.Loop() {
			Norm(out, x, n)
		}
	})
	b.Run("NormGrad", func(b *testing.B) {
		b.SetBytes(int64(12 * len(x)))
		for b.Loop() {
			NormGrad(out, x, dy, n)
		}
	})
}
