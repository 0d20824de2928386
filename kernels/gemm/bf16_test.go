package gemm

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/internal/bf16"
)

// bf16Impls lists every way of computing SgemmBF16: the public entry
// points, the VDPBF16PS kernel where the CPU has it and the rounding
// wrapper around every float32 kernel this CPU runs, each with its own and
// with tiny blocks (odd kc, so blocks end in half-empty pairs) and split
// over goroutines.
func bf16Impls() []impl[float32] {
	out := []impl[float32]{{"SgemmBF16", SgemmBF16}, {"sgemmBF16Serial", sgemmBF16Serial}}
	var kerns []*kernel[float32]
	if kn := asmKernelBF16(); kn != nil {
		kerns = append(kerns, kn)
	}
	for _, kn := range append(asmKernels32(), goKernels32()...) {
		kerns = append(kerns, roundingKernel(kn))
	}
	for _, kn := range kerns {
		out = append(out, kernelImpls(kn)...)
	}
	return out
}

// roundedProblem is a problem whose A and B hold bfloat16 values.
func roundedProblem(rng *rand.Rand, transA, transB bool, m, n, k, pad int, alpha, beta float32) problem[float32] {
	p := newProblem[float32](rng, transA, transB, m, n, k, pad, alpha, beta)
	p.a = roundSlice(p.a)
	p.b = roundSlice(p.b)
	return p
}

// TestBF16Paths names the bfloat16 product paths tested and, when the CPU
// lacks AVX512_BF16, the VDPBF16PS kernel it cannot run.
func TestBF16Paths(t *testing.T) {
	var names []string
	for _, im := range bf16Impls() {
		if n, ok := strings.CutSuffix(im.name, "/serial"); ok {
			names = append(names, n)
		}
	}
	missing := "none"
	if asmKernelBF16() == nil {
		missing = "avx512bf16-6x64 (needs AVX512_BF16)"
	}
	t.Logf("bf16 GEMM paths tested: %s (default %s); not on this CPU: %s", strings.Join(names, ", "), BF16Kernel(), missing)
}

// TestBF16Shapes compares every bf16 path with the float64 product of the
// bfloat16 operands: the sums are float32, so the bound is the float32
// summation bound of the float32 tests, eps·(k+4)·Σ|a·b| per element
// (products of bfloat16 values are exact in float32).
func TestBF16Shapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	impls := bf16Impls()
	for i, s := range shapes(rng, true) {
		tr := transposes[i%4]
		ab := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {1.5, -1}}[(i/4)%4]
		check(t, impls, roundedProblem(rng, tr[0], tr[1], s[0], s[1], s[2], i%2*3, ab[0], ab[1]))
	}
}

// TestBF16AlphaBeta: beta = 0 does not read C, alpha = 0 reads neither A
// nor B, as in Sgemm.
func TestBF16AlphaBeta(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	impls := bf16Impls()
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, s := range [][3]int{{5, 7, 3}, {13, 70, 19}, {64, 64, 128}} {
		for _, tr := range transposes {
			for _, ab := range [][2]float32{{1, 0}, {0, 0}, {0, -3}, {-1, 0.5}} {
				p := roundedProblem(rng, tr[0], tr[1], s[0], s[1], s[2], 2, ab[0], ab[1])
				if ab[1] == 0 {
					for i := range p.c {
						p.c[i] = []float32{nan, inf, -inf}[i%3]
					}
				}
				if ab[0] == 0 {
					for i := range p.a {
						p.a[i] = nan
					}
				}
				check(t, impls, p)
			}
		}
	}
}

// TestBF16RoundsOperands: unrounded operands give the same bits as the
// same operands rounded with internal/bf16 first.
func TestBF16RoundsOperands(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, im := range bf16Impls() {
		for _, tr := range transposes {
			p := newProblem[float32](rng, tr[0], tr[1], 37, 150, 41, 1, 1, 0)
			c1, c2 := clone(p.c), clone(p.c)
			a := clone(p.a)
			im.run(tr[0], tr[1], p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, c1, p.ldc)
			im.run(tr[0], tr[1], p.m, p.n, p.k, 1, roundSlice(p.a), p.lda, roundSlice(p.b), p.ldb, 0, c2, p.ldc)
			if !sameBits(c1, c2) {
				t.Errorf("%s tA=%t tB=%t: unrounded operands give other results than rounded ones", im.name, tr[0], tr[1])
			}
			if !sameBits(a, p.a) {
				t.Fatalf("%s: modified A", im.name)
			}
		}
	}
}

// roundSlice returns a copy of x with every value rounded to bfloat16.
func roundSlice(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = bf16.Round(v)
	}
	return out
}
