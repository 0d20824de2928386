//go:build amd64 && !purego

package simd

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly kernels: AVX2/FMA3 in simd_amd64.s, AVX-512F in
// simd512_amd64.s. Each processes n elements (any n >= 0) through the
// pointers; the wrappers below guarantee the lengths.

//go:noescape
func expAVX2(dst, x *float32, n int)

//go:noescape
func expSumAVX2(dst, x *float32, n int, shift float32) float32

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func swishAVX2(dst, x *float32, n int)

//go:noescape
func swishGradAVX2(dst, x, dy *float32, n int)

//go:noescape
func scaleAVX2(dst, x *float32, n int, s float32)

//go:noescape
func sumSqAVX2(x *float32, n int) float64

//go:noescape
func dot64AVX2(x, y *float32, n int) float64

//go:noescape
func axpbyAVX2(dst, x, y *float32, n int, a, b float32)

//go:noescape
func adamWAVX2(param, grad, m, v *float32, n int, b1, omb1, b2, omb2, decay float32, stepSize, sqrtBC2, eps float64)

//go:noescape
func exp512(dst, x *float32, n int)

//go:noescape
func expSum512(dst, x *float32, n int, shift float32) float32

//go:noescape
func max512(x *float32, n int) float32

//go:noescape
func swish512(dst, x *float32, n int)

//go:noescape
func swishGrad512(dst, x, dy *float32, n int)

//go:noescape
func scale512(dst, x *float32, n int, s float32)

//go:noescape
func sumSq512(x *float32, n int) float64

//go:noescape
func dot64512(x, y *float32, n int) float64

//go:noescape
func axpby512(dst, x, y *float32, n int, a, b float32)

//go:noescape
func adamW512(param, grad, m, v *float32, n int, b1, omb1, b2, omb2, decay float32, stepSize, sqrtBC2, eps float64)

//go:noescape
func add512(dst, x, y *float32, n int)

//go:noescape
func mul512(dst, x, y *float32, n int)

//go:noescape
func ropeQK512(qn, qr, kn, kr, z, gq, gk, cs, sn *float32, half int, scale float32)

//go:noescape
func ropeQKGrad512(dz, accq, acck, dq, dk, z, gq, gk, cs, sn *float32, half int, scale float32)

//go:noescape
func prefetch(p *float32, lines int)

// Prefetch asks the CPU to bring the cache lines of x into its caches
// (PREFETCHT0): a hint for data a kernel will read soon at addresses the
// hardware prefetchers do not guess, such as rows of a wide matrix read a
// few hundred bytes at a time. It changes no result.
func Prefetch(x []float32) {
	if len(x) > 0 {
		prefetch(&x[0], (len(x)+15)/16)
	}
}

//go:noescape
func rowDots512(dst, x *float32, ldx int, y *float32, ldy int, groups, blocks int)

//go:noescape
func mulShift512(dst, p, x *float32, n int, d float32)

//go:noescape
func mulShiftAVX2(dst, p, x *float32, n int, d float32)

//go:noescape
func addAVX2(dst, x, y *float32, n int)

//go:noescape
func mulAVX2(dst, x, y *float32, n int)

//go:noescape
func dropout512(dst, x *float32, n int, key, base, thr uint64, scale float32, mul int)

//go:noescape
func rotate512(dst, x, cs, sn *float32, half int, scale float32)

//go:noescape
func rotateAdj512(dst, grad, cs, sn *float32, half int)

// hasAVX2FMA reports whether the AVX2 kernels can run; the OS must also
// save YMM state, which x/sys/cpu folds into HasAVX2.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasAVX512 reports whether the AVX-512 kernels can run: the CPU has
// AVX-512F (they use no other AVX-512 subset) and the OS saves the ZMM and
// opmask state (x/sys/cpu checks XCR0 before it sets HasAVX512F).
var hasAVX512 = cpu.X86.HasAVX512F && hasAVX2FMA

// hasAVX512DQ reports whether the dropout kernel's 64-bit multiplies
// (VPMULLQ) can run; without them the avx512 implementation uses the pure
// Go dropout.
var hasAVX512DQ = hasAVX512 && cpu.X86.HasAVX512DQ

// The adapters below turn a kernel of pointers and a count into the
// slice signature of impl: each re-slices to len(x) and passes the base
// pointers.

// ptr returns the address of s's first element without a bounds check; the
// kernels do not dereference it when n is 0.
func ptr(s []float32) *float32 { return unsafe.SliceData(s) }

func unary(k func(dst, x *float32, n int)) func(dst, x []float32) {
	return func(dst, x []float32) {
		dst = dst[:len(x)]
		k(ptr(dst), ptr(x), len(x))
	}
}

