package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	gonum "gonum.org/v1/gonum/blas/gonum"
)

// benchShape is one product shape from the project: op(A) is m×k, op(B) k×n.
type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

var benchShapes = []benchShape{
	{"8x8x8", false, false, 8, 8, 8},
	{"20x20x20", false, false, 20, 20, 20},
	{"attnQKt_64x64x128_NT", false, true, 64, 64, 128},
	{"attn_64x256x1536_NN", false, false, 64, 256, 1536},
	{"512x512x512_NN", false, false, 512, 512, 512},
	{"512x512x512_NT", false, true, 512, 512, 512},
	{"512x512x512_TN", true, false, 512, 512, 512},
	{"512x512x512_TT", true, true, 512, 512, 512},
	// Linear layer with N = 8192 tokens, d = 768, hidden 3200.
	{"XWt_8192x3200x768_NT", false, true, 8192, 3200, 768},
	{"dYW_8192x768x3200_NN", false, false, 8192, 768, 3200},
	{"dYtX_3200x768x8192_TN", true, false, 3200, 768, 8192},
	// The default model's training step (2048 tokens, hidden 128, e = 256,
	// d = 64): the six linear-layer products and the attention blocks.
	{"def_XWt_2048x576x128_NT", false, true, 2048, 576, 128},
	{"def_dUW_2048x128x576_NN", false, false, 2048, 128, 576},
	{"def_dUtX_576x128x2048_TN", true, false, 576, 128, 2048},
	{"def_YWt_2048x128x256_NT", false, true, 2048, 128, 256},
	{"def_dOW_2048x256x128_NN", false, false, 2048, 256, 128},
	{"def_dOtY_128x256x2048_TN", true, false, 128, 256, 2048},
	{"def_QKt_64x64x64_NT", false, true, 64, 64, 64},
	{"def_PV_64x256x64_NN", false, false, 64, 256, 64},
}

// operands allocates random operands for s, stored densely.
func (s benchShape) operands() (a []float32, lda int, b []float32, ldb int, c []float32) {
	rng := rand.New(rand.NewPCG(1, 1))
	lda, ldb = s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	return randSlice[float32](rng, s.m*s.k), lda, randSlice[float32](rng, s.k*s.n), ldb, make([]float32, s.m*s.n)
}

// reportGFLOPS reports the rate per wall-clock second ("GFLOP/s") and per
// second of process CPU time since cpu0 ("GFLOP/s-cpu"). On a shared machine
// the second is much less sensitive to other processes; with several
// goroutines it is the rate per busy core.
func reportGFLOPS(b *testing.B, s benchShape, cpu0 time.Duration) {
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := processCPU() - cpu0; cpu > 0 && cpu0 > 0 {
		b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/s-cpu")
	}
}

type sgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// shapesFor returns the benchmark shapes: all of them, or under -short the
// small ones only (CI runs every benchmark once that way).
func shapesFor() []benchShape {
	if !testing.Short() {
		return benchShapes
	}
	var small []benchShape
	for _, s := range benchShapes {
		if s.m*s.n*s.k <= 64*256*1536 {
			small = append(small, s)
		}
	}
	return small
}

func benchSgemm(b *testing.B, f sgemmFunc) {
	for _, s := range shapesFor() {
		b.Run(s.name, func(b *testing.B) {
			a, lda, bb, ldb, c := s.operands()
			f(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			cpu0 := processCPU()
			for b.Loop() {
				f(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, s.n)
			}
			reportGFLOPS(b, s, cpu0)
		})
	}
}

// BenchmarkSgemm times Sgemm (all of GOMAXPROCS); run with -cpu 1,2.
func BenchmarkSgemm(b *testing.B) { benchSgemm(b, Sgemm) }

// BenchmarkSgemmSerial times SgemmSerial (one goroutine).
func BenchmarkSgemmSerial(b *testing.B) { benchSgemm(b, SgemmSerial) }

// BenchmarkSgemmGeneric times the pure Go fallback kernels, serially.
func BenchmarkSgemmGeneric(b *testing.B) {
	for _, kn := range goKernels32() {
		b.Run(kn.name, func(b *testing.B) {
			cfg := config32
			cfg.kern = kn
			benchSgemm(b, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
				gemm(&cfg, false, transA, transB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
			})
		})
	}
}

// BenchmarkSgemmKernels times every assembly kernel this CPU supports,
// serially (one goroutine).
func BenchmarkSgemmKernels(b *testing.B) {
	for _, kn := range asmKernels32() {
		b.Run(kn.name, func(b *testing.B) {
			cfg := config32
			cfg.kern = kn
			benchSgemm(b, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
				gemm(&cfg, false, transA, transB, m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
			})
		})
	}
}

// BenchmarkSgemmBF16 times sgemmBF16Serial (bfloat16 products).
func BenchmarkSgemmBF16(b *testing.B) { benchSgemm(b, sgemmBF16Serial) }

// BenchmarkGonumSgemm times gonum's pure Go Sgemm on the same shapes (it
// parallelises by itself over GOMAXPROCS).
func BenchmarkGonumSgemm(b *testing.B) {
	var impl gonum.Implementation
	tr := func(t bool) blas.Transpose {
		if t {
			return blas.Trans
		}
		return blas.NoTrans
	}
	benchSgemm(b, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, bb []float32, ldb int, beta float32, c []float32, ldc int) {
		impl.Sgemm(tr(transA), tr(transB), m, n, k, alpha, a, lda, bb, ldb, beta, c, ldc)
	})
}

// BenchmarkDgemm times Dgemm on a 512³ product.
func BenchmarkDgemm(b *testing.B) {
	for _, n := range []int{64, 512} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			a, bb, c := randSlice[float64](rng, n*n), randSlice[float64](rng, n*n), make([]float64, n*n)
			cpu0 := processCPU()
			for b.Loop() {
				Dgemm(false, false, n, n, n, 1, a, n, bb, n, 0, c, n)
			}
			reportGFLOPS(b, benchShape{m: n, n: n, k: n}, cpu0)
		})
	}
}
