package cpu

import (
	"math"

	"github.com/infoscale/gaualpha/kernels/parallel"
	"github.com/infoscale/gaualpha/kernels/simd"
	"github.com/infoscale/gaualpha/pipeline"
)

// parallelMin is the element count from which the elementwise kernels
// split their work across cores.
const parallelMin = 1 << 15

// grain is the piece size (elements) the float32 elementwise loops hand
// out: at least parallelMin/4, and about four pieces per worker, so that a
// worker that starts late (another process on its core) leaves its pieces
// to the others.
func grain(n int) int {
	return max(parallelMin/4, (n+4*parallel.Workers(0)-1)/(4*parallel.Workers(0)))
}

// The float32 elementwise kernels run through one parallel.Job, its op
// selecting the kernel; row kernels (Norm, NormGrad, the gates) loop over
// rows, the others over elements.
const (
	ewSwish = iota
	ewSwishGrad
	ewNorm
	ewNormGrad
	ewAdd
	ewDropout
	ewGate
	ewGateGradX
	ewGateGradO
	ewGatedSwishGrad
	ewDropoutAddNorm
)

type ewArgs struct {
	op        int
	y, x, z   []float32 // output, first and second input
	w, v      []float32 // third and fourth input
	n         int       // row width (Norm, NormGrad)
	e, xw, ow int       // the gates' columns and row widths
	drop      simd.DropStream
}

var ewJob = parallel.Job[ewArgs]{Body: ewRun}

func ewRun(a *ewArgs, _, lo, hi int) {
	switch a.op {
	case ewSwish:
		simd.Swish(a.y[lo:hi], a.x[lo:hi])
	case ewSwishGrad:
		simd.SwishGrad(a.y[lo:hi], a.x[lo:hi], a.z[lo:hi])
	case ewAdd:
		simd.Add(a.y[lo:hi], a.x[lo:hi], a.z[lo:hi])
	case ewDropout:
		d := a.drop
		d.Index = uint64(lo)
		simd.Dropout(a.y[lo:hi], a.x[lo:hi], d)
	case ewNorm:
		n := a.n
		for r := lo * n; r < hi*n; r += n {
			xr := a.x[r : r+n]
			inv := float32(1 / math.Sqrt(simd.SumSquares(xr)/float64(n)+NormEps))
			simd.ScaleTo(a.y[r:r+n], xr, inv)
		}
	case ewNormGrad:
		n := a.n
		for r := lo * n; r < hi*n; r += n {
			xr, dyr := a.x[r:r+n], a.z[r:r+n]
			s := math.Sqrt(simd.SumSquares(xr)/float64(n) + NormEps)
			m := simd.Dot64(dyr, xr) / (float64(n) * s)
			simd.Axpby(a.y[r:r+n], dyr, xr, float32(1/s), float32(-m/(s*s)))
		}
	case ewGate: // y = u ⊙ O
		for r := lo; r < hi; r++ {
			simd.Mul(a.y[r*a.e:(r+1)*a.e], a.x[r*a.xw:r*a.xw+a.e], a.z[r*a.ow:r*a.ow+a.e])
		}
	case ewGateGradX: // y (rows of xw) = dy ⊙ O in the u columns, 0 elsewhere
		for r := lo; r < hi; r++ {
			d := a.y[r*a.xw : (r+1)*a.xw]
			simd.Mul(d[:a.e], a.z[r*a.e:(r+1)*a.e], a.x[r*a.ow:r*a.ow+a.e])
			clear(d[a.e:])
		}
	case ewDropoutAddNorm: // v = x + dropout(z); y = Norm(v), rows of n
		n := a.n
		for r := lo * n; r < hi*n; r += n {
			d := a.drop
			d.Index = uint64(r)
			sr := a.v[r : r+n]
			simd.Dropout(sr, a.z[r:r+n], d)
			simd.Add(sr, a.x[r:r+n], sr)
			inv := float32(1 / math.Sqrt(simd.SumSquares(sr)/float64(n)+NormEps))
			simd.ScaleTo(a.y[r:r+n], sr, inv)
		}
	case ewGatedSwishGrad: // y = SwishGrad(x, [w ⊙ z | v]), rows of xw
		s := ewScratch(a.e)
		for r := lo; r < hi; r++ {
			y, x := a.y[r*a.xw:(r+1)*a.xw], a.x[r*a.xw:(r+1)*a.xw]
			simd.Mul(s.row, a.w[r*a.e:(r+1)*a.e], a.z[r*a.ow:r*a.ow+a.e])
			simd.SwishGrad(y[:a.e], x[:a.e], s.row)
			simd.SwishGrad(y[a.e:], x[a.e:], a.v[r*a.xw+a.e:(r+1)*a.xw])
		}
		ewScratches.Put(s)
	case ewGateGradO: // y (rows of ow) = dy ⊙ u in the first e columns, 0 elsewhere
		for r := lo; r < hi; r++ {
			d := a.y[r*a.ow : (r+1)*a.ow]
			simd.Mul(d[:a.e], a.z[r*a.e:(r+1)*a.e], a.x[r*a.xw:r*a.xw+a.e])
			clear(d[a.e:])
		}
	}
}

// ewRow is a row of scratch.
type ewRow struct{ row []float32 }

var ewScratches parallel.FreeList[ewRow]

func ewScratch(n int) *ewRow {
	s := ewScratches.Get()
	if len(s.row) != n {
		s.row = make([]float32, n)
	}
	return s
}

