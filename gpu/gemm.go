//go:build gpu || gpuemu

package gpu

import (
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/gpu/driver"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices on the device, with the semantics of kernels/gemm.Sgemm: op(X) is
// X or Xᵀ, op(A) is m×k, op(B) is k×n, C is m×n; lda, ldb, ldc are the row
// strides of the stored a (m×k, or k×m if transA), b (k×n, or n×k if
// transB) and c. When beta = 0, C is only written. It runs cuBLAS's
// column-major SGEMM on the transposed problem (Cᵀ = op(B)ᵀ·op(A)ᵀ: a
// row-major matrix is its transpose in column-major order) in full float32
// (cuBLAS's default math mode: no TF32).
func (d *Device) Sgemm(transA, transB bool, m, n, k int, alpha float32, a DevicePtr, lda int, b DevicePtr, ldb int, beta float32, c DevicePtr, ldc int) error {
	return d.gemm(false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// GemmBF16 is Sgemm with bfloat16 A and B (float32 accumulation and C),
// through cublasGemmEx.
func (d *Device) GemmBF16(transA, transB bool, m, n, k int, alpha float32, a DevicePtr, lda int, b DevicePtr, ldb int, beta float32, c DevicePtr, ldc int) error {
	return d.gemm(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func (d *Device) gemm(bf16, transA, transB bool, m, n, k int, alpha float32, a DevicePtr, lda int, b DevicePtr, ldb int, beta float32, c DevicePtr, ldc int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.gemmBatchedLocked(bf16, transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1)
}

// gemmBatchedLocked checks and runs batch row-major products of Sgemm's
// form (GemmBF16's when bf16), C_i = alpha·op(A_i)·op(B_i) + beta·C_i for
// i < batch, A_i strideA elements after A_{i-1} (likewise B_i and C_i; one
// product: the strides are not read), as cuBLAS's
// cublasGemmStridedBatchedEx; callers hold d.mu.
func (d *Device) gemmBatchedLocked(bf16, transA, transB bool, m, n, k int, alpha float32, a DevicePtr, lda, strideA int, b DevicePtr, ldb, strideB int, beta float32, c DevicePtr, ldc, strideC, batch int) error {
	if batch < 1 {
		return fmt.Errorf("gpu: gemm: batch %d < 1", batch)
	}
	if span := (m-1)*ldc + n; batch > 1 && m > 0 && (strideA < 0 || strideB < 0 || strideC < span) {
		return fmt.Errorf("gpu: gemm: strides %d, %d, %d do not separate the batch (each C spans %d elements)", strideA, strideB, strideC, span)
	}
	if batch > math.MaxInt32 {
		return fmt.Errorf("gpu: gemm: batch %d beyond cuBLAS's 32-bit int", batch)
	}
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("gpu: gemm: negative size %d×%d×%d", m, n, k)
	}
	ac, bc := k, n // stored columns of a and b
	if transA {
		ac = m
	}
	if transB {
		bc = k
	}
	switch {
	case lda < max(1, ac):
		return fmt.Errorf("gpu: gemm: lda = %d too small (transA = %t, %d columns)", lda, transA, ac)
	case ldb < max(1, bc):
		return fmt.Errorf("gpu: gemm: ldb = %d too small (transB = %t, %d columns)", ldb, transB, bc)
	case ldc < max(1, n):
		return fmt.Errorf("gpu: gemm: ldc = %d too small for %d columns", ldc, n)
	case m > math.MaxInt32 || n > math.MaxInt32 || k > math.MaxInt32 || lda > math.MaxInt32 || ldb > math.MaxInt32 || ldc > math.MaxInt32:
		return fmt.Errorf("gpu: gemm: sizes beyond cuBLAS's 32-bit int")
	}
	if m == 0 || n == 0 {
		return nil
	}
	// Column-major: C' (n×m) = op(B)' · op(A)', with B' = b as stored.
	return d.drv.Gemm(driver.Gemm{BF16: bf16, TransA: transB, TransB: transA, M: n, N: m, K: k, Alpha: alpha, Beta: beta,
		A: b, LDA: ldb, StrideA: strideB, B: a, LDB: lda, StrideB: strideA, C: c, LDC: ldc, StrideC: strideC, Batch: batch})
}
