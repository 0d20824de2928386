package simd

import "fmt"

// impl is one implementation of the kernels. The exported functions check
// their arguments and call the best one for this machine; the tests call
// every one available.
//
// Each function value requires len(dst) (and len(dy), len(y)) >= len(x);
// the exported wrappers enforce equality.
type impl struct {
	name      string
	exp       func(dst, x []float32)
	expSum    func(dst, x []float32, shift float32) float32
	max       func(x []float32) float32
	swish     func(dst, x []float32)
	swishGrad func(dst, x, dy []float32)
	scale     func(dst, x []float32, s float32)
	sumSq     func(x []float32) float64
	dot64     func(x, y []float32) float64
	axpby     func(dst, x, y []float32, a, b float32)
	adamW     func(p, g, m, v []float32, s AdamWStep)
	dropout   func(dst, x []float32, s DropStream, mul bool)
	add       func(dst, x, y []float32)
	mul       func(dst, x, y []float32)
	mulShift  func(dst, p, x []float32, d float32)
	rotate    func(dst, x, cos, sin []float32, scale float32)
	rotateAdj func(dst, g, cos, sin []float32)
	// ropeQK and ropeQKGrad are the attention's per-row rotations
	// (rotate.go); without assembly for them, ropeQK composes the
	// implementation's kernels (ropeQKWith) and ropeQKGrad is Go
	// (ropeQKGradGo).
	ropeQK     func(qn, qr, kn, kr, z, gq, gk, cos, sin []float32, scale float32)
	ropeQKGrad func(dz, accq, acck, dq, dk, z, gq, gk, cos, sin []float32, scale float32)
	rowDots    func(dst, x []float32, ldx int, y []float32, ldy int, rows, cols int)
}

// goImpl is the pure Go implementation, compiled on every platform.
var goImpl = &impl{
	name:      "go",
	exp:       expGo,
	expSum:    expSumGo,
	max:       maxGo,
	swish:     swishGo,
	swishGrad: swishGradGo,
	scale:     scaleGo,
	sumSq:     sumSqGo,
	dot64:     dot64Go,
	axpby:     axpbyGo,
	adamW:     adamWGo,
	dropout:   dropoutGo,
	add:       addGo,
	mul:       mulGo,
	mulShift:  mulShiftGo,
	rotate:    rotateGo,
	rotateAdj: rotateAdjGo,
}

func init() {
	goImpl.ropeQK = func(qn, qr, kn, kr, z, gq, gk, cos, sin []float32, scale float32) {
		ropeQKWith(goImpl, qn, qr, kn, kr, z, gq, gk, cos, sin, scale)
	}
	goImpl.ropeQKGrad = ropeQKGradGo
	goImpl.rowDots = rowDotsGo
}

// implEntry is one assembly implementation with the CPU features it needs
// and whether this CPU (and OS) can run it.
type implEntry struct {
	im        *impl
	needs     string
	supported bool
}

// impls lists the implementations usable on this machine, best first: the
// supported entries of asmImpls (widest vectors first), then pure Go.
var impls = func() []*impl {
	var ims []*impl
	for _, e := range asmImpls {
		if e.supported {
			ims = append(ims, e.im)
		}
	}
	return append(ims, goImpl)
}()

// best is the implementation the exported functions use.
var best = impls[0]

// Implementation names the implementation in use: "avx512" (AMD64 with
// AVX-512F, the OS saving the ZMM state), "avx2" (AMD64 with AVX2 and FMA3)
// or "go" (pure Go: other architectures, older AMD64 processors, or the
// purego build tag).
func Implementation() string { return best.name }

// implInfo describes one implementation of the kernels in this build.
type implInfo struct {
	// Name identifies the implementation: "avx512", "avx2" or "go".
	Name string
	// Needs names the CPU features it requires ("AVX-512F", "AVX2+FMA");
	// empty for pure Go.
	Needs string
	// Supported reports whether this CPU and OS can run it.
	Supported bool
	// Default reports whether the exported functions use it.
	Default bool
}

// implementations lists the implementations compiled into this build,
// widest vectors first and pure Go last, including those this CPU cannot
// run.
func implementations() []implInfo {
	var out []implInfo
	for _, e := range asmImpls {
		out = append(out, implInfo{Name: e.im.name, Needs: e.needs, Supported: e.supported, Default: e.im == best})
	}
	return append(out, implInfo{Name: goImpl.name, Supported: true, Default: goImpl == best})
}

func checkLen(fn, a string, na int, b string, nb int) {
	if na != nb {
		panic(fmt.Sprintf("simd.%s: len(%s) = %d, len(%s) = %d: lengths differ", fn, a, na, b, nb))
	}
}

