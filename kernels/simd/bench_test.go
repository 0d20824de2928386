package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/pipeline"
)

// Benchmarks: each kernel at n = 4096 (in L1/L2), 1<<20 (4 MiB per slice,
// beyond L2) and 1<<24 (64 MiB per slice, beyond L3: main memory), for
// every implementation available here and for the scalar loop it replaces
// (math.Exp and the formulas of kernels/cpu). Reported: ns/elem and,
// through SetBytes, the bytes read and written per second. BenchmarkCopy
// gives the memory system's rate for comparison: Go's copy (the runtime's
// memmove) at the same sizes.
//
//	go test -run '^$' -bench . ./kernels/simd

var benchSizes = []int{4096, 1 << 20, 1 << 24}

// benchKernel describes one kernel for the benchmarks.
type benchKernel struct {
	name    string
	lo, hi  float64 // input range
	streams int     // float32 slices read or written
	// run calls the kernel of im (nil: the scalar reference loop).
	run func(im *impl, dst, x, y []float32) float32
}

var sink float32

var benchKernels = []benchKernel{
	{"Exp", -20, 5, 2, func(im *impl, dst, x, _ []float32) float32 {
		if im == nil {
			for i, v := range x {
				dst[i] = float32(math.Exp(float64(v)))
			}
			return 0
		}
		im.exp(dst, x)
		return 0
	}},
	{"ExpSum", -10, 10, 2, func(im *impl, dst, x, _ []float32) float32 {
		if im == nil {
			var s float32
			for i, v := range x {
				e := float32(math.Exp(float64(v - 10)))
				dst[i] = e
				s += e
			}
			return s
		}
		return im.expSum(dst, x, 10)
	}},
	{"Max", -1, 1, 1, func(im *impl, _, x, _ []float32) float32 {
		if im == nil {
			m := float32(math.Inf(-1))
			for _, v := range x {
				if v > m {
					m = v
				}
			}
			return m
		}
		return im.max(x)
	}},
	{"Swish", -8, 8, 2, func(im *impl, dst, x, _ []float32) float32 {
		if im == nil {
			for i, v := range x {
				dst[i] = float32(float64(v) * (1 / (1 + math.Exp(-float64(v)))))
			}
			return 0
		}
		im.swish(dst, x)
		return 0
	}},
	{"SwishGrad", -8, 8, 3, func(im *impl, dst, x, y []float32) float32 {
		if im == nil {
			for i, v := range x {
				s := 1 / (1 + math.Exp(-float64(v)))
				dst[i] = float32(float64(y[i]) * s * (1 + float64(v)*(1-s)))
			}
			return 0
		}
		im.swishGrad(dst, x, y)
		return 0
	}},
	{"Scale", -1, 1, 2, func(im *impl, _, x, _ []float32) float32 {
		if im == nil {
			for i := range x {
				x[i] *= 1
			}
			return 0
		}
		im.scale(x, x, 1)
		return 0
	}},
	{"SumSquares", -1, 1, 1, func(im *impl, _, x, _ []float32) float32 {
		if im == nil {
			var s float64
			for _, v := range x {
				s += float64(v) * float64(v)
			}
			return float32(s)
		}
		return float32(im.sumSq(x))
	}},
	{"Dot64", -1, 1, 2, func(im *impl, _, x, y []float32) float32 {
		if im == nil {
			var s float64
			for i, v := range x {
				s += float64(v) * float64(y[i])
			}
			return float32(s)
		}
		return float32(im.dot64(x, y))
	}},
	{"Axpby", -1, 1, 3, func(im *impl, dst, x, y []float32) float32 {
		if im == nil {
			for i, v := range x {
				dst[i] = 0.5*v - 0.25*y[i]
			}
			return 0
		}
		im.axpby(dst, x, y, 0.5, -0.25)
		return 0
	}},
	{"Add", -1, 1, 3, func(im *impl, dst, x, y []float32) float32 {
		if im == nil {
			for i, v := range x {
				dst[i] = v + y[i]
			}
			return 0
		}
		im.add(dst, x, y)
		return 0
	}},
	{"Mul", -1, 1, 3, func(im *impl, dst, x, y []float32) float32 {
		if im == nil {
			for i, v := range x {
				dst[i] = v * y[i]
			}
			return 0
		}
		im.mul(dst, x, y)
		return 0
	}},
	{"MulShifted", -1, 1, 3, func(im *impl, dst, x, y []float32) float32 {
		if im == nil {
			for i, v := range y {
				dst[i] = x[i] * (v - 0.25)
			}
			return 0
		}
		im.mulShift(dst, x, y, 0.25)
		return 0
	}},
	{"Dropout", -1, 1, 2, func(im *impl, dst, x, _ []float32) float32 {
		s := DropStream{Key: 12345, Site: 3, Threshold: 900719925474099, Scale: 1 / 0.9} // p = 0.1
		if im == nil {
			for i, v := range x {
				if pipeline.Keep(s.Key, s.Site, uint64(i), s.Threshold) {
					dst[i] = v * s.Scale
				} else {
					dst[i] = 0
				}
			}
			return 0
		}
		im.dropout(dst, x, s, false)
		return 0
	}},
}

func BenchmarkKernels(b *testing.B) {
	for _, k := range benchKernels {
		b.Run(k.name, func(b *testing.B) {
			for _, n := range benchSizes {
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				x := randSlice(rng, n, k.lo, k.hi)
				y := randSlice(rng, n, -1, 1)
				dst := randSlice(rng, n, -1, 1) // pages touched before the timing
				run := func(b *testing.B, im *impl) {
					b.SetBytes(int64(4 * n * k.streams))
					for b.Loop() {
						sink += k.run(im, dst, x, y)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
				}
				for _, im := range impls {
					b.Run(fmt.Sprintf("n=%d/%s", n, im.name), func(b *testing.B) { run(b, im) })
				}
				b.Run(fmt.Sprintf("n=%d/scalar", n), func(b *testing.B) { run(b, nil) })
			}
		})
	}
}

// BenchmarkCopy times copy(dst, x) (two streams: read x, write dst), the
// memory system's rate at each size.
func BenchmarkCopy(b *testing.B) {
	for _, n := range benchSizes {
		x := make([]float32, n)
		dst := make([]float32, n)
		for i := range x { // touch every page before the timing
			x[i], dst[i] = 1, 1
		}
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				copy(dst, x)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
		})
	}
}
