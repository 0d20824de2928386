package cpu

import "math"

// sigmoid is computed in float64 for accuracy in both precisions.
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Swish writes y = x·σ(x).
func Swish[T Float](y, x []T) {
	for i, v := range x {
		y[i] = T(float64(v) * sigmoid(float64(v)))
	}
}

// SwishGrad writes dx = dy·σ(x)·(1 + x·(1-σ(x))).
func SwishGrad[T Float](dx, x, dy []T) {
	for i, v := range x {
		s := sigmoid(float64(v))
		dx[i] = T(float64(dy[i]) * s * (1 + float64(v)*(1-s)))
	}
}

// NormEps is the ε of Norm, as in GAU-α.
const NormEps = 1e-12

// Norm writes y = x / sqrt(mean(x²) + ε) row by row (rows of width n).
func Norm[T Float](y, x []T, n int) {
	for r := 0; r+n <= len(x); r += n {
		xr := x[r : r+n]
		inv := T(1 / rms(xr))
		for i, v := range xr {
			y[r+i] = v * inv
		}
	}
}

// NormGrad writes dx for y = Norm(x): dx = (dy - y·mean(dy⊙y)) / rms(x).
func NormGrad[T Float](dx, x, dy []T, n int) {
	for r := 0; r+n <= len(x); r += n {
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
	}
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
	thr := DropThreshold(p)
	if thr == 0 {
		copy(y, x)
		return
	}
	inv := T(1 / (1 - p))
	for i, v := range x {
		if Keep(key, site, uint64(i), thr) {
			y[i] = v * inv
		} else {
			y[i] = 0
		}
	}
}