// ExpSum sets dst[i] = e^(x[i]-shift) and returns the sum of dst.
//
// The difference x[i]-shift is rounded to float32 first, exactly as a scalar
// float32 loop would do, and dst[i] is then Exp of it, bit for bit. With
// shift = Max(x) this is the numerator and denominator of a softmax.
//
// The sum is accumulated in float64 (the assembly widens each vector of
// results into two float64 accumulators) and rounded to float32 once,
// so it is within about 1 ulp of the exact sum of dst for any length. NaN in
// x or shift gives a NaN sum; note that a shift of -Inf (say, the Max of a
// fully masked row) makes -Inf-(-Inf) = NaN.
//
// dst and x must have the same length; dst may be x itself but must not
// otherwise overlap it.
func ExpSum(dst, x []float32, shift float32) float32 {
	checkLen("ExpSum", "dst", len(dst), "x", len(x))
	return best.expSum(dst, x, shift)
}

// Max returns the largest element of x, or -Inf when x is empty. If any
// element is NaN the result is NaN (a NaN is never skipped). The sign of a
// zero result is unspecified when x holds both -0 and +0.
func Max(x []float32) float32 {
	return best.max(x)
}

// Swish sets dst[i] = x[i]·σ(x[i]), σ(x) = 1/(1+e^-x), computed as
// x/(1+e^-x).
//
// The result is within a few ulp (relative error below 1e-6) of the exact
// value rounded to float32 whenever the exact value has magnitude above
// 2.7e-37; below that (x < -88.72) the result is -0. There is no NaN for
// finite x: Swish(-100) = -0, Swish(100) = 100. Swish(+Inf) = +Inf, and
// Swish(-Inf) = NaN, as the float64 formula x·σ(x) gives (-Inf·0).
//
// dst and x must have the same length; dst may be x itself but must not
// otherwise overlap it.
func Swish(dst, x []float32) {
	checkLen("Swish", "dst", len(dst), "x", len(x))
	best.swish(dst, x)
}

// SwishGrad sets dst[i] = dy[i]·σ(x[i])·(1 + x[i]·(1-σ(x[i]))), the gradient
// of Swish, with 1-σ(x) computed as e^-x·σ(x) (no cancellation for large x).
//
// The error is within a few ulp of |dy|·σ(x)·(1 + |x|·(1-σ(x))), the size
// of the terms. That is a relative error below 1e-6 everywhere except near
// x = -1.2785, where 1 + x·(1-σ(x)) vanishes: the result is small there and
// its relative error grows as any float32 evaluation's must (the assembly
// exceeds 1e-6 for -1.387 < x < -1.167, the float64-based pure Go one only
// within 3e-4 of the zero). For x < -86 the result is below 1e-35 in
// magnitude and may lose relative accuracy (σ is subnormal), and for
// x < -88.72 it is ±0. There is no NaN for finite x and dy; ±Inf in x gives
// NaN, as the float64 formula does.
//
// dst, x and dy must have the same length; dst may be x or dy itself but
// must not otherwise overlap them.
func SwishGrad(dst, x, dy []float32) {
	checkLen("SwishGrad", "dst", len(dst), "x", len(x))
	checkLen("SwishGrad", "dy", len(dy), "x", len(x))
	best.swishGrad(dst, x, dy)
}

// Scale sets x[i] *= s.
func Scale(x []float32, s float32) {
	best.scale(x, x, s)
}

// ScaleTo sets dst[i] = s·x[i] (the float32 product, correctly rounded).
// dst and x must have the same length; dst may be x itself but must not
// otherwise overlap it.
func ScaleTo(dst, x []float32, s float32) {
	checkLen("ScaleTo", "dst", len(dst), "x", len(x))
	best.scale(dst, x, s)
}

// SumSquares returns Σ x[i]² in float64: each square is exact in float64
// and the sum is accumulated in float64 (in 16 or 32 partial sums in the
// assembly), so the relative error is at most about n·2^-53.
func SumSquares(x []float32) float64 {
	return best.sumSq(x)
}

// Dot64 returns Σ x[i]·y[i] in float64, the products exact and the sum
// accumulated in float64 as in SumSquares. x and y must have the same
// length.
func Dot64(x, y []float32) float64 {
	checkLen("Dot64", "x", len(x), "y", len(y))
	return best.dot64(x, y)
}

