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

// RopeQK computes one row of the attention's queries and keys from its z
// (ScaleOffset and the rotation):
//
//	qn = z⊙gq,  qr = scale·R·qn,  kn = z⊙gk,  kr = R·kn
//
// with Mul's and Rotate's arithmetic (kr is Rotate with scale 1), in one
// pass. All slices have len(z) elements (len(z) even), cos and sin at
// least len(z)/2; the outputs must not overlap each other or the inputs.
func RopeQK(qn, qr, kn, kr, z, gq, gk, cos, sin []float32, scale float32) {
	n := len(z)
	for _, l := range [...]int{len(qn), len(qr), len(kn), len(kr), len(gq), len(gk)} {
		checkLen("RopeQK", "an argument", l, "z", n)
	}
	checkRotate("RopeQK", n, len(cos), len(sin))
	best.ropeQK(qn, qr, kn, kr, z, gq, gk, cos, sin, scale)
}

// RopeQKGrad takes one row of the gradients wrt the rotated queries and
// keys (dq, dk) back through RopeQK: with
//
//	tq = scale·(0 + Rᵀ·dq),  tk = 0 + Rᵀ·dk
//
// (RotateAdjointAdd into a zeroed row, then ScaleTo) it sets
// dz = tq⊙gq + tk⊙gk and adds tq⊙z to accq and tk⊙z to acck, each
// product and sum rounded as written: the bits of those calls in that
// order. All slices have len(z) elements (len(z) even), cos and sin at
// least len(z)/2; dz must not overlap the inputs, accq and acck may not
// overlap anything.
func RopeQKGrad(dz, accq, acck, dq, dk, z, gq, gk, cos, sin []float32, scale float32) {
	n := len(z)
	for _, l := range [...]int{len(dz), len(accq), len(acck), len(dq), len(dk), len(gq), len(gk)} {
		checkLen("RopeQKGrad", "an argument", l, "z", n)
	}
	checkRotate("RopeQKGrad", n, len(cos), len(sin))
	best.ropeQKGrad(dz, accq, acck, dq, dk, z, gq, gk, cos, sin, scale)
}

// ropeQKWith is RopeQK by im's Mul and Rotate.
func ropeQKWith(im *impl, qn, qr, kn, kr, z, gq, gk, cos, sin []float32, scale float32) {
	im.mul(qn, z, gq)
	im.mul(kn, z, gk)
	im.rotate(qr, qn, cos, sin, scale)
	im.rotate(kr, kn, cos, sin, 1)
}

// ropeQKGradGo is RopeQKGrad pair by pair in Go (no temporary row; the
// float32 conversions keep every product rounded on its own).
func ropeQKGradGo(dz, accq, acck, dq, dk, z, gq, gk, cos, sin []float32, scale float32) {
	half := len(z) / 2
	dz, accq, acck, dq, dk, gq, gk, cos, sin = dz[:2*half], accq[:2*half], acck[:2*half], dq[:2*half], dk[:2*half], gq[:2*half], gk[:2*half], cos[:half], sin[:half]
	for i := 0; i < half; i++ {
		c, s := cos[i], sin[i]
		q1, q2 := dq[i], dq[half+i]
		k1, k2 := dk[i], dk[half+i]
		// 0 + Rᵀ·g, as RotateAdjointAdd into a zeroed row.
		tq0 := 0 + (float32(q1*c) + float32(q2*s))
		tq1 := 0 + (float32(q2*c) - float32(q1*s))
		tk0 := 0 + (float32(k1*c) + float32(k2*s))
		tk1 := 0 + (float32(k2*c) - float32(k1*s))
		tq0, tq1 = float32(tq0*scale), float32(tq1*scale)
		for j, tq := range [2]float32{tq0, tq1} {
			e := 2*i + j
			tk := [2]float32{tk0, tk1}[j]
			dz[e] = float32(tq*gq[e]) + float32(tk*gk[e])
			accq[e] += float32(tq * z[e])
			acck[e] += float32(tk * z[e])
		}
	}
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
