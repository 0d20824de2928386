//go:build !amd64 || purego

package gemm

// No assembly kernels on this platform: the pure Go kernels are used.

func asmKernels32() []*kernel[float32] { return nil }

func asmKernels64() []*kernel[float64] { return nil }
