//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// The assembly micro-kernels in kernel_amd64.s. Pointers must address packed
// panels of kc*6 and kc*NR elements and a C tile of 6 rows with row stride
// ldc; the caller (blocked) guarantees this.

//go:noescape
func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func dgemmKernel6x8(kc int, a, b, c *float64, ldc int, alpha, beta float64)

// fmaPeak runs iters×12 independent 8-lane float32 FMAs (benchmark only).
//
//go:noescape
func fmaPeak(iters int)

// clockLoop runs iters×16 dependent one-cycle integer adds (benchmark only).
//
//go:noescape
func clockLoop(iters int)

// hasAVX2FMA reports whether the assembly kernels can run; the OS must also
// save YMM state, which x/sys/cpu folds into HasAVX2.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

func sgemmAVX2(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	sgemmKernel6x16(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func dgemmAVX2(kc int, a, b, c []float64, ldc int, alpha, beta float64) {
	dgemmKernel6x8(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// Blocking for the AVX2 kernels; see the package documentation for how these
// were chosen.
var (
	avx2Kernel32 = &kernel[float32]{
		name: "avx2-6x16", mr: 6, nr: 16, mc: 144, kc: 256, nc: 3072,
		fn: sgemmAVX2, packA: packA6AVX2, packB: packB16AVX2,
	}
	avx2Kernel64 = &kernel[float64]{
		name: "avx2-6x8", mr: 6, nr: 8, mc: 96, kc: 192, nc: 2048,
		fn: dgemmAVX2, packA: packA[float64], packB: packB[float64],
	}
)

// asmKernelList32 and asmKernelList64 list every assembly kernel of this
// GOARCH, widest vectors first, with the CPU features it needs and whether
// this CPU (and OS) has them.
func asmKernelList32() []kernelEntry[float32] {
	return []kernelEntry[float32]{
		{avx512Kernel32, "AVX-512F", hasAVX512},
		{avx2Kernel32, "AVX2+FMA", hasAVX2FMA},
	}
}

func asmKernelList64() []kernelEntry[float64] {
	return []kernelEntry[float64]{
		{avx512Kernel64, "AVX-512F", hasAVX512},
		{avx2Kernel64, "AVX2+FMA", hasAVX2FMA},
	}
}
