package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Rotate and RotateAdjointAdd give the bits of the scalar loops written out
// here (the formulas of kernels/cpu), for every implementation, at lengths
// that use the vectors and lengths that do not.
func TestRotate(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	forImpls(t, func(t *testing.T, im *impl) {
		for _, n := range []int{0, 2, 6, 30, 32, 64, 96, 128, 256} {
			half := n / 2
			x, g := randSlice(rng, n, -4, 4), randSlice(rng, n, -4, 4)
			cs, sn := make([]float32, half+3), make([]float32, half+3)
			for i := range cs {
				a := rng.Float64() * 100
				cs[i], sn[i] = float32(math.Cos(a)), float32(math.Sin(a))
			}
			scale := float32(0.37)
			want := make([]float32, n)
			for i := 0; i < half; i++ {
				xe, xo := x[2*i], x[2*i+1]
				want[i] = scale * (xe*cs[i] - xo*sn[i])
				want[half+i] = scale * (xe*sn[i] + xo*cs[i])
			}
			got := make([]float32, n)
			im.rotate(got, x, cs, sn, scale)
			if !sameBits(got, want) {
				t.Fatalf("n=%d: Rotate differs from the scalar loop", n)
			}
			acc := randSlice(rng, n, -1, 1)
			wantAcc := append([]float32(nil), acc...)
			for i := 0; i < half; i++ {
				g1, g2 := g[i], g[half+i]
				wantAcc[2*i] += g1*cs[i] + g2*sn[i]
				wantAcc[2*i+1] += -g1*sn[i] + g2*cs[i]
			}
			im.rotateAdj(acc, g, cs, sn)
			if !sameBits(acc, wantAcc) {
				t.Fatalf("n=%d: RotateAdjointAdd differs from the scalar loop", n)
			}
		}
	})
}
