//go:build amd64 && !purego

package simd

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// The assembly kernels in simd_amd64.s. Each processes n elements (any n >=
// 0) through the pointers; the wrappers below guarantee the lengths.

//go:noescape
func expAVX2(dst, x *float32, n int)

//go:noescape
func expSumAVX2(dst, x *float32, n int, shift float32) float32

//go:noescape
func maxAVX2(x *float32, n int) float32

//go:noescape
func swishAVX2(dst, x *float32, n int)

//go:noescape
func swishGradAVX2(dst, x, dy *float32, n int)

//go:noescape
func scaleAVX2(x *float32, n int, s float32)

//go:noescape
func dotAVX2(x, y *float32, n int) float32

// hasAVX2FMA reports whether the assembly can run; the OS must also save YMM
// state, which x/sys/cpu folds into HasAVX2.
var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// asmImpl is the AVX2/FMA implementation, or nil on processors without it.
var asmImpl = func() *impl {
	if !hasAVX2FMA {
		return nil
	}
	return &impl{
		name:      "avx2",
		exp:       expAsm,
		expSum:    expSumAsm,
		max:       maxAsm,
		swish:     swishAsm,
		swishGrad: swishGradAsm,
		scale:     scaleAsm,
		dot:       dotAsm,
	}
}()

// ptr returns the address of s's first element without a bounds check; the
// kernels do not dereference it when n is 0.
func ptr(s []float32) *float32 { return unsafe.SliceData(s) }

func expAsm(dst, x []float32) {
	dst = dst[:len(x)]
	expAVX2(ptr(dst), ptr(x), len(x))
}

func expSumAsm(dst, x []float32, shift float32) float32 {
	dst = dst[:len(x)]
	return expSumAVX2(ptr(dst), ptr(x), len(x), shift)
}

func maxAsm(x []float32) float32 { return maxAVX2(ptr(x), len(x)) }

func swishAsm(dst, x []float32) {
	dst = dst[:len(x)]
	swishAVX2(ptr(dst), ptr(x), len(x))
}

func swishGradAsm(dst, x, dy []float32) {
	dst = dst[:len(x)]
	dy = dy[:len(x)]
	swishGradAVX2(ptr(dst), ptr(x), ptr(dy), len(x))
}

func scaleAsm(x []float32, s float32) { scaleAVX2(ptr(x), len(x), s) }

func dotAsm(x, y []float32) float32 {
	y = y[:len(x)]
	return dotAVX2(ptr(x), ptr(y), len(x))
}
