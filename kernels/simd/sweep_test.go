package simd

import (
	"math"
	"testing"
)

// sweepStride spaces the float32 bit patterns of the sweeps: every 389th of
// the 2^32 (11 million values: every sign, exponent, NaN class and the
// subnormals, with mantissas spread evenly; 389 is prime, so the low
// mantissa bits take every value).
const sweepStride = 389

// sweepChunks calls f with successive chunks of the strided sweep of all
// float32 bit patterns, the special values first.
func sweepChunks(f func(x []float32)) {
	specials := []float32{0, float32(math.Copysign(0, -1)), inf32, ninf32, nan32, -nan32,
		math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00001), // NaNs with payloads
		1e-45, -1e-45, 0x1p-126, -0x1p-126, // subnormal and normal limits
		expLo, expHi, math.Nextafter32(expLo, -200), math.Nextafter32(expHi, 200),
		-103.97, -103.98, -87.4, 88.8, // e^x subnormal, below it, overflow
		math.MaxFloat32, -math.MaxFloat32}
	const chunk = 1 << 16
	x := append(make([]float32, 0, chunk), specials...)
	for b := uint64(0); b < 1<<32; b += sweepStride {
		x = append(x, math.Float32frombits(uint32(b)))
		if len(x) == chunk {
			f(x)
			x = x[:0]
		}
	}
	f(x)
}

// TestExpSweep checks every implementation's Exp on the strided sweep of
// all float32 values against math.Exp: within 2 ulp on [expLo, expHi], and
// outside it the documented values (0 where e^x is subnormal or below, +Inf
// above, NaN for NaN). It logs each implementation's worst error.
func TestExpSweep(t *testing.T) {
	worst := make([]float64, len(impls))
	at := make([]float32, len(impls))
	bad := 0
	n := 0
	want := make([]float64, 1<<16)
	got := make([]float32, 1<<16)
	sweepChunks(func(x []float32) {
		n += len(x)
		for i, v := range x {
			want[i] = math.Exp(float64(v))
		}
		for k, im := range impls {
			g := got[:len(x)]
			im.exp(g, x)
			for i, v := range x {
				ok := true
				switch {
				case v != v:
					ok = g[i] != g[i]
				case v < expLo:
					ok = g[i] == 0 && !math.Signbit(float64(g[i]))
				case v > expHi:
					ok = g[i] == inf32
				default:
					e := ulpErr(g[i], want[i])
					if e > worst[k] {
						worst[k], at[k] = e, v
					}
					ok = e <= 2
				}
				if !ok {
					if bad++; bad <= 10 {
						t.Errorf("%s: exp(%v) = %v, want %v", im.name, v, g[i], want[i])
					}
				}
			}
		}
	})
	for k, im := range impls {
		t.Logf("%s: %d values: worst error %.3f ulp at x = %v", im.name, n, worst[k], at[k])
	}
}

// TestAssemblySameBits checks that the AVX-512 kernels give the AVX2
// kernels' bits for the elementwise kernels, on the strided sweep of all
// float32 values (in x, and reversed in y). Skipped, with its reason in the
// log, where the CPU lacks one of the two.
func TestAssemblySameBits(t *testing.T) {
	var w, n *impl
	for _, e := range asmImpls {
		switch {
		case e.im.name == "avx512" && e.supported:
			w = e.im
		case e.im.name == "avx2" && e.supported:
			n = e.im
		}
	}
	if w == nil || n == nil {
		t.Skipf("needs both avx512 and avx2; this CPU runs %v", Implementation())
	}
	type ew struct {
		name string
		run  func(im *impl, dst, x, y []float32)
	}
	kernels := []ew{
		{"Exp", func(im *impl, dst, x, _ []float32) { im.exp(dst, x) }},
		{"ExpSum", func(im *impl, dst, x, _ []float32) { im.expSum(dst, x, -1.25) }},
		{"Swish", func(im *impl, dst, x, _ []float32) { im.swish(dst, x) }},
		{"SwishGrad", func(im *impl, dst, x, y []float32) { im.swishGrad(dst, x, y) }},
		{"ScaleTo", func(im *impl, dst, x, _ []float32) { im.scale(dst, x, -0.3) }},
		{"Axpby", func(im *impl, dst, x, y []float32) { im.axpby(dst, x, y, 0.7, -1.3) }},
		{"MulShifted", func(im *impl, dst, x, y []float32) { im.mulShift(dst, x, y, 0.3) }},
	}
	a := make([]float32, 1<<16)
	b := make([]float32, 1<<16)
	y := make([]float32, 1<<16)
	diffs := 0
	sweepChunks(func(x []float32) {
		yy := y[:len(x)]
		for i := range x {
			yy[i] = x[len(x)-1-i]
		}
		for _, k := range kernels {
			k.run(w, a[:len(x)], x, yy)
			k.run(n, b[:len(x)], x, yy)
			for i := range x {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
					if diffs++; diffs <= 10 {
						t.Errorf("%s(%v, %v): avx512 %v, avx2 %v", k.name, x[i], yy[i], a[i], b[i])
					}
				}
			}
		}
	})
}
