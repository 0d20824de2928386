package gemm

import (
	"os"
	"strings"
	"unsafe"

	"github.com/infoscale/gaualpha/internal/bf16"
)

// SgemmBF16 is Sgemm with bfloat16 products: every element of op(A) and
// op(B) is rounded to the nearest bfloat16 (ties to even, as
// internal/bf16.Round, the rounding of the device's -precision bf16 path)
// and the products are summed in float32. Operands already rounded to
// bfloat16 are used as they are (the rounding is idempotent); a and b are
// not modified.
//
// On CPUs with AVX512_BF16 a VDPBF16PS micro-kernel adds the two products
// of a pair of k steps to a float32 lane per instruction; elsewhere the
// packed operands are rounded and the float32 kernel sums them. Both are
// within the float32 summation error of the exact product of the rounded
// operands, but not bit-identical to each other: VDPBF16PS adds the odd
// step of a pair before the even one and treats subnormal inputs and
// results as zero (see the package documentation).
//
// Arguments, beta == 0 and alpha == 0 behave as in Sgemm.
func SgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(&configBF16, true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// BF16Kernel names the kernel SgemmBF16 uses: "avx512bf16-6x64" (VDPBF16PS)
// or "round+" and the float32 kernel that sums the rounded operands.
func BF16Kernel() string { return configBF16.kern.name }

// configBF16 is SgemmBF16's configuration. small = 0: the plain loops of
// tiny products do not round, so every product goes through the packing.
var configBF16 = config[float32]{kern: defaultKernelBF16(), small: 0, grain: 1 << 24}

func defaultKernelBF16() *kernel[float32] {
	if kn := asmKernelBF16(); kn != nil {
		if env := os.Getenv(KernelEnv); env == "" || strings.HasPrefix(kn.name, env) {
			return kn
		}
	}
	return roundingKernel(defaultKernel32())
}

// roundingKernel returns kn with packing that rounds the packed blocks to
// bfloat16: the float32 kernel then sums exact products of rounded values.
func roundingKernel(kn *kernel[float32]) *kernel[float32] {
	r := *kn
	r.name = "round+" + kn.name
	r.fnA = nil // A must go through the rounding packing
	r.packA = func(dst, a []float32, lda int, trans bool, i0, p0, mb, kb, mr int) {
		kn.packA(dst, a, lda, trans, i0, p0, mb, kb, mr)
		roundInPlace(dst[:roundUp(mb, mr)*kb])
	}
	r.packB = func(dst, b []float32, ldb int, trans bool, p0, j0, kb, nb, nr int) {
		kn.packB(dst, b, ldb, trans, p0, j0, kb, nb, nr)
		roundInPlace(dst[:roundUp(nb, nr)*kb])
	}
	return &r
}

func roundInPlace(x []float32) {
	for i, v := range x {
		x[i] = bf16.Round(v)
	}
}

// Packing for the pair kernels. A block of kb steps is packed as
// kp = ceil(kb/2) pairs; the 32-bit word of pair q holds step 2q in its low
// and step 2q+1 in its high half (zero past kb). Slivers keep the float32
// layout's offsets (sliver s of A at dst[s*mr*kb], of B at dst[t*nr*kb]),
// of which they use kp*mr or kp*nr words, so that the blocked loop of
// block.go drives the pair kernels unchanged; the kernel wrapper converts
// kb to kp.

// pair packs two float32 values, rounded to bfloat16, into one word.
func pair(lo, hi float32) uint32 {
	return uint32(bf16.Bits(lo)) | uint32(bf16.Bits(hi))<<16
}

// words views a float32 packing buffer as 32-bit words.
func words(x []float32) []uint32 {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&x[0])), len(x))
}

// packAPairs is packA for the pair kernels.
func packAPairs(dst, a []float32, lda int, trans bool, i0, p0, mb, kb, mr int) {
	kp := (kb + 1) / 2
	for s := 0; s < mb; s += mr {
		rows := min(mr, mb-s)
		d := words(dst[s*kb : s*kb+kp*mr])
		for r := 0; r < mr; r++ {
			if r >= rows {
				for q := 0; q < kp; q++ {
					d[q*mr+r] = 0
				}
				continue
			}
			i := i0 + s + r
			if !trans {
				// op(A)[i, p] = a[i*lda+p]: a row, read in pairs.
				row := a[i*lda+p0 : i*lda+p0+kb]
				q := 0
				for ; 2*q+1 < kb; q++ {
					d[q*mr+r] = pair(row[2*q], row[2*q+1])
				}
				if q < kp {
					d[q*mr+r] = pair(row[2*q], 0)
				}
				continue
			}
			// op(A)[i, p] = a[p*lda+i].
			q := 0
			for ; 2*q+1 < kb; q++ {
				off := (p0+2*q)*lda + i
				d[q*mr+r] = pair(a[off], a[off+lda])
			}
			if q < kp {
				d[q*mr+r] = pair(a[(p0+2*q)*lda+i], 0)
			}
		}
	}
}

// packBPairs is packB for the pair kernels.
func packBPairs(dst, b []float32, ldb int, trans bool, p0, j0, kb, nb, nr int) {
	kp := (kb + 1) / 2
	for t := 0; t < nb; t += nr {
		cols := min(nr, nb-t)
		d := words(dst[t*kb : t*kb+kp*nr])
		if !trans {
			// op(B)[p, j] = b[p*ldb+j]: two rows at a time.
			for q := 0; q < kp; q++ {
				r0 := b[(p0+2*q)*ldb+j0+t:][:cols]
				dq := d[q*nr : q*nr+nr]
				if 2*q+1 < kb {
					r1 := b[(p0+2*q+1)*ldb+j0+t:][:cols]
					for j, v := range r0 {
						dq[j] = pair(v, r1[j])
					}
				} else {
					for j, v := range r0 {
						dq[j] = pair(v, 0)
					}
				}
				clear(dq[cols:])
			}
			continue
		}
		// op(B)[p, j] = b[j*ldb+p]: a row of b, read in pairs.
		for j := 0; j < nr; j++ {
			if j >= cols {
				for q := 0; q < kp; q++ {
					d[q*nr+j] = 0
				}
				continue
			}
			row := b[(j0+t+j)*ldb+p0:][:kb]
			q := 0
			for ; 2*q+1 < kb; q++ {
				d[q*nr+j] = pair(row[2*q], row[2*q+1])
			}
			if q < kp {
				d[q*nr+j] = pair(row[2*q], 0)
			}
		}
	}
}
