package simd

// DropStream selects the elements of one dropout application: element i of
// a call is element Index+i of the stream (Key, Site), kept when
//
//	h = mix64(Key ^ mix64(Site·φ + Index + i)),  h>>11 >= Threshold
//
// with φ = 0x9e3779b97f4a7c15 and mix64 SplitMix64's finaliser: the
// counter-based hash of package pipeline (pipeline.Keep, DropThreshold),
// whose tests check these kernels against it bit for bit. Threshold 0 keeps
// everything.
type DropStream struct {
	Key, Site, Index uint64
	Threshold        uint64
	// Scale multiplies the kept elements: 1/(1-p).
	Scale float32
}

// Dropout sets dst[i] = x[i]·Scale where element i is kept and +0 where it
// is dropped (inverted dropout).
//
// dst and x must have the same length; dst may be x itself but must not
// otherwise overlap it.
func Dropout(dst, x []float32, s DropStream) {
	checkLen("Dropout", "dst", len(dst), "x", len(x))
	best.dropout(dst, x, s, false)
}

// DropoutMul sets dst[i] = x[i]·m with m = Scale where element i is kept
// and m = 0 where it is dropped: Dropout, except that a dropped element is
// the product x[i]·0 (-0 for negative x, NaN for an infinite or NaN x)
// rather than +0.
//
// dst and x must have the same length; dst may be x itself but must not
// otherwise overlap it.
func DropoutMul(dst, x []float32, s DropStream) {
	checkLen("DropoutMul", "dst", len(dst), "x", len(x))
	best.dropout(dst, x, s, true)
}

// Add sets dst[i] = x[i] + y[i]. dst, x and y must have the same length;
// dst may be x or y itself but must not otherwise overlap them.
func Add(dst, x, y []float32) {
	checkLen("Add", "dst", len(dst), "x", len(x))
	checkLen("Add", "y", len(y), "x", len(x))
	best.add(dst, x, y)
}

// Mul sets dst[i] = x[i]·y[i]. dst, x and y must have the same length;
// dst may be x or y itself but must not otherwise overlap them.
func Mul(dst, x, y []float32) {
	checkLen("Mul", "dst", len(dst), "x", len(x))
	checkLen("Mul", "y", len(y), "x", len(x))
	best.mul(dst, x, y)
}

// MulShifted sets dst[i] = p[i]·(x[i]-d): the difference rounded to
// float32, then the product (no fused multiply-add), the bits of the
// scalar float32 loop in every implementation. It is the softmax
// backward's dS = P ⊙ (dP - δ) on one row. dst, p and x must have the same
// length; dst may be p or x itself but must not otherwise overlap them.
func MulShifted(dst, p, x []float32, d float32) {
	checkLen("MulShifted", "dst", len(dst), "x", len(x))
	checkLen("MulShifted", "p", len(p), "x", len(x))
	best.mulShift(dst, p, x, d)
}

const dropGolden = 0x9e3779b97f4a7c15

func dropMix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func dropoutGo(dst, x []float32, s DropStream, mul bool) {
	dst = dst[:len(x)]
	if s.Threshold == 0 {
		for i, v := range x {
			dst[i] = v * s.Scale
		}
		return
	}
	base := s.Site*dropGolden + s.Index
	for i, v := range x {
		h := dropMix64(s.Key ^ dropMix64(base+uint64(i)))
		switch {
		case h>>11 >= s.Threshold:
			dst[i] = v * s.Scale
		case mul:
			dst[i] = v * 0
		default:
			dst[i] = 0
		}
	}
}

func addGo(dst, x, y []float32) {
	dst, y = dst[:len(x)], y[:len(x)]
	for i, v := range x {
		dst[i] = v + y[i]
	}
}

func mulShiftGo(dst, p, x []float32, d float32) {
	dst, p = dst[:len(x)], p[:len(x)]
	for i, v := range x {
		dst[i] = p[i] * (v - d)
	}
}

func mulGo(dst, x, y []float32) {
	dst, y = dst[:len(x)], y[:len(x)]
	for i, v := range x {
		dst[i] = v * y[i]
	}
}
