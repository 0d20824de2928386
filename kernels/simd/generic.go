package simd

import "math"

// The pure Go implementation. It follows the same method as the assembly
// (Cody–Waite reduction, the same minimax polynomial, the same range
// limits), but evaluates in float64 where that costs nothing on a scalar
// unit, so it is at least as accurate. It is compiled on every platform.

// Range of Exp: for expLo <= x <= expHi, e^x is a normal float32. expLo is the
// smallest float32 above -126·ln2, expHi the largest below 128·ln2 whose
// exponential rounds to a finite float32.
const (
	expLo = -87.33654022216797 // 0xc2aeac4f
	expHi = 88.72283172607422  // 0x42b17217
)

// Coefficients of the degree-6 polynomial 1 + r + c2·r² + … + c6·r⁶ that
// approximates e^r on [-0.3466, 0.3466] (|r| <= ln2/2 plus a margin) with
// relative error below 3.1e-9 (2^-28.3): a Remez (minimax) fit with the
// constant and linear coefficients fixed at 1. The assembly uses them rounded
// to float32.
const (
	expC2 = 0.49999993448719481783
	expC3 = 0.16666520645553517998
	expC4 = 0.041668387884172015684
	expC5 = 0.0083687151995998005242
	expC6 = 0.0013814602041013461481
)

// e^x for a float32 x is computed as a float64 with relative error below
// 4e-9 and the range conventions of Exp (0 below expLo, +Inf above expHi,
// NaN for NaN) by
//
//	if x >= expLo && x <= expHi { e = expIn(float64(x)) } else { e = expOutside(x) }
//
// spelled out in each loop so that expIn is inlined.

// expOutside is e^x outside [expLo, expHi] and for NaN.
func expOutside(x float32) float64 {
	switch {
	case x > 0:
		return math.Inf(1)
	case x <= 0:
		return 0
	}
	return float64(x) // NaN
}

// expIn is e^x for x in [expLo, expHi]: n = round(x·log2e) by adding and
// subtracting 1.5·2^52, r = x - n·ln2 (error ~1e-14, negligible), e^r by the
// polynomial in Estrin's form (a shorter dependency chain than Horner's
// rule), and the scaling by building 2^n.
func expIn(x float64) float64 {
	const magic = 0x1.8p52
	n := x*math.Log2E + magic - magic
	r := x - n*math.Ln2
	r2 := r * r
	p := (1 + r) + r2*((expC2+expC3*r)+r2*((expC4+expC5*r)+r2*expC6))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

func expGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		var e float64
		if v >= expLo && v <= expHi {
			e = expIn(float64(v))
		} else {
			e = expOutside(v)
		}
		dst[i] = float32(e)
	}
}

func expSumGo(dst, x []float32, shift float32) float32 {
	dst = dst[:len(x)]
	var sum float64
	for i, v := range x {
		d := v - shift
		var e float64
		if d >= expLo && d <= expHi {
			e = expIn(float64(d))
		} else {
			e = expOutside(d)
		}
		dst[i] = float32(e)
		sum += float64(dst[i])
	}
	return float32(sum)
}

func maxGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		} else if v != v {
			return v
		}
	}
	return m
}

func swishGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		var e float64
		if -v >= expLo && -v <= expHi {
			e = expIn(-float64(v))
		} else {
			e = expOutside(-v)
		}
		dst[i] = float32(float64(v) / (1 + e))
	}
}

func swishGradGo(dst, x, dy []float32) {
	dst = dst[:len(x)]
	dy = dy[:len(x)]
	for i, v := range x {
		var e float64
		if -v >= expLo && -v <= expHi {
			e = expIn(-float64(v))
		} else {
			e = expOutside(-v)
		}
		s := 1 / (1 + e)
		oms := 1.0 // 1-σ, computed as e·σ; e = +Inf (σ = 0) gives 1
		if t := e * s; t < 1 {
			oms = t
		}
		dst[i] = float32(float64(dy[i]) * (s * (1 + float64(v)*oms)))
	}
}

func scaleGo(dst, x []float32, s float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v * s
	}
}

func sumSqGo(x []float32) float64 {
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += float64(x[i]) * float64(x[i])
		s1 += float64(x[i+1]) * float64(x[i+1])
	}
	if i < len(x) {
		s0 += float64(x[i]) * float64(x[i])
	}
	return s0 + s1
}

func dot64Go(x, y []float32) float64 {
	y = y[:len(x)]
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += float64(x[i]) * float64(y[i])
		s1 += float64(x[i+1]) * float64(y[i+1])
	}
	if i < len(x) {
		s0 += float64(x[i]) * float64(y[i])
	}
	return s0 + s1
}

func axpbyGo(dst, x, y []float32, a, b float32) {
	dst = dst[:len(x)]
	y = y[:len(x)]
	for i, v := range x {
		dst[i] = float32(float64(a)*float64(v) + float64(b)*float64(y[i]))
	}
}

// adamWGo is the AdamW loop. The conversions to float32 round each product
// on its own: the Go compiler may not fuse an explicitly converted product
// into a multiply-add, so the result is the same on every GOARCH and
// GOAMD64 level, and the same as the assembly's.
func adamWGo(p, g, m, v []float32, s AdamWStep) {
	p, m, v = p[:len(g)], m[:len(g)], v[:len(g)]
	b1, b2 := s.Beta1, s.Beta2
	omb1, omb2 := 1-b1, 1-b2
	for j, gj := range g {
		mj := float32(b1*m[j]) + float32(omb1*gj)
		vj := float32(b2*v[j]) + float32(float32(omb2*gj)*gj)
		m[j], v[j] = mj, vj
		denom := math.Sqrt(float64(vj))/s.SqrtBC2 + s.Eps
		p[j] = float32(p[j]*s.Decay) - float32(s.StepSize*float64(mj)/denom)
	}
}
