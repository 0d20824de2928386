package gemm

import (
	"cmp"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/infoscale/gaualpha/kernels/parallel"
)

type float interface{ float32 | float64 }

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major float32
// matrices, where op(X) is X, or Xᵀ when transX is set. op(A) is m×k, op(B)
// is k×n and C is m×n; lda, ldb and ldc are the row strides of the stored a
// (m×k, or k×m if transA), b (k×n, or n×k if transB) and c.
//
// When beta == 0, C is only written (NaN or Inf in C do not propagate); when
// alpha == 0 or k == 0, A and B are not read and C = beta*C. Invalid
// arguments (negative sizes, a leading dimension smaller than the stored
// row, slices too short) panic.
//
// Large problems are split over up to runtime.GOMAXPROCS(0) goroutines.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(&config32, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm on the calling goroutine only, for callers that
// already parallelise.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(&config32, false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm is Sgemm for float64.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm(&config64, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// DgemmSerial is SgemmSerial for float64.
func DgemmSerial(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	gemm(&config64, false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// config selects the implementation used for one element type. The package
// values are set once at initialisation from the CPU features and never
// modified; tests build their own to reach every code path.
type config[T float] struct {
	kern *kernel[T]
	// small: products with m*n*k <= small use plain loops (packing does not
	// pay for itself there).
	small int
	// grain: the minimum m*n*k per goroutine for the parallel entry points.
	grain int
	// procs: the maximum number of goroutines; 0 means runtime.GOMAXPROCS(0).
	procs int
	// minChunk: the fewest rows or columns of C handed to a goroutine at a
	// time; 0 means defaultMinChunk.
	minChunk int
}

// The default configurations. small = 8³: plain loops beat packing up to
// about 8×8×8 and lose from 10×10×10 on (TestTuneSmall). grain = 2^24: with
// the goroutine start-up latency of a virtual machine (see split), two
// goroutines were reliably faster than one from about m*n*k = 2^25, but not
// on 128³..256×256×512 (TestTuneGrain; docs/benchmarks.md).
var (
	config32 = config[float32]{kern: defaultKernel32(), small: 8 * 8 * 8, grain: 1 << 24}
	config64 = config[float64]{kern: defaultKernel64(), small: 8 * 8 * 8, grain: 1 << 24}
)

// KernelEnv is the environment variable that caps the default kernels'
// instruction set, for comparing them on one machine: "avx2" skips the
// AVX-512 kernels, "go" every assembly kernel. A value that names no usable
// kernel is reported on standard error and ignored.
const KernelEnv = "GAUALPHA_GEMM"

func defaultKernel32() *kernel[float32] {
	return pickKernel(append(asmKernels32(), goKernels32()...), os.Getenv(KernelEnv))
}

func defaultKernel64() *kernel[float64] {
	return pickKernel(append(asmKernels64(), goKernels64()...), os.Getenv(KernelEnv))
}

// pickKernel returns the first of ks (widest first, all usable) whose name
// starts with prefix, or the first when prefix is empty or matches none.
func pickKernel[T float](ks []*kernel[T], prefix string) *kernel[T] {
	if prefix == "" {
		return ks[0]
	}
	for _, k := range ks {
		if strings.HasPrefix(k.name, prefix) {
			return k
		}
	}
	fmt.Fprintf(os.Stderr, "gemm: %s=%q names no kernel this CPU runs; using %s\n", KernelEnv, prefix, ks[0].name)
	return ks[0]
}

func gemm[T float](cfg *config[T], parallel, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	checkArgs(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	// Work in float64: m*n*k may overflow int on 32-bit platforms.
	work := float64(m) * float64(n) * float64(k)
	if work <= float64(cfg.small) {
		naive(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if swapTN(cfg.kern, transA, transB, m, n, k, beta) {
		gemmSwapped(cfg, parallel, m, n, k, alpha, a, lda, b, ldb, c, ldc)
		return
	}
	if parallel {
		procs := cfg.procs
		if procs <= 0 {
			procs = runtime.GOMAXPROCS(0)
		}
		if workers := min(float64(procs), work/float64(cfg.grain)); workers >= 2 {
			split(cfg.kern, int(workers), cmp.Or(cfg.minChunk, defaultMinChunk), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
	}
	blocked(cfg.kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// swapTN reports whether C = alpha·Aᵀ·B (beta 0) is computed as its
// transpose Cᵀ = alpha·Bᵀ·A: when C is narrow (m <= directTransMax·nr)
// and wide (n more than that), the transposed A of the product as given
// would be packed for many B slivers, while in the transposed product the
// same operand is op(B) packed once and the other, now with few slivers,
// is read in place. The products and their order of summation are the
// same (each element sums a_pi·b_pj over p in the same k blocks), so the
// bits are too; beta must be 0 because the transposed product is written
// to a scratch matrix and copied into C, and k large enough that the copy
// is a small part of the work.
func swapTN[T float](kn *kernel[T], transA, transB bool, m, n, k int, beta T) bool {
	lim := directTransMax * kn.nr
	return kn.fnA != nil && transA && !transB && beta == 0 && m <= lim && n > lim && k >= swapMinK
}

// swapMinK is the least depth for which swapTN pays for its copy of C: on
// the attention's 64×256×64 blocks the copy cost more than the packing it
// saves (a whole default training step 6% slower), on the weight
// gradients' k = 2048 it is a few percent of the product.
const swapMinK = 512

// gemmSwapped computes C = alpha·Aᵀ·B as (alpha·Bᵀ·A)ᵀ through a scratch
// matrix (see swapTN).
func gemmSwapped[T float](cfg *config[T], parallel bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, c []T, ldc int) {
	t := getBuf[T](bufShared, n*m)
	gemm(cfg, parallel, true, false, n, m, k, alpha, b, ldb, a, lda, 0, t.data, m)
	// C = tᵀ in 16×16 tiles (a tile's rows of t stay in L1).
	const tile = 16
	for i0 := 0; i0 < m; i0 += tile {
		i1 := min(i0+tile, m)
		for j0 := 0; j0 < n; j0 += tile {
			j1 := min(j0+tile, n)
			for i := i0; i < i1; i++ {
				cr := c[i*ldc+j0 : i*ldc+j1]
				for j := range cr {
					cr[j] = t.data[(j0+j)*m+i]
				}
			}
		}
	}
	putBuf(bufShared, t)
}

// split computes the product on up to workers goroutines. C is cut along m
// (when op(A) has at least as many rows as op(B) has columns) or along n
// into chunks of whole micro-tiles, which the goroutines claim in turn and
// compute with the serial blocked algorithm. The operand that is not cut
// (op(B) when cutting along m) is packed once, before the chunks, which all
// read it; each chunk packs its own part of the other.
//
// The workers are package parallel's team. Chunks are handed out
// dynamically ("guided": each claim takes 1/w of what is left, but at least
// minChunk rows or columns) rather than as one fixed band per worker,
// because a worker may start late (its core busy with another process) or
// be slow: the caller starts on the first chunk at once and a late worker
// only takes what is left, so it does not hold the call up.
func split[T float](kn *kernel[T], workers, minChunk int, transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	alongM := m >= n
	size, unit := n, kn.nr
	if alongM {
		size, unit = m, kn.mr
	}
	units := (size + unit - 1) / unit
	minUnits := max(1, (minChunk+unit-1)/unit)
	workers = min(workers, units/minUnits)
	if workers < 2 {
		blocked(kn, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	args := splitArgs[T]{kn: kn, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
		alongM: alongM, size: size, unit: unit, units: units, minUnits: minUnits, workers: workers}
	// The operand every chunk reads whole is packed once, here.
	shared := sharedPacks(kn).Get()
	if alongM {
		prepack(kn, shared, true, transB, n, k, b, ldb)
		args.preB = shared
	} else if kn.fnA == nil || transA { // else the chunks read A in place
		prepack(kn, shared, false, transA, m, k, a, lda)
		args.preA = shared
	}
	defer func() {
		shared.release()
		sharedPacks(kn).Put(shared)
	}()
	switch j := any(&splitJob32).(type) {
	case *parallel.Job[splitArgs[T]]:
		j.For(workers, workers, args)
	default:
		any(&splitJob64).(*parallel.Job[splitArgs[T]]).For(workers, workers, args)
	}
}

// splitArgs is one split product: the arguments, how C is cut, and the
// next unclaimed unit (claimed atomically).
type splitArgs[T float] struct {
	kn                       *kernel[T]
	transA, transB           bool
	m, n, k                  int
	alpha, beta              T
	a, b, c                  []T
	lda, ldb, ldc            int
	alongM                   bool
	size, unit               int
	units, minUnits, workers int
	next                     int64
	preA, preB               *prepacked[T] // the operand packed once
}

var (
	sharedPacks32 parallel.FreeList[prepacked[float32]]
	sharedPacks64 parallel.FreeList[prepacked[float64]]
)

// sharedPacks returns the free list of prepacked operands of T.
func sharedPacks[T float](*kernel[T]) *parallel.FreeList[prepacked[T]] {
	if l, ok := any(&sharedPacks32).(*parallel.FreeList[prepacked[T]]); ok {
		return l
	}
	return any(&sharedPacks64).(*parallel.FreeList[prepacked[T]])
}

var (
	splitJob32 = parallel.Job[splitArgs[float32]]{Body: splitRun[float32]}
	splitJob64 = parallel.Job[splitArgs[float64]]{Body: splitRun[float64]}
)

// splitRun is one worker of split: it claims chunks until none is left.
func splitRun[T float](s *splitArgs[T], _, _, _ int) {
	for {
		lo, hi, ok := s.claim()
		if !ok {
			return
		}
		lo, hi = lo*s.unit, min(s.size, hi*s.unit)
		if s.alongM {
			var aa []T
			if s.transA {
				aa = s.a[lo:]
			} else {
				aa = s.a[lo*s.lda:]
			}
			blockedPacked(s.kn, s.transA, s.transB, hi-lo, s.n, s.k, s.alpha, aa, s.lda, s.b, s.ldb, s.beta, s.c[lo*s.ldc:], s.ldc, nil, s.preB)
		} else {
			var bb []T
			if s.transB {
				bb = s.b[lo*s.ldb:]
			} else {
				bb = s.b[lo:]
			}
			blockedPacked(s.kn, s.transA, s.transB, s.m, hi-lo, s.k, s.alpha, s.a, s.lda, bb, s.ldb, s.beta, s.c[lo:], s.ldc, s.preA, nil)
		}
	}
}

// claim hands out the next range of micro-tile units: 1/workers of what is
// left, at least minUnits, and all of it rather than leave a sliver.
func (s *splitArgs[T]) claim() (lo, hi int, ok bool) {
	for {
		next := atomic.LoadInt64(&s.next)
		if int(next) >= s.units {
			return 0, 0, false
		}
		rem := s.units - int(next)
		n := min(rem, max(s.minUnits, (rem+s.workers-1)/s.workers))
		if rem-n < s.minUnits {
			n = rem // do not leave a sliver behind
		}
		if atomic.CompareAndSwapInt64(&s.next, next, next+int64(n)) {
			return int(next), int(next) + n, true
		}
	}
}

// defaultMinChunk is the smallest number of rows or columns of C that split
// hands out at a time: the compute of a chunk of 64 rows or columns is then
// about 10 times the cost of packing the shared operand once more (measured
// 48, 64 and 96 with guided factors 1/w and 1/2w on 512³, 64×256×1536 and
// 1024×768×768: all within the noise of the shared VM, 64 and 1/w kept).
const defaultMinChunk = 64

// scale sets C = beta*C (C = 0 when beta == 0, without reading C).
func scale[T float](m, n int, beta T, c []T, ldc int) {
	if beta == 1 {
		return
	}
	for i := 0; i < m; i++ {
		cr := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(cr)
			continue
		}
		for j := range cr {
			cr[j] *= beta
		}
	}
}

// naive computes the product with plain loops; for tiny problems.
func naive[T float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		cr := c[i*ldc : i*ldc+n]
		if transB {
			// C[i, j] = A[i, :]·B[j, :] (rows of b are the columns of op(B)).
			for j := range cr {
				br := b[j*ldb : j*ldb+k]
				var s T
				if transA {
					for p, bv := range br {
						s += a[p*lda+i] * bv
					}
				} else {
					ar := a[i*lda : i*lda+k]
					for p, bv := range br {
						s += ar[p] * bv
					}
				}
				if beta == 0 {
					cr[j] = alpha * s
				} else {
					cr[j] = alpha*s + beta*cr[j]
				}
			}
			continue
		}
		// C[i, :] = beta*C[i, :] + sum_p alpha*A[i, p]*B[p, :].
		if beta == 0 {
			clear(cr)
		} else if beta != 1 {
			for j := range cr {
				cr[j] *= beta
			}
		}
		for p := 0; p < k; p++ {
			var av T
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			av *= alpha
			br := b[p*ldb : p*ldb+n]
			for j, bv := range br {
				cr[j] += av * bv
			}
		}
	}
}

// checkArgs panics on invalid arguments, in the manner of BLAS xerbla.
func checkArgs(transA, transB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	if m < 0 {
		panic(fmt.Sprintf("gemm: negative m = %d", m))
	}
	if n < 0 {
		panic(fmt.Sprintf("gemm: negative n = %d", n))
	}
	if k < 0 {
		panic(fmt.Sprintf("gemm: negative k = %d", k))
	}
	// Stored shapes (rows × cols) of a and b.
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if lda < max(1, ac) {
		panic(fmt.Sprintf("gemm: lda = %d too small for a %d×%d matrix a (transA = %t)", lda, ar, ac, transA))
	}
	if ldb < max(1, bc) {
		panic(fmt.Sprintf("gemm: ldb = %d too small for a %d×%d matrix b (transB = %t)", ldb, br, bc, transB))
	}
	if ldc < max(1, n) {
		panic(fmt.Sprintf("gemm: ldc = %d too small for a %d×%d matrix c", ldc, m, n))
	}
	if need := minLen(ar, ac, lda); lenA < need {
		panic(fmt.Sprintf("gemm: len(a) = %d too short for a %d×%d matrix with lda = %d (need %d)", lenA, ar, ac, lda, need))
	}
	if need := minLen(br, bc, ldb); lenB < need {
		panic(fmt.Sprintf("gemm: len(b) = %d too short for a %d×%d matrix with ldb = %d (need %d)", lenB, br, bc, ldb, need))
	}
	if need := minLen(m, n, ldc); lenC < need {
		panic(fmt.Sprintf("gemm: len(c) = %d too short for a %d×%d matrix with ldc = %d (need %d)", lenC, m, n, ldc, need))
	}
}

// minLen is the number of elements a rows×cols matrix with row stride ld
// spans: (rows-1)*ld + cols, or 0 when it is empty.
func minLen(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}
