//go:build amd64 && !purego

package gemm

// Packing for the float32 AVX2 kernel: the transposing cases use the 8×8
// register transposes of pack_amd64.s; tails go through the generic code.

//go:noescape
func transpose8Pack(src *float32, lds int, dst *float32, ldd int, blocks int)

//go:noescape
func pack6Rows(src *float32, lds int, dst *float32, blocks int, rows int)

//go:noescape
func packRows16(src *float32, lds int, dst *float32, kb int, slivers int)

//go:noescape
func copy6(src *float32, lds int, dst *float32, n int)

// packA6AVX2 is packA for mr == 6.
func packA6AVX2(dst, a []float32, lda int, trans bool, i0, p0, mb, kb, mr int) {
	if trans {
		full := mb / 6 * 6
		for s := 0; s < full; s += 6 {
			// Step p is the contiguous run a[(p0+p)*lda+i0+s:][:6].
			d := dst[s*kb : (s+6)*kb]
			off := p0*lda + i0 + s
			_ = a[off+(kb-1)*lda+5]
			copy6(&a[off], lda, &d[0], kb)
		}
		if full < mb {
			packA(dst[full*kb:], a, lda, trans, i0+full, p0, mb-full, kb, 6)
		}
		return
	}
	// Interleave the rows a[(i0+s+r)*lda+p0:][:kb], r < 6.
	blocks := kb / 8
	for s := 0; s < mb; s += 6 {
		rows := min(6, mb-s)
		d := dst[s*kb : (s+6)*kb]
		off := (i0+s)*lda + p0
		_ = a[off+(rows-1)*lda+kb-1]
		if blocks > 0 {
			pack6Rows(&a[off], lda, &d[0], blocks, rows)
		}
		for p := blocks * 8; p < kb; p++ {
			dd := d[p*6 : p*6+6 : p*6+6]
			for r := range dd {
				if r < rows {
					dd[r] = a[off+r*lda+p]
				} else {
					dd[r] = 0
				}
			}
		}
	}
}

// packB16AVX2 is packB for nr == 16.
func packB16AVX2(dst, b []float32, ldb int, trans bool, p0, j0, kb, nb, nr int) {
	full := nb / 16 * 16
	if !trans {
		// op(B)[p, j] = b[p*ldb+j]: copy 16-element runs.
		if full > 0 {
			off := p0*ldb + j0
			_ = b[off+(kb-1)*ldb+full-1]
			_ = dst[full*kb-1]
			packRows16(&b[off], ldb, &dst[0], kb, full/16)
		}
		if full < nb {
			packB(dst[full*kb:], b, ldb, trans, p0, j0+full, kb, nb-full, 16)
		}
		return
	}
	// op(B)[p, j] = b[j*ldb+p]: transpose 16 rows of b per sliver, as two
	// 8-row halves.
	blocks := kb / 8
	for t := 0; t < full; t += 16 {
		d := dst[t*kb : (t+16)*kb]
		off := (j0+t)*ldb + p0
		_ = b[off+15*ldb+kb-1]
		if blocks > 0 {
			transpose8Pack(&b[off], ldb, &d[0], 16, blocks)
			transpose8Pack(&b[off+8*ldb], ldb, &d[8], 16, blocks)
		}
		for p := blocks * 8; p < kb; p++ {
			dd := d[p*16 : p*16+16 : p*16+16]
			for j := range dd {
				dd[j] = b[off+j*ldb+p]
			}
		}
	}
	if full < nb {
		packB(dst[full*kb:], b, ldb, trans, p0, j0+full, kb, nb-full, 16)
	}
}

// packBWideAVX2 is packB for slivers of nr = 16·w columns (the AVX-512
// kernel's 64): the transposing case uses the 8×8 register transposes, 8
// rows of b at a time, the other one contiguous copies of nr elements.
func packBWideAVX2(dst, b []float32, ldb int, trans bool, p0, j0, kb, nb, nr int) {
	if nr == 16 {
		packB16AVX2(dst, b, ldb, trans, p0, j0, kb, nb, nr)
		return
	}
	full := nb / nr * nr
	if !trans {
		packB(dst, b, ldb, trans, p0, j0, kb, nb, nr)
		return
	}
	blocks := kb / 8
	for t := 0; t < full; t += nr {
		d := dst[t*kb : (t+nr)*kb]
		off := (j0+t)*ldb + p0
		_ = b[off+(nr-1)*ldb+kb-1]
		if blocks > 0 {
			for h := 0; h < nr; h += 8 {
				transpose8Pack(&b[off+h*ldb], ldb, &d[h], nr, blocks)
			}
		}
		for p := blocks * 8; p < kb; p++ {
			dd := d[p*nr : p*nr+nr]
			for j := range dd {
				dd[j] = b[off+j*ldb+p]
			}
		}
	}
	if full < nb {
		packB(dst[full*kb:], b, ldb, trans, p0, j0+full, kb, nb-full, nr)
	}
}
