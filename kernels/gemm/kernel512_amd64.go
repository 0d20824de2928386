//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// The AVX-512 micro-kernels in kernel512_amd64.s. Pointers must address
// packed panels of kc*6 and kc*NR elements and a C tile of 6 rows with row
// stride ldc; the caller (blocked) guarantees this.

//go:noescape
func sgemmKernel6x64(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmKernel6x64A(kc int, a *float32, rs, cs int, b, c *float32, ldc int, alpha, beta float32)

// packRows64 deals kb rows of a non-transposed B (stride lds) out to
// slivers of 64 columns, slivers of them: the AVX-512 packing of op(B) = B.
//
//go:noescape
func packRows64(src *float32, lds int, dst *float32, kb int, slivers int)

//go:noescape
func dgemmKernel6x32(kc int, a, b, c *float64, ldc int, alpha, beta float64)

// fmaPeak512 runs iters×24 independent 16-lane float32 FMAs (peak
// measurement only).
//
//go:noescape
func fmaPeak512(iters int)

// hasAVX512 reports whether the AVX-512 kernels can run: the CPU has
// AVX-512F and the OS saves the ZMM and opmask state (x/sys/cpu checks XCR0
// before it sets HasAVX512F).
var hasAVX512 = cpu.X86.HasAVX512F && hasAVX2FMA

func sgemmAVX512(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernel6x64(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// sgemmAVX512A is sgemmAVX512 reading a full 6-row sliver of A in place
// (row stride rs, column stride cs).
func sgemmAVX512A(kc int, a []float32, rs, cs int, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernel6x64A(kc, &a[0], rs, cs, &b[0], &c[0], ldc, alpha, beta)
}

func dgemmAVX512(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	dgemmKernel6x32(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// packB64AVX512 is packB for the 6×64 kernel: a non-transposed B in
// 64-column runs (packRows64), a transposed one by packBWideAVX2's 8×8
// transposes.
func packB64AVX512(dst, b []float32, ldb int, trans bool, p0, j0, kb, nb, nr int) {
	full := nb / 64 * 64
	if trans || nr != 64 || full == 0 {
		packBWideAVX2(dst, b, ldb, trans, p0, j0, kb, nb, nr)
		return
	}
	off := p0*ldb + j0
	_ = b[off+(kb-1)*ldb+full-1]
	_ = dst[full*kb-1]
	packRows64(&b[off], ldb, &dst[0], kb, full/64)
	if full < nb {
		packB(dst[full*kb:], b, ldb, trans, p0, j0+full, kb, nb-full, 64)
	}
}

// Blocking for the AVX-512 kernels; see the package documentation.
var (
	avx512Kernel32 = &kernel[float32]{
		name: "avx512-6x64", mr: 6, nr: 64, mc: 144, kc: 192, nc: 3072,
		fn: sgemmAVX512, packA: packA6AVX2, packB: packB64AVX512, fnA: sgemmAVX512A,
	}
	avx512Kernel64 = &kernel[float64]{
		name: "avx512-6x32", mr: 6, nr: 32, mc: 96, kc: 160, nc: 2048,
		fn: dgemmAVX512, packA: packA[float64], packB: packB[float64],
	}
)

//go:noescape
func sbf16Kernel6x64(kc2 int, a, b, c *float32, ldc int, alpha, beta float32)

// dotPeakBF16 runs iters×24 independent 16-lane VDPBF16PS (peak
// measurement only).
//
//go:noescape
func dotPeakBF16(iters int)

// hasAVX512BF16 reports whether the VDPBF16PS kernel can run.
var hasAVX512BF16 = hasAVX512 && cpu.X86.HasAVX512BF16

// sbf16AVX512 runs the pair kernel on a block of kb steps (kb+1)/2 pairs.
func sbf16AVX512(kb int, a, b, c []float32, ldc int, alpha, beta float32) {
	sbf16Kernel6x64((kb+1)/2, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// avx512bf16Kernel sums bfloat16 products with VDPBF16PS. kc counts k
// steps (twice the pairs): 384 steps are 192 pairs, the same 48 KiB B
// sliver as the float32 kernel's 192 steps.
var avx512bf16Kernel = &kernel[float32]{
	name: "avx512bf16-6x64", mr: 6, nr: 64, mc: 144, kc: 384, nc: 3072,
	fn: sbf16AVX512, packA: packAPairs, packB: packBPairs,
}

// asmKernelBF16 returns the VDPBF16PS kernel when the CPU has AVX512_BF16.
func asmKernelBF16() *kernel[float32] {
	if hasAVX512BF16 {
		return avx512bf16Kernel
	}
	return nil
}
