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

// RopeQK and RopeQKGrad give the bits of the calls they stand for (Mul,
// Rotate, RotateAdjointAdd into zeros, ScaleTo, Add), written out as
// scalar loops here, in every implementation, at row lengths that use the
// assembly (multiples of 32) and lengths that do not.
func TestRopeQK(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	forImpls(t, func(t *testing.T, im *impl) {
		for _, n := range []int{0, 2, 6, 30, 32, 64, 96, 128, 256} {
			half := n / 2
			z, gq, gk := randSlice(rng, n, -3, 3), randSlice(rng, n, 0.5, 1.5), randSlice(rng, n, 0.5, 1.5)
			cs, sn := make([]float32, half+3), make([]float32, half+3)
			for i := range cs {
				a := rng.Float64() * 100
				cs[i], sn[i] = float32(math.Cos(a)), float32(math.Sin(a))
			}
			scale := float32(0.125)
			rot := func(x []float32, s float32) []float32 {
				out := make([]float32, n)
				for i := 0; i < half; i++ {
					xe, xo := x[2*i], x[2*i+1]
					out[i] = s * (xe*cs[i] - xo*sn[i])
					out[half+i] = s * (xe*sn[i] + xo*cs[i])
				}
				return out
			}
			wq, wk := make([]float32, n), make([]float32, n)
			for i := range z {
				wq[i], wk[i] = z[i]*gq[i], z[i]*gk[i]
			}
			wqr, wkr := rot(wq, scale), rot(wk, 1)
			qn, qr, kn, kr := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			im.ropeQK(qn, qr, kn, kr, z, gq, gk, cs, sn, scale)
			if !sameBits(qn, wq) || !sameBits(qr, wqr) || !sameBits(kn, wk) || !sameBits(kr, wkr) {
				t.Fatalf("n=%d: RopeQK differs from Mul and Rotate", n)
			}

			dq, dk := randSlice(rng, n, -2, 2), randSlice(rng, n, -2, 2)
			if n > 0 {
				dq[0], dk[1] = 0, float32(math.Copysign(0, -1)) // zeros of either sign
			}
			tq, tk := make([]float32, n), make([]float32, n)
			for i := 0; i < half; i++ {
				g1, g2 := dq[i], dq[half+i]
				tq[2*i] += g1*cs[i] + g2*sn[i]
				tq[2*i+1] += -g1*sn[i] + g2*cs[i]
				g1, g2 = dk[i], dk[half+i]
				tk[2*i] += g1*cs[i] + g2*sn[i]
				tk[2*i+1] += -g1*sn[i] + g2*cs[i]
			}
			accq, acck := randSlice(rng, n, -1, 1), randSlice(rng, n, -1, 1)
			wdz, waq, wak := make([]float32, n), append([]float32(nil), accq...), append([]float32(nil), acck...)
			for i := range z {
				tq[i] *= scale
				p, q := tq[i]*gq[i], tk[i]*gk[i]
				wdz[i] = p + q
				p, q = tq[i]*z[i], tk[i]*z[i]
				waq[i] += p
				wak[i] += q
			}
			dz := make([]float32, n)
			im.ropeQKGrad(dz, accq, acck, dq, dk, z, gq, gk, cs, sn, scale)
			if !sameBits(dz, wdz) || !sameBits(accq, waq) || !sameBits(acck, wak) {
				t.Fatalf("n=%d: RopeQKGrad differs from the calls it stands for", n)
			}
		}
	})
}

// Prefetch reads nothing it may not and changes nothing.
func TestPrefetch(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 1000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i)
		}
		Prefetch(x)
		Prefetch(x[:n/2])
		for i, v := range x {
			if v != float32(i) {
				t.Fatalf("n=%d: x[%d] = %v", n, i, v)
			}
		}
	}
}
