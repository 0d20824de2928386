package cpu

import "github.com/infoscale/gaualpha/kernels/gemm"

// gemmSerial computes C = alpha*op(A)*op(B) + beta*C (row-major) on the
// calling goroutine, for kernels that already run in parallel.
func gemmSerial[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch x := any(a).(type) {
	case []float32:
		gemm.SgemmSerial(transA, transB, m, n, k, float32(alpha), x, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		gemm.DgemmSerial(transA, transB, m, n, k, float64(alpha), x, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// Gemm computes C = alpha*op(A)*op(B) + beta*C (row-major), using every
// core for large problems.
func Gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch x := any(a).(type) {
	case []float32:
		gemm.Sgemm(transA, transB, m, n, k, float32(alpha), x, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		gemm.Dgemm(transA, transB, m, n, k, float64(alpha), x, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}