func expSumOf(k func(dst, x *float32, n int, shift float32) float32) func(dst, x []float32, shift float32) float32 {
	return func(dst, x []float32, shift float32) float32 {
		dst = dst[:len(x)]
		return k(ptr(dst), ptr(x), len(x), shift)
	}
}

func reduce32(k func(x *float32, n int) float32) func(x []float32) float32 {
	return func(x []float32) float32 { return k(ptr(x), len(x)) }
}

func reduce64(k func(x *float32, n int) float64) func(x []float32) float64 {
	return func(x []float32) float64 { return k(ptr(x), len(x)) }
}

func binary(k func(dst, x, y *float32, n int)) func(dst, x, y []float32) {
	return func(dst, x, y []float32) {
		dst = dst[:len(x)]
		y = y[:len(x)]
		k(ptr(dst), ptr(x), ptr(y), len(x))
	}
}

func mulShiftOf(k func(dst, p, x *float32, n int, d float32)) func(dst, p, x []float32, d float32) {
	return func(dst, p, x []float32, d float32) {
		dst = dst[:len(x)]
		p = p[:len(x)]
		k(ptr(dst), ptr(p), ptr(x), len(x), d)
	}
}

func scaleOf(k func(dst, x *float32, n int, s float32)) func(dst, x []float32, s float32) {
	return func(dst, x []float32, s float32) {
		dst = dst[:len(x)]
		k(ptr(dst), ptr(x), len(x), s)
	}
}

func dot64Of(k func(x, y *float32, n int) float64) func(x, y []float32) float64 {
	return func(x, y []float32) float64 {
		y = y[:len(x)]
		return k(ptr(x), ptr(y), len(x))
	}
}

func axpbyOf(k func(dst, x, y *float32, n int, a, b float32)) func(dst, x, y []float32, a, b float32) {
	return func(dst, x, y []float32, a, b float32) {
		dst = dst[:len(x)]
		y = y[:len(x)]
		k(ptr(dst), ptr(x), ptr(y), len(x), a, b)
	}
}

func adamWOf(k func(param, grad, m, v *float32, n int, b1, omb1, b2, omb2, decay float32, stepSize, sqrtBC2, eps float64)) func(p, g, m, v []float32, s AdamWStep) {
	return func(p, g, m, v []float32, s AdamWStep) {
		p, m, v = p[:len(g)], m[:len(g)], v[:len(g)]
		k(ptr(p), ptr(g), ptr(m), ptr(v), len(g), s.Beta1, 1-s.Beta1, s.Beta2, 1-s.Beta2, s.Decay, s.StepSize, s.SqrtBC2, s.Eps)
	}
}

// dropoutAVX512 runs dropout512 on the whole vectors and the pure Go code
// on the last len(x)%16 elements.
func dropoutAVX512(dst, x []float32, s DropStream, mul bool) {
	dst = dst[:len(x)]
	if s.Threshold == 0 {
		dropoutGo(dst, x, s, mul)
		return
	}
	n := len(x) &^ 15
	m := 0
	if mul {
		m = 1
	}
	if n > 0 {
		dropout512(ptr(dst), ptr(x), n, s.Key, s.Site*dropGolden+s.Index, s.Threshold, s.Scale, m)
	}
	if n < len(x) {
		t := s
		t.Index += uint64(n)
		dropoutGo(dst[n:], x[n:], t, mul)
	}
}

func dropoutFor512() func(dst, x []float32, s DropStream, mul bool) {
	if hasAVX512DQ {
		return dropoutAVX512
	}
	return dropoutGo
}

// rotateAVX512 runs rotate512 on the pairs in whole vectors of 16 and the
// pure Go code on a half that is not a multiple of 16 (the tables' rows are
// then not vector-aligned pieces).
func rotateAVX512(dst, x, cos, sin []float32, scale float32) {
	half := len(x) / 2
	if half%16 != 0 {
		rotateGo(dst, x, cos, sin, scale)
		return
	}
	dst, cos, sin = dst[:2*half], cos[:half], sin[:half]
	if half > 0 {
		rotate512(ptr(dst), ptr(x), ptr(cos), ptr(sin), half, scale)
	}
}

func rotateAdjAVX512(dst, g, cos, sin []float32) {
	half := len(g) / 2
	if half%16 != 0 {
		rotateAdjGo(dst, g, cos, sin)
		return
	}
	dst, cos, sin = dst[:2*half], cos[:half], sin[:half]
	if half > 0 {
		rotateAdj512(ptr(dst), ptr(g), ptr(cos), ptr(sin), half)
	}
}

