package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// keepRef is the hash of the dropout stream written out as package
// pipeline defines it (pipeline.Keep); kernels/cpu's tests check it
// against pipeline itself.
func keepRef(key, site, idx, thr uint64) bool {
	mix := func(x uint64) uint64 {
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
		return x
	}
	return mix(key^mix(site*0x9e3779b97f4a7c15+idx))>>11 >= thr
}

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
						case s.Threshold == 0 || keepRef(s.Key, s.Site, s.Index+uint64(i), s.Threshold):
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
