// Package simd provides vectorised float32 kernels for the elementwise hot
// loops of training: the exponential (Exp, and ExpSum for the softmax and the
// cross entropy), Max, Swish and its gradient, Scale and Dot.
//
// # Implementations
//
// On amd64 processors with AVX2 and FMA3 (detected with golang.org/x/sys/cpu)
// the kernels are Go assembly working on 8 float32 lanes per YMM register;
// elsewhere (other GOARCHes, older amd64 processors, or the purego build tag)
// they are pure Go. Implementation reports which is in use. Any length is
// accepted: the assembly handles the last len%8 elements with VMASKMOVPS
// masked loads and stores, which neither read nor write memory outside the
// slices (the tests check this with slices bordered by inaccessible pages).
// dst may be the input slice itself (in place), but must not partially
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
// A blend with max(0, x·Inf) supplies these without branches.
//
// Accuracy, measured against math.Exp on about a million inputs (a fine
// grid, log-uniform random magnitudes down to 1e-30, every float32 within
// 2000 ulp of both range limits, and the points (k+½)·ln2 where |r| is
// largest): at most 0.86 ulp for the assembly, 0.55 ulp for the pure Go code
// (which evaluates the same polynomial in float64). The contract is 2 ulp.
//
// Swish is x/(1+e^-x), with a correctly rounded division: at most 2.05 ulp
// from the exact value (relative error 2.4e-7); results smaller than 2.7e-37
// in magnitude (x < -88.72) are -0. SwishGrad computes σ = 1/(1+e^-x) and
// 1-σ = e^-x·σ, so large x loses nothing to cancellation; its error is a
// few ulp of the size of its terms, see SwishGrad for the one place (x near
// -1.2785, where the gradient crosses zero) where that is not a relative
// error below 1e-6. Neither gives NaN for finite inputs.
//
// ExpSum accumulates its sum in float64 lanes (each vector of 8 results is
// widened into two 4-lane accumulators) and rounds once. Dot accumulates in
// float32, in 32 partial sums (4 accumulators of 8 lanes) in the assembly,
// in float64 in the pure Go code. Max returns NaN if any element is NaN and
// -Inf for an empty slice.
//
// # Performance
//
// Measured on the 2-core AMD EPYC (Zen 3, family 25 model 1, AVX2 + FMA,
// no AVX-512) of this project's build machine, one goroutine, Go 1.26,
// go test -bench . (medians of 3 runs; the machine is shared and runs vary
// by ±20%). ns/elem for the assembly (with its GB/s of slices read and
// written), the pure Go code, and the scalar float64 loop the kernel
// replaces (math.Exp, and the formulas of kernels/cpu); then the speed-ups
// over that scalar loop:
//
//	kernel        n   avx2   GB/s      go  scalar  avx2 vs scalar  go vs scalar
//	Exp        4096  0.586   13.7    6.43   16.07   27.4x   2.5x
//	Exp       1<<20  0.384   20.8    5.99   15.15   39.4x   2.5x
//	ExpSum     4096  0.627   12.8    6.33   16.73   26.7x   2.6x
//	ExpSum    1<<20  0.663   12.1    6.10   16.51   24.9x   2.7x
//	Max        4096  0.049   81.8    1.81    2.20   45.0x   1.2x
//	Max       1<<20  0.075   53.6    2.23    1.71   22.9x   0.8x
//	Swish      4096  0.678   11.8    8.47   16.45   24.3x   1.9x
//	Swish     1<<20  0.647   12.4    8.83   14.78   22.8x   1.7x
//	SwishGrad  4096  0.836   14.3   11.13   19.72   23.6x   1.8x
//	SwishGrad 1<<20  0.829   14.5   12.13   23.45   28.3x   1.9x
//	Scale      4096  0.049  164.1    0.57    0.48    9.8x   0.8x
//	Scale     1<<20  0.073  108.9    0.53    0.53    7.2x   1.0x
//	Dot        4096  0.066  121.1    0.76    1.19   18.0x   1.6x
//	Dot       1<<20  0.123   65.2    0.90    1.44   11.7x   1.6x
//
// The exponential kernels are compute bound (about 10 FMA-pipe operations per
// 8 lanes; the branch-free range fix-up costs about 20% of Exp); Max, Scale
// and Dot are bound by loads (L1/L2 at 4096, L3 at 1<<20). Across all runs
// Exp measured 0.38–0.59 ns/elem, 27 to 39 times faster than the math.Exp
// loop.
//
// Run the benchmarks with
//
//	go test -run '^$' -bench . ./kernels/simd
package simd
