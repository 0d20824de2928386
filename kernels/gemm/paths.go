package gemm

import (
	"fmt"
	"strings"
)

// kernelEntry is one assembly kernel with the CPU features it needs and
// whether this CPU has them.
type kernelEntry[T float] struct {
	kern      *kernel[T]
	needs     string
	supported bool
}

// asmKernels32 and asmKernels64 list the assembly kernels usable on this
// CPU, widest vectors first; the first is the default.
func asmKernels32() []*kernel[float32] { return usable(asmKernelList32()) }

func asmKernels64() []*kernel[float64] { return usable(asmKernelList64()) }

func usable[T float](list []kernelEntry[T]) []*kernel[T] {
	var ks []*kernel[T]
	for _, e := range list {
		if e.supported {
			ks = append(ks, e.kern)
		}
	}
	return ks
}

// KernelInfo describes one float32 micro-kernel of this build.
type KernelInfo struct {
	// Name identifies the kernel: its instruction set and register tile,
	// such as "avx512-6x64", "avx2-6x16" or "go-2x4".
	Name string
	// Needs names the CPU features the kernel requires ("AVX-512F",
	// "AVX2+FMA"); empty for the pure Go kernels.
	Needs string
	// Supported reports whether this CPU and OS can run the kernel.
	Supported bool
	// Default reports whether Sgemm uses it.
	Default bool
}

// Kernels lists the float32 micro-kernels compiled into this build, the
// assembly ones (widest vectors first) before the pure Go ones, including
// those this CPU cannot run.
func Kernels() []KernelInfo {
	var out []KernelInfo
	for _, e := range asmKernelList32() {
		out = append(out, KernelInfo{Name: e.kern.name, Needs: e.needs, Supported: e.supported, Default: e.kern == config32.kern})
	}
	for _, kn := range goKernels32() {
		out = append(out, KernelInfo{Name: kn.name, Supported: true, Default: kn == config32.kern})
	}
	return out
}

// SgemmWith is Sgemm computed with the named micro-kernel (one of
// Kernels), with that kernel's blocking; for benchmarks and tests that
// compare the kernels. It returns an error for a name that is not a kernel
// of this build or a kernel this CPU cannot run; invalid matrix arguments
// panic as in Sgemm.
func SgemmWith(kernelName string, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) error {
	kn, err := findKernel32(kernelName)
	if err != nil {
		return err
	}
	cfg := config32
	cfg.kern = kn
	gemm(&cfg, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	return nil
}

func findKernel32(name string) (*kernel[float32], error) {
	var names []string
	for _, e := range asmKernelList32() {
		if e.kern.name == name {
			if !e.supported {
				return nil, fmt.Errorf("gemm: kernel %s needs %s, which this CPU does not have", name, e.needs)
			}
			return e.kern, nil
		}
		names = append(names, e.kern.name)
	}
	for _, kn := range goKernels32() {
		if kn.name == name {
			return kn, nil
		}
		names = append(names, kn.name)
	}
	return nil, fmt.Errorf("gemm: no kernel %q in this build (kernels: %s)", name, strings.Join(names, ", "))
}