func ropeQKAVX512(qn, qr, kn, kr, z, gq, gk, cos, sin []float32, scale float32) {
	half := len(z) / 2
	if half%16 != 0 {
		ropeQKWith(avx512Impl, qn, qr, kn, kr, z, gq, gk, cos, sin, scale)
		return
	}
	n := 2 * half
	qn, qr, kn, kr, gq, gk, cos, sin = qn[:n], qr[:n], kn[:n], kr[:n], gq[:n], gk[:n], cos[:half], sin[:half]
	if half > 0 {
		ropeQK512(ptr(qn), ptr(qr), ptr(kn), ptr(kr), ptr(z), ptr(gq), ptr(gk), ptr(cos), ptr(sin), half, scale)
	}
}

func ropeQKGradAVX512(dz, accq, acck, dq, dk, z, gq, gk, cos, sin []float32, scale float32) {
	half := len(z) / 2
	if half%16 != 0 {
		ropeQKGradGo(dz, accq, acck, dq, dk, z, gq, gk, cos, sin, scale)
		return
	}
	n := 2 * half
	dz, accq, acck, dq, dk, gq, gk, cos, sin = dz[:n], accq[:n], acck[:n], dq[:n], dk[:n], gq[:n], gk[:n], cos[:half], sin[:half]
	if half > 0 {
		ropeQKGrad512(ptr(dz), ptr(accq), ptr(acck), ptr(dq), ptr(dk), ptr(z), ptr(gq), ptr(gk), ptr(cos), ptr(sin), half, scale)
	}
}

// rowDotsAVX512 runs the assembly on the full 16-row groups and 16-column
// blocks and finishes the other columns and rows in Go, in order.
func rowDotsAVX512(dst, x []float32, ldx int, y []float32, ldy int, rows, cols int) {
	groups, blocks := rows/16, cols/16
	if groups > 0 && blocks > 0 {
		rowDots512(ptr(dst), ptr(x), ldx, ptr(y), ldy, groups, blocks)
		if blocks*16 < cols {
			for r := 0; r < groups*16; r++ {
				dst[r] = rowDotFrom(dst[r], x[r*ldx+blocks*16:r*ldx+cols], y[r*ldy+blocks*16:r*ldy+cols])
			}
		}
	} else {
		groups = 0
	}
	r0 := groups * 16
	rowDotsGo(dst[r0:], x[min(len(x), r0*ldx):], ldx, y[min(len(y), r0*ldy):], ldy, rows-r0, cols)
}

// avx512Impl and avx2Impl are the implementations of asmImpls.
var avx512Impl, avx2Impl *impl

func init() {
	avx512Impl, avx2Impl = asmImpls[0].im, asmImpls[1].im
	avx512Impl.ropeQK, avx512Impl.ropeQKGrad = ropeQKAVX512, ropeQKGradAVX512
	avx512Impl.rowDots = rowDotsAVX512
	avx2Impl.rowDots = rowDotsGo
	avx2Impl.ropeQK = func(qn, qr, kn, kr, z, gq, gk, cos, sin []float32, scale float32) {
		ropeQKWith(avx2Impl, qn, qr, kn, kr, z, gq, gk, cos, sin, scale)
	}
	avx2Impl.ropeQKGrad = ropeQKGradGo
}

// asmImpls lists the assembly implementations of this build, widest
// vectors first, with whether this CPU can run them.
var asmImpls = []implEntry{
	{
		im: &impl{
			name:      "avx512",
			exp:       unary(exp512),
			expSum:    expSumOf(expSum512),
			max:       reduce32(max512),
			swish:     unary(swish512),
			swishGrad: binary(swishGrad512),
			scale:     scaleOf(scale512),
			sumSq:     reduce64(sumSq512),
			dot64:     dot64Of(dot64512),
			axpby:     axpbyOf(axpby512),
			adamW:     adamWOf(adamW512),
			dropout:   dropoutFor512(),
			add:       binary(add512),
			mul:       binary(mul512),
			mulShift:  mulShiftOf(mulShift512),
			rotate:    rotateAVX512,
			rotateAdj: rotateAdjAVX512,
		},
		needs:     "AVX-512F",
		supported: hasAVX512,
	},
	{
		im: &impl{
			name:      "avx2",
			exp:       unary(expAVX2),
			expSum:    expSumOf(expSumAVX2),
			max:       reduce32(maxAVX2),
			swish:     unary(swishAVX2),
			swishGrad: binary(swishGradAVX2),
			scale:     scaleOf(scaleAVX2),
			sumSq:     reduce64(sumSqAVX2),
			dot64:     dot64Of(dot64AVX2),
			axpby:     axpbyOf(axpbyAVX2),
			adamW:     adamWOf(adamWAVX2),
			dropout:   dropoutGo,
			add:       binary(addAVX2),
			mul:       binary(mulAVX2),
			mulShift:  mulShiftOf(mulShiftAVX2),
			rotate:    rotateGo,
			rotateAdj: rotateAdjGo,
		},
		needs:     "AVX2+FMA",
		supported: hasAVX2FMA,
	},
}