// ewElems runs an elementwise op over n elements, on one core when n is
// small.
func ewElems(n int, a ewArgs) {
	if n < parallelMin {
		ewRun(&a, 0, 0, n)
		return
	}
	ewJob.Each(n, grain(n), 0, a)
}

// ewRows runs a row op over rows rows of width n elements.
func ewRows(rows, n int, a ewArgs) {
	if rows*n < parallelMin {
		ewRun(&a, 0, 0, rows)
		return
	}
	ewJob.Each(rows, max(1, grain(rows*n)/max(1, n)), 0, a)
}

// Swish writes y = x·σ(x).
func Swish[T Float](y, x []T) {
	if is32[T]() {
		ewElems(len(x), ewArgs{op: ewSwish, y: asF32(y), x: asF32(x)})
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
		ewElems(len(x), ewArgs{op: ewSwishGrad, y: asF32(dx), x: asF32(x), z: asF32(dy)})
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
		ewRows(len(x)/n, n, ewArgs{op: ewNorm, y: asF32(y), x: asF32(x), n: n})
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
		ewRows(len(x)/n, n, ewArgs{op: ewNormGrad, y: asF32(dx), x: asF32(x), z: asF32(dy), n: n})
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
	if is32[T]() {
		ewRows(rows, e, ewArgs{op: ewGate, y: asF32(y), x: asF32(x), z: asF32(o), e: e, xw: xw, ow: ow})
		return
	}
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
	rows := len(dy) / e
	if is32[T]() {
		ewRows(rows, xw, ewArgs{op: ewGateGradX, y: asF32(dx), x: asF32(o), z: asF32(dy), e: e, xw: xw, ow: ow})
		return
	}
	clear(dx)
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
	rows := len(dy) / e
	if is32[T]() {
		ewRows(rows, ow, ewArgs{op: ewGateGradO, y: asF32(do), x: asF32(x), z: asF32(dy), e: e, xw: xw, ow: ow})
		return
	}
	clear(do)
	for r := 0; r < rows; r++ {
		u, dyr, d := x[r*xw:r*xw+e], dy[r*e:(r+1)*e], do[r*ow:r*ow+e]
		for i := range d {
			d[i] = dyr[i] * u[i]
		}
	}
}

// Add writes z = x + y.
func Add[T Float](z, x, y []T) {
	if is32[T]() {
		ewElems(len(x), ewArgs{op: ewAdd, y: asF32(z), x: asF32(x), z: asF32(y)})
		return
	}
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
	if is32[T]() {
		ewElems(len(x), ewArgs{op: ewDropout, y: asF32(y), x: asF32(x),
			drop: simd.DropStream{Key: key, Site: site, Threshold: thr, Scale: float32(inv)}})
		return
	}
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

// GatedSwishGrad is the gradient of a GAU layer's swish output X = [u | v |
// z] (row width xw) summed over its two readers and taken through the
// swish, in one pass:
//
//	s  = [dY ⊙ O | d[:, e:]]        (the gate's and the attention's dX)
//	dx = SwishGrad(pre, s)
//
// pre is the swish input (row width xw), o the attention output (row
// width ow; its first e columns are O), dy the gradient of the gate's
// output u ⊙ O (row width e), and d the attention backward's dX (row width
// xw, zero in the u columns, which are not read). GateGradX's dX and d
// have zeros where the other has the terms, so s is their sum, except that
// a zero term keeps its sign where the sum would give +0; dx therefore has
// the bits of GateGradX, the addition and SwishGrad run one after the other
// up to the sign of zeros, which no sum of products reading dx can show
// (its accumulator starts at +0, and +0 + -0 = +0). dx may be pre itself.
func GatedSwishGrad[T Float](dx, pre, o, dy, d []T, e, xw, ow int) {
	rows := len(dy) / e
	if is32[T]() {
		ewRows(rows, xw, ewArgs{op: ewGatedSwishGrad, y: asF32(dx), x: asF32(pre), z: asF32(o), w: asF32(dy), v: asF32(d), e: e, xw: xw, ow: ow})
		return
	}
	s := make([]T, xw)
	for r := 0; r < rows; r++ {
		for c := range s {
			if c < e {
				s[c] = dy[r*e+c] * o[r*ow+c]
			} else {
				s[c] = d[r*xw+c]
			}
		}
		SwishGrad(dx[r*xw:(r+1)*xw], pre[r*xw:(r+1)*xw], s)
	}
}

// DropoutAddNorm is a GAU layer's residual connection in one pass: s = h +
// Dropout(y) (dropout with probability p, mask of (key, site, index)) and
// out = Norm(s) (rows of width n). It writes both, with the bits of
// Dropout, Add and Norm run one after the other (the backward reads s).
// s may be y itself; out must not overlap the inputs.
func DropoutAddNorm[T Float](s, out, h, y []T, n int, p float64, key, site uint64) {
	thr := pipeline.DropThreshold(p)
	if is32[T]() && thr != 0 {
		ewRows(len(h)/n, n, ewArgs{op: ewDropoutAddNorm, y: asF32(out), x: asF32(h), z: asF32(y), v: asF32(s), n: n,
			drop: simd.DropStream{Key: key, Site: site, Threshold: thr, Scale: float32(1 / (1 - p))}})
		return
	}
	Dropout(s, y, p, key, site)
	Add(s, h, s)
	Norm(out, s, n)
}