// RowDots sets dst[r] = Σ_c x[r·ldx+c]·y[r·ldy+c] for r < rows, c < cols:
// the dot products of rows of two matrices, each in float32 with every
// product rounded and the sum accumulated in order of c from +0, the bits
// of the scalar loop "s += x[c]*y[c]" (unlike Dot, which sums in partial
// sums). The AVX-512 implementation computes 16 rows at once (a block of
// products transposed in registers, a lane per row). len(dst) >= rows;
// x and y must hold the rows.
func RowDots(dst, x []float32, ldx int, y []float32, ldy int, rows, cols int) {
	if rows <= 0 || cols <= 0 {
		clear(dst[:max(rows, 0)])
		return
	}
	if len(dst) < rows || len(x) < (rows-1)*ldx+cols || len(y) < (rows-1)*ldy+cols || ldx < cols || ldy < cols {
		panic(fmt.Sprintf("simd.RowDots: %d rows of %d with strides %d and %d do not fit slices of %d and %d (dst %d)", rows, cols, ldx, ldy, len(x), len(y), len(dst)))
	}
	best.rowDots(dst, x, ldx, y, ldy, rows, cols)
}

// rowDotFrom returns s + Σ x[c]·y[c], summed in order.
func rowDotFrom(s float32, x, y []float32) float32 {
	y = y[:len(x)]
	for c, v := range x {
		s += float32(v * y[c])
	}
	return s
}

// rowDotsGo is RowDots four rows at a time (four independent chains).
func rowDotsGo(dst, x []float32, ldx int, y []float32, ldy int, rows, cols int) {
	r := 0
	for ; r+4 <= rows; r += 4 {
		x0, y0 := x[r*ldx:r*ldx+cols], y[r*ldy:r*ldy+cols]
		x1, y1 := x[(r+1)*ldx:(r+1)*ldx+cols], y[(r+1)*ldy:(r+1)*ldy+cols]
		x2, y2 := x[(r+2)*ldx:(r+2)*ldx+cols], y[(r+2)*ldy:(r+2)*ldy+cols]
		x3, y3 := x[(r+3)*ldx:(r+3)*ldx+cols], y[(r+3)*ldy:(r+3)*ldy+cols]
		var s0, s1, s2, s3 float32
		for c := range x0 {
			s0 += float32(x0[c] * y0[c])
			s1 += float32(x1[c] * y1[c])
			s2 += float32(x2[c] * y2[c])
			s3 += float32(x3[c] * y3[c])
		}
		dst[r], dst[r+1], dst[r+2], dst[r+3] = s0, s1, s2, s3
	}
	for ; r < rows; r++ {
		dst[r] = rowDotFrom(0, x[r*ldx:r*ldx+cols], y[r*ldy:r*ldy+cols])
	}
}

// Axpby sets dst[i] = a·x[i] + b·y[i]. The assembly rounds b·y[i] and then
// adds a·x[i] with one fused multiply-add; the pure Go code sums in
// float64. Either way the error is at most 2^-23·(|a·x[i]| + |b·y[i]|).
//
// dst, x and y must have the same length; dst may be x or y itself but
// must not otherwise overlap them.
func Axpby(dst, x, y []float32, a, b float32) {
	checkLen("Axpby", "dst", len(dst), "x", len(x))
	checkLen("Axpby", "y", len(y), "x", len(x))
	best.axpby(dst, x, y, a, b)
}

// AdamWStep holds the coefficients of one AdamW step (Loshchilov & Hutter,
// with PyTorch's update rule) at step t with learning rate lr and weight
// decay λ.
type AdamWStep struct {
	// Beta1 and Beta2 are the moments' decay rates β1 and β2.
	Beta1, Beta2 float32
	// Decay multiplies the weights before the update: 1 - lr·λ, or 1 for
	// parameters without weight decay.
	Decay float32
	// StepSize is lr/(1 - β1^t).
	StepSize float64
	// SqrtBC2 is sqrt(1 - β2^t).
	SqrtBC2 float64
	// Eps is the ε added to the denominator.
	Eps float64
}

// AdamW applies one AdamW step to the parameters p in place, given their
// gradients g and their first and second moments m and v (updated in
// place):
//
//	m = β1·m + (1-β1)·g
//	v = β2·v + ((1-β2)·g)·g
//	p = p·Decay - float32(StepSize·m / (sqrt(v)/SqrtBC2 + Eps))
//
// The moments and the products with p are float32 operations, each
// rounded (no fused multiply-add); the update term is computed in float64
// from the new m and v and rounded once. Every implementation gives the
// same bits, those of the scalar Go loop written as above.
//
// p, g, m and v must have the same length and must not overlap.
func AdamW(p, g, m, v []float32, s AdamWStep) {
	checkLen("AdamW", "p", len(p), "g", len(g))
	checkLen("AdamW", "m", len(m), "g", len(g))
	checkLen("AdamW", "v", len(v), "g", len(g))
	best.adamW(p, g, m, v, s)
}
