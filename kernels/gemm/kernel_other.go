//go:build !amd64 || purego

package gemm

// No assembly kernels on this platform: the pure Go kernels are used.

func asmKernelList32() []kernelEntry[float32] { return nil }

func asmKernelList64() []kernelEntry[float64] { return nil }

func asmKernelBF16() *kernel[float32] { return nil }
