// Package gpu runs the GAU-α kernels on an NVIDIA GPU: the CUDA C kernels of
// kernels/cuda (their fatbins embedded: SASS for sm_80 and sm_90, PTX that
// the driver JIT-compiles for other devices at Open),
// the CUDA driver and cuBLAS loaded at run time, device memory helpers, a
// typed launch wrapper that checks every kernel's parameters against its
// PTX signature, one Go function per kernel taking device buffers, and a
// row-major SGEMM with the semantics of kernels/gemm.Sgemm.
//
// The GPU code builds only with the build tag gpu (it needs CUDA 11.8's
// cuda.h; see docs/gpu.md and scripts/install-cuda.sh); without the tag
// this package holds just Built = false and Available, so the default
// build and `go test ./...` never touch CUDA. With the tag gpuemu instead,
// the same Go code drives a CPU emulator of the kernels, so that the
// kernels and this package's tests run on a machine without a GPU.
//
// Nothing here imports gorgonia.org/cu: its package init exits the process
// when no GPU is present. Every kernel takes one parameter struct (args.go,
// kernels/cuda/ABI.md).
package gpu
