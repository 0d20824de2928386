package simd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/pipeline"
)

func TestDropout(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	forImpls(t, func(t *testing.T, im *impl) {
		for _, n := range testLengths {
			for _, p := range []float64{0, 0.1, 0.5} {
				x := randSlice(rng, n, -3, 3)
				if n > 3 {
					x[1], x[2], x[3] = float32(math.Inf(1)), float32(math.NaN()), float32(math.Copysign(0, -1))
				}
				s := DropStream{Key: rng.Uint64(), Site: rng.Uint64N(9), Index: rng.Uint64N(1 << 40),
					Threshold: uint64(p * (1 << 53)), Scale: float32(1 / (1 - p))}
				for _, mul := range []bool{false, true} {
					dst := make([]float32, n)
					im.dropout(dst, x, s, mul)
					for i, v := range x {
						var want float32
						switch {
						case s.Threshold == 0 || pipeline.Keep(s.Key, s.Site, s.Index+uint64(i), s.Threshold):
							want = v * s.Scale
						case mul:
							want = v * 0
						}
						if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
							t.Fatalf("n=%d p=%v mul=%v: element %d of %v is %v, want %v", n, p, mul, i, v, dst[i], want)
						}
					}
					// In place.
					y := append([]float32(nil), x...)
					im.dropout(y, y, s, mul)
					if !sameBits(y, dst) {
						t.Fatalf("n=%d p=%v mul=%v: in place differs", n, p, mul)
					}
				}
			}
		}
	})
}

// MulShifted gives the scalar float32 loop's bits (difference, then
// product) in every implementation, in place too, and is within an ulp or
// two of the float64 value.
func TestMulShifted(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	forImpls(t, func(t *testing.T, im *impl) {
		for _, n := range testLengths {
			p, x := randSlice(rng, n, -5, 5), randSlice(rng, n, -5, 5)
			for _, d := range []float32{0, -1.25, 3.7} {
				dst := make([]float32, n)
				im.mulShift(dst, p, x, d)
				inPlace := append([]float32(nil), x...)
				im.mulShift(inPlace, p, inPlace, d)
				for i := range x {
					want := p[i] * (x[i] - d)
					if math.Float32bits(dst[i]) != math.Float32bits(want) || math.Float32bits(inPlace[i]) != math.Float32bits(want) {
						t.Fatalf("n=%d d=%v: element %d: %v (in place %v), want %v", n, d, i, dst[i], inPlace[i], want)
					}
					exact := float64(p[i]) * (float64(x[i]) - float64(d))
					if e := math.Abs(float64(dst[i]) - exact); e > 2*math.Abs(exact)*0x1p-23+1e-30 && e > 2*math.Abs(float64(p[i]))*math.Abs(float64(x[i])-float64(d))*0x1p-23 {
						t.Fatalf("n=%d d=%v: element %d: %v, float64 %v", n, d, i, dst[i], exact)
					}
				}
			}
		}
	})
}

func TestAddMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 1))
	forImpls(t, func(t *testing.T, im *impl) {
		for _, n := range testLengths {
			x, y := randSlice(rng, n, -5, 5), randSlice(rng, n, -5, 5)
			add, mul := make([]float32, n), make([]float32, n)
			im.add(add, x, y)
			im.mul(mul, x, y)
			for i := range x {
				if add[i] != x[i]+y[i] || mul[i] != x[i]*y[i] {
					t.Fatalf("n=%d: element %d: add %v mul %v, want %v %v", n, i, add[i], mul[i], x[i]+y[i], x[i]*y[i])
				}
			}
		}
	})
}

// RowDots gives the bits of the scalar loop (products rounded, summed in
// order from +0) in every implementation, for row and column counts on
// both sides of the AVX-512 kernel's 16×16 blocks and with strides.
func TestRowDots(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 3))
	forImpls(t, func(t *testing.T, im *impl) {
		for _, rows := range []int{1, 3, 4, 15, 16, 17, 33, 48} {
			for _, cols := range []int{1, 5, 15, 16, 17, 64, 100, 256, 257} {
				ldx, ldy := cols+rows%3, cols+1
				x, y := randSlice(rng, rows*ldx, -3, 3), randSlice(rng, rows*ldy, -3, 3)
				if cols > 2 {
					x[1], y[1] = 0, float32(math.Copysign(0, -1))
				}
				want := make([]float32, rows)
				for r := range want {
					var s float32
					for c := 0; c < cols; c++ {
						s += x[r*ldx+c] * y[r*ldy+c]
					}
					want[r] = s
				}
				got := randSlice(rng, rows, -1, 1)
				im.rowDots(got, x, ldx, y, ldy, rows, cols)
				if !sameBits(got, want) {
					t.Fatalf("rows=%d cols=%d: %v, want %v", rows, cols, got, want)
				}
			}
		}
	})
}
