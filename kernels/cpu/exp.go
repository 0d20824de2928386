package cpu

import (
	"math"
	"unsafe"

	"github.com/infoscale/gaualpha/kernels/simd"
)

// expf32 is e^x in float32 arithmetic, several times faster than math.Exp:
// x = n·ln2 + r with |r| <= ln2/2, e^r by its degree-7 Taylor polynomial
// (truncation error below 1e-8 relative), 2^n by building the exponent
// bits. Results below the smallest normal float32 flush to 0. Accuracy: within
// 2 ulp of the correctly rounded value (tested).
func expf32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693145751953125
		ln2lo = 1.42860682030941723212e-6
	)
	switch {
	case x != x: // NaN
		return x
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654:
		return 0
	}
	// Adding 1.5·2^23 rounds x·log2(e) to an integer n held in the low
	// mantissa bits of t.
	const magic = 12582912.0
	t := x*log2e + magic
	n := t - magic
	ni := int32(math.Float32bits(t)) - 0x4b400000
	r := x - n*ln2hi - n*ln2lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	// n in [-126, 128]: scale by 2^n in two steps to stay in range.
	if ni > 127 {
		return p * 2 * math.Float32frombits(uint32(ni-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}

// expT is e^x: expf32 for float32, math.Exp for float64 (the gradient checks
// run in float64 and keep full accuracy). The size test is resolved at
// compile time for each instantiation.
func expT[T Float](x T) T {
	if unsafe.Sizeof(x) == 4 {
		return T(expf32(float32(x)))
	}
	return T(math.Exp(float64(x)))
}

// sigmoidT is 1/(1+e^-x) in the precision of T.
func sigmoidT[T Float](x T) T {
	return 1 / (1 + expT(-x))
}

// is32 reports whether T is float32 (resolved at compile time).
func is32[T Float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// asF32 reinterprets a []T known to be []float32.
func asF32[T Float](x []T) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(x))), len(x))
}

// rowMax returns the largest element of row.
func rowMax[T Float](row []T) T {
	if is32[T]() && len(row) > 0 {
		return T(simd.Max(asF32(row)))
	}
	mx := T(math.Inf(-1))
	for _, v := range row {
		mx = max(mx, v)
	}
	return mx
}

// expShiftSum writes dst[i] = e^(row[i]-shift) and returns the sum.
func expShiftSum[T Float](dst, row []T, shift T) T {
	if is32[T]() {
		return T(simd.ExpSum(asF32(dst), asF32(row), float32(shift)))
	}
	var s T
	for i, v := range row {
		e := expT(v - shift)
		dst[i] = e
		s += e
	}
	return s
}
