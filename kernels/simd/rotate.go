package simd

// Rotate sets dst = scale·R·x, the rotary position rotation of x by the
// angles whose cosines and sines are cos and sin, in the layout of the
// attention kernels (kernels/cpu): x holds pairs (x[2i], x[2i+1]) and
//
//	dst[i]      = scale·(x[2i]·cos[i] − x[2i+1]·sin[i])
//	dst[half+i] = scale·(x[2i]·sin[i] + x[2i+1]·cos[i])
//
// for i < half = len(x)/2, each product, sum and difference rounded to
// float32 as written (no fused multiply-add), so every implementation
// gives the bits of that scalar loop. len(x) must be even, len(dst) =
// len(x), len(cos) and len(sin) >= half; dst must not overlap x.
func Rotate(dst, x, cos, sin []float32, scale float32) {
	checkLen("Rotate", "dst", len(dst), "x", len(x))
	checkRotate("Rotate", len(x), len(cos), len(sin))
	best.rotate(dst, x, cos, sin, scale)
}

// RotateAdjointAdd adds Rᵀ·g to dst, the adjoint of Rotate with scale 1
// (the gradient of the rotation):
//
//	dst[2i]   += g[i]·cos[i] + g[half+i]·sin[i]
//	dst[2i+1] += −g[i]·sin[i] + g[half+i]·cos[i]
//
// rounded as written, the same bits from every implementation. The
// lengths are those of Rotate; dst must not overlap g.
func RotateAdjointAdd(dst, g, cos, sin []float32) {
	checkLen("RotateAdjointAdd", "dst", len(dst), "g", len(g))
	checkRotate("RotateAdjointAdd", len(g), len(cos), len(sin))
	best.rotateAdj(dst, g, cos, sin)
}

func checkRotate(fn string, n, nc, ns int) {
	if n%2 != 0 || nc < n/2 || ns < n/2 {
		panic("simd." + fn + ": len(x) must be even and the tables at least len(x)/2 long")
	}
}

func rotateGo(dst, x, cos, sin []float32, scale float32) {
	half := len(x) / 2
	dst, cos, sin = dst[:2*half], cos[:half], sin[:half]
	for i := 0; i < half; i++ {
		xe, xo := x[2*i], x[2*i+1]
		c, s := cos[i], sin[i]
		dst[i] = scale * (xe*c - xo*s)
		dst[half+i] = scale * (xe*s + xo*c)
	}
}

func rotateAdjGo(dst, g, cos, sin []float32) {
	half := len(g) / 2
	dst, cos, sin = dst[:2*half], cos[:half], sin[:half]
	for i := 0; i < half; i++ {
		g1, g2 := g[i], g[half+i]
		c, s := cos[i], sin[i]
		dst[2*i] += g1*c + g2*s
		dst[2*i+1] += -g1*s + g2*c
	}
}
