// Package simd provides vectorised float32 kernels for the elementwise and
// row loops of training: the exponential (ExpSum, for the softmax and the
// cross entropy), Max, Swish and its gradient, Scale and ScaleTo, the
// float64-accumulating SumSquares and Dot64 and the linear
// combination Axpby that GAU-α's Norm and its gradient are built from, and
// one AdamW step over a slice of parameters.
//
// # Implementations
//
// Three implementations compute every kernel:
//
//   - avx512 (simd512_amd64.s): Go assembly on 16 float32 lanes per ZMM
//     register, for amd64 processors with AVX-512F whose OS saves the ZMM
//     and opmask state. It uses AVX-512F instructions only (VPXORD rather
//     than VXORPS, VEXTRACTF64X4 rather than VEXTRACTF32X8), so it needs no
//     other AVX-512 subset.
//   - avx2 (simd_amd64.s): Go assembly on 8 lanes per YMM register, for
//     amd64 processors with AVX2 and FMA3.
//   - go (generic.go): pure Go, on every platform.
//
// At start-up (package initialisation) the widest implementation that
// golang.org/x/sys/cpu reports as usable is chosen; x/sys/cpu checks the
// OS's XCR0 register before it reports AVX2 or AVX-512F, so a CPU feature
// the OS does not enable counts as absent. Other GOARCHes and the purego
// build tag compile the pure Go implementation only. Implementation names
// the one in use; Implementations lists all of this build's, with the CPU
// features each needs and whether this CPU has them.
//
// Any length is accepted. The assembly runs whole vectors in its main loops
// (two or four vectors per iteration, for independent dependency chains),
// then the last elements under a lane mask: VMASKMOVPS loads and stores for
// avx2, opmask registers (K1 = 2^(n%16) - 1) for avx512. Masked-off lanes
// are neither read nor written, so no kernel touches memory outside its
// slices (the tests check this with slices bordered by inaccessible pages).
// dst may be an input slice itself (in place), but must not partially
// overlap it. Mismatched lengths panic.
//
// # Exponential
//
// For x in [-87.33654, 88.72283], where e^x is a normal float32:
//
//   - n = round(x·log2 e), by the magic-number trick: t = x·log2e + 1.5·2^23
//     (one FMA, so one rounding) holds n in its low mantissa bits;
//   - r = x - n·ln2hi - n·ln2lo (Cody–Waite: ln2hi has 15 significant bits, so
//     n·ln2hi is exact; two FMAs), |r| <= ln2/2;
//   - e^r = 1 + r + c2·r² + … + c6·r⁶, a degree-6 minimax (Remez) polynomial
//     with relative error 3.1e-9 on |r| <= 0.3466, by Horner's rule with FMAs;
//   - 2^n·e^r by adding n·2^23 to the bits of e^r (t<<23 is exactly that,
//     modulo 2^32). At n = 128 (x > 88.38) e^r < 1 has exponent -1 and at
//     n = -126 e^r >= 1, so the sum never leaves the normal range: no split
//     scaling is needed.
//
// Outside that range: 0 for x < -87.33654, where e^x would be subnormal
// (flushed), and for -Inf; +Inf for x > 88.72283 and for +Inf; NaN for NaN.
// Those lanes take max(0, x·Inf), which is each of these values: avx2
// blends it in by a compare mask, avx512 keeps it in the lanes an opmask
// leaves out of the final integer add.
//
// The two assembly implementations perform the same float32 operations in
// the same order on every lane, so their results are the same bits; the
// tests check this on a sweep of all float32 values. The pure Go code
// follows the same method in float64 arithmetic.
//
// Accuracy, measured by the tests against math.Exp (a fine grid,
// log-uniform random magnitudes down to 1e-30, every float32 within 2000
// ulp of both range limits, the points (k+½)·ln2 where |r| is largest, and
// every 389th float32 bit pattern): at most 0.87 ulp for the assembly, 0.55
// ulp for the pure Go code. The contract is 2 ulp.
//
// # Swish
//
// Swish is x/(1+e^-x), with a correctly rounded division: at most 2.05 ulp
// from the exact value (relative error 2.4e-7); results smaller than 2.7e-37
// in magnitude (x < -88.72) are -0. SwishGrad computes σ = 1/(1+e^-x) and
// 1-σ = e^-x·σ, so large x loses nothing to cancellation; its error is a
// few ulp of the size of its terms, see SwishGrad for the one place (x near
// -1.2785, where the gradient crosses zero) where that is not a relative
// error below 1e-6. Neither gives NaN for finite inputs. Both use the exp
// above, so the two assembly implementations agree bit for bit here too.
//
// # Reductions and row kernels
//
// ExpSum accumulates its sum in float64 lanes (each vector of results is
// widened into two float64 accumulators: 8 lanes in all for avx2, 32 for
// avx512) and rounds once. SumSquares and Dot64 widen their inputs to float64, where
// every product of two float32 values is exact, and accumulate in 16 or 32
// float64 partial sums. Max returns NaN if any element is NaN (the assembly
// collects unordered compares apart from the running maxima) and -Inf for an
// empty slice. The reductions' partial sums differ between implementations,
// so their results may differ in the last bits.
//
// Axpby(dst, x, y, a, b) is a·x + b·y: the assembly rounds b·y and adds
// a·x in one FMA (the same bits on both paths), the pure Go code sums in
// float64. GAU-α's Norm of a float32 row is SumSquares then ScaleTo by
// 1/sqrt(mean + ε); its gradient is SumSquares, Dot64 and one Axpby
// (package kernels/cpu).
//
// # AdamW
//
// AdamW updates the moments with float32 multiplies and adds, each rounded
// (no fused multiply-add: the pure Go loop converts every product to
// float32, which forbids the compiler to fuse it), and computes the update
// StepSize·m/(sqrt(v)/SqrtBC2 + ε) in float64 lanes (8 per ZMM, 4 per
// YMM), rounding it to float32 once. All three implementations give the
// same bits, those of the scalar loop of package optim. Its speed is bound
// by the float64 square root and two divisions per element more than by
// its seven streams of memory.
//
// # Testing
//
// Every test runs on every implementation this CPU supports, forcing each in
// turn; TestImplPaths logs one line naming the implementations tested and
// those the CPU lacks. The references are float64: math.Exp, the Swish
// formulas in float64, float64 sums. The elementwise kernels run on every
// length up to 70 and beyond the unrolled loops' boundaries, in place and
// not, with guard elements around dst and guard pages around the slices.
//
// # Performance
//
// The exponential kernels are compute bound (about 20 vector operations per
// vector of results, the range fix-up included); Max, Scale,
// SumSquares, Dot64 and Axpby are bound by loads and stores: by the caches
// at small sizes, by memory bandwidth beyond the last-level cache. The
// measured rates of every kernel on every implementation, with the scalar
// loops they replace and the machine's copy rate for comparison, are in
// docs/benchmarks.md. Run the benchmarks with
//
//	go test -run '^$' -bench . ./kernels/simd
package simd
