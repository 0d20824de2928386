// Package driver is what package gpu needs of a GPU, behind one small
// interface (Driver) with two implementations chosen by build tag: the CUDA
// driver API and cuBLAS, loaded at run time with dlopen (tag gpu: cuda.go,
// cublas.go), and a CPU emulator of the CUDA execution model that runs the
// kernels of kernels/cuda compiled as C++ (tag gpuemu: emu.go, emu.cc). Without either tag the package is empty. A
// Driver allocates and copies memory, loads modules, launches kernels with
// their parameter struct, times with events and runs cuBLAS's products,
// all in order on one stream; package gpu builds everything else (the
// kernels' Go functions, the checks, the attention) on it.
//
// Why not gorgonia.org/cu: its package init calls cuInit and exits the
// process when no GPU is present, so no test binary that links it can
// skip, and a binary linked against libcuda does not start where the
// driver is missing. Loading the driver here keeps one binary that runs
// (and skips) anywhere, linking nothing from CUDA.
package driver
