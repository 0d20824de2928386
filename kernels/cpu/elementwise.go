package cpu

import (
	"math"

	"github.com/infoscale/gaualpha/kernels/simd"
	"github.com/infoscale/gaualpha/pipeline"
)

// parallelMin is the element count from which the elementwise kernels
// split their work across cores.
const parallelMin = 1 << 15

// chunks runs fn over [0, n) in one piece, or split across cores when n is
// large.
func chunks(n int, fn func(lo, hi int)) {
	if n < parallelMin {
		fn(0, n)
		return
	}
	forRange(n, 0, func(_, lo, hi int) { fn(lo, hi) })
}

// Swish writes y = x·σ(x).
func Swish[T Float](y, x []T) {
	if is32[T]() {
		y32, x32 := asF32(y), asF32(x)
		chunks(len(x), func(lo, hi int) { simd.Swish(y32[lo:hi], x32[lo:hi]) })
		return
	}
	chunks(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := x[i]
			y[i] = v * sigmoidT(v)
		}
	})
}

// SwishGrad writes dx = dy·σ(x)·(1 + x·(1-σ(x))).
func SwishGrad[T Float](dx, x, dy []T) {
	if is32[T]() {
		d32, x32, g32 := asF32(dx), asF32(x), asF32(dy)
		chunks(len(x), func(lo, hi int) { simd.SwishGrad(d32[lo:hi], x32[lo:hi], g32[lo:hi]) })
		return
	}
	chunks(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := x[i]
			s := sigmoidT(v)
			dx[i] = dy[i] * s * (1 + v*(1-s))
		}
	})
}

// NormEps is the ε of Norm, as in GAU-α.
const NormEps = 1e-12

// Norm writes y = x / sqrt(mean(x²) + ε) row by row (rows of width n).
// For float32 the sum of squares (in float64) and the scaling are vector
// kernels of package simd.
func Norm[T Float](y, x []T, n int) {
	if is32[T]() {
		y32, x32 := asF32(y), asF32(x)
		rowsOf(len(x), n, func(r int) {
			xr := x32[r : r+n]
			inv := float32(1 / math.Sqrt(simd.SumSquares(xr)/float64(n)+NormEps))
			simd.ScaleTo(y32[r:r+n], xr, inv)
		})
		return
	}
	rowsOf(len(x), n, func(r int) {
		xr := x[r : r+n]
		inv := T(1 / rms(xr))
		for i, v := range xr {
			y[r+i] = v * inv
		}
	})
}

// rowsOf calls fn(r) for the start r of every row of width n in a buffer
// of the given length, split across cores when the buffer is large.
func rowsOf(length, n int, fn func(r int)) {
	rows := length / n
	if length < parallelMin {
		for i := 0; i < rows; i++ {
			fn(i * n)
		}
		return
	}
	forRange(rows, 0, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			fn(i * n)
		}
	})
}

// NormGrad writes dx for y = Norm(x): dx = (dy - y·mean(dy⊙y)) / rms(x).
// For float32 it is dx = a·dy + b·x with a = 1/s and b = -Σ(dy⊙x)/(n·s³)
// (s = rms(x), the sums in float64), by the vector kernels of package simd.
func NormGrad[T Float](dx, x, dy []T, n int) {
	if is32[T]() {
		d32, x32, g32 := asF32(dx), asF32(x), asF32(dy)
		rowsOf(len(x), n, func(r int) {
			xr, dyr := x32[r:r+n], g32[r:r+n]
			s := math.Sqrt(simd.SumSquares(xr)/float64(n) + NormEps)
			m := simd.Dot64(dyr, xr) / (float64(n) * s)
			simd.Axpby(d32[r:r+n], dyr, xr, float32(1/s), float32(-m/(s*s)))
		})
		return
	}
	rowsOf(len(x), n, func(r int) {
		xr, dyr := x[r:r+n], dy[r:r+n]
		s := rms(xr)
		var m float64
		for i, v := range xr {
			m += float64(dyr[i]) * float64(v) / s
		}
		m /= float64(n)
		for i, v := range xr {
			y := float64(v) / s
			dx[r+i] = T((float64(dyr[i]) - y*m) / s)
		}
	})
}

func rms[T Float](x []T) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s/float64(len(x)) + NormEps)
}

// Gate writes y = u ⊙ O row by row, where u is the first e columns of x
// (row width xw) and O the first e columns of o (row width ow).
func Gate[T Float](y, x, o []T, e, xw, ow int) {
	rows := len(y) / e
	for r := 0; r < rows; r++ {
		u, or, yr := x[r*xw:r*xw+e], o[r*ow:r*ow+e], y[r*e:(r+1)*e]
		for i := range yr {
			yr[i] = u[i] * or[i]
		}
	}
}

// GateGradX writes the gradient of Gate with respect to x: dy⊙O in the u
// columns, zero elsewhere.
func GateGradX[T Float](dx, o, dy []T, e, xw, ow int) {
	clear(dx)
	rows := len(dy) / e
	for r := 0; r < rows; r++ {
		or, dyr, d := o[r*ow:r*ow+e], dy[r*e:(r+1)*e], dx[r*xw:r*xw+e]
		for i := range d {
			d[i] = dyr[i] * or[i]
		}
	}
}

// GateGradO writes the gradient of Gate with respect to o: dy⊙u in the
// first e columns, zero elsewhere.
func GateGradO[T Float](do, x, dy []T, e, xw, ow int) {
	clear(do)
	rows := len(dy) / e
	for r := 0; r < rows; r++ {
		u, dyr, d := x[r*xw:r*xw+e], dy[r*e:(r+1)*e], do[r*ow:r*ow+e]
		for i := range d {
			d[i] = dyr[i] * u[i]
		}
	}
}

// Add writes z = x + y.
func Add[T Float](z, x, y []T) {
	for i, v := range x {
		z[i] = v + y[i]
	}
}

// Dropout writes y = x·keep/(1-p), the mask drawn from (key, site, index).
// Applied to the output gradient with the same arguments it is its own
// backward.
func Dropout[T Float](y, x []T, p float64, key, site uint64) {
	thr := pipeline.DropThreshold(p)
	if thr == 0 {
		copy(y, x)
		return
	}
	inv := T(1 / (1 - p))
	chunks(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if pipeline.Keep(key, site, uint64(i), thr) {
				y[i] = x[i] * inv
			} else {
				y[i] = 0
			}
		}
	})
}
