package gemm

import "runtime"

// Pure Go micro-kernel, used when no assembly kernel is available (other
// GOARCHes, amd64 without AVX2/FMA, or the purego build tag). It is compiled
// on every platform so that the tests exercise it everywhere.

// Two pure Go kernels: 4×4 keeps its 16 accumulators plus 8 operands in
// registers where there are 32 FP registers (arm64, ppc64, riscv64, ...);
// on amd64 and 386 (16 or 8 XMM registers) it spills, and the 2×4 kernel is
// faster there (docs/benchmarks.md).
var (
	goKernel4x4f32 = &kernel[float32]{
		name: "go-4x4", mr: 4, nr: 4, mc: 128, kc: 256, nc: 2048,
		fn: kernelGo4x4[float32], packA: packA[float32], packB: packB[float32],
	}
	goKernel4x4f64 = &kernel[float64]{
		name: "go-4x4", mr: 4, nr: 4, mc: 64, kc: 256, nc: 2048,
		fn: kernelGo4x4[float64], packA: packA[float64], packB: packB[float64],
	}
	goKernel2x4f32 = &kernel[float32]{
		name: "go-2x4", mr: 2, nr: 4, mc: 128, kc: 256, nc: 2048,
		fn: kernelGo2x4[float32], packA: packA[float32], packB: packB[float32],
	}
	goKernel2x4f64 = &kernel[float64]{
		name: "go-2x4", mr: 2, nr: 4, mc: 64, kc: 256, nc: 2048,
		fn: kernelGo2x4[float64], packA: packA[float64], packB: packB[float64],
	}
)

// goKernels32 and goKernels64 list the pure Go kernels, the preferred one
// for this GOARCH first.
func goKernels32() []*kernel[float32] {
	if fewFPRegisters {
		return []*kernel[float32]{goKernel2x4f32, goKernel4x4f32}
	}
	return []*kernel[float32]{goKernel4x4f32, goKernel2x4f32}
}

func goKernels64() []*kernel[float64] {
	if fewFPRegisters {
		return []*kernel[float64]{goKernel2x4f64, goKernel4x4f64}
	}
	return []*kernel[float64]{goKernel4x4f64, goKernel2x4f64}
}

var fewFPRegisters = runtime.GOARCH == "amd64" || runtime.GOARCH == "386"

// kernelGo4x4 computes the 4×4 tile C = alpha*Ap·Bp + beta*C from packed panels
// a and b of kc*4 elements each. When beta == 0, C is not read.
func kernelGo4x4[T float](kc int, a, b, c []T, ldc int, alpha, beta T) {
	var (
		c00, c01, c02, c03 T
		c10, c11, c12, c13 T
		c20, c21, c22, c23 T
		c30, c31, c32, c33 T
	)
	a = a[:kc*4]
	b = b[:kc*4]
	for p := 0; p+4 <= len(a); p += 4 {
		ap := a[p : p+4 : p+4]
		bp := b[p : p+4 : p+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0 := ap[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := ap[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := ap[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := ap[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	storeRow4(c[0*ldc:0*ldc+4], c00, c01, c02, c03, alpha, beta)
	storeRow4(c[1*ldc:1*ldc+4], c10, c11, c12, c13, alpha, beta)
	storeRow4(c[2*ldc:2*ldc+4], c20, c21, c22, c23, alpha, beta)
	storeRow4(c[3*ldc:3*ldc+4], c30, c31, c32, c33, alpha, beta)
}

func storeRow4[T float](c []T, v0, v1, v2, v3, alpha, beta T) {
	c = c[:4]
	if beta == 0 {
		c[0] = alpha * v0
		c[1] = alpha * v1
		c[2] = alpha * v2
		c[3] = alpha * v3
		return
	}
	c[0] = alpha*v0 + beta*c[0]
	c[1] = alpha*v1 + beta*c[1]
	c[2] = alpha*v2 + beta*c[2]
	c[3] = alpha*v3 + beta*c[3]
}

// kernelGo2x4 is kernelGo4x4 for a 2×4 tile.
func kernelGo2x4[T float](kc int, a, b, c []T, ldc int, alpha, beta T) {
	var c00, c01, c02, c03, c10, c11, c12, c13 T
	a = a[:kc*2]
	b = b[:kc*4]
	for p := 0; p < kc; p++ {
		ap := a[2*p : 2*p+2 : 2*p+2]
		bp := b[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		a0, a1 := ap[0], ap[1]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	storeRow4(c[0:4], c00, c01, c02, c03, alpha, beta)
	storeRow4(c[ldc:ldc+4], c10, c11, c12, c13, alpha, beta)
}
