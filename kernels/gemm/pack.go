package gemm

// Packing copies a block of op(A) or op(B) into the contiguous layout the
// micro-kernel streams through, absorbing any transposition and padding the
// last partial sliver with zeros so the kernel always works on full tiles.

// packA packs the mb×kb block of op(A) whose top-left element is
// op(A)[i0, p0] into dst. Sliver s (rows i0+s*mr ... i0+s*mr+mr-1) starts at
// dst[s*mr*kb] and holds, for p = 0..kb-1, the mr values op(A)[i0+s*mr+r, p0+p]
// (r = 0..mr-1), zero for rows at or beyond mb. dst must hold
// roundUp(mb, mr)*kb elements.
func packA[T float](dst, a []T, lda int, trans bool, i0, p0, mb, kb, mr int) {
	for s := 0; s < mb; s += mr {
		rows := min(mr, mb-s)
		d := dst[s*kb : (s+mr)*kb]
		if !trans {
			// op(A)[i, p] = a[i*lda+p]: read each row sequentially and
			// scatter it with stride mr.
			if rows == 6 && mr == 6 {
				packRows6(d, a, lda, (i0+s)*lda+p0, kb)
				continue
			}
			for r := 0; r < rows; r++ {
				off := (i0+s+r)*lda + p0
				src := a[off : off+kb]
				for p, v := range src {
					d[p*mr+r] = v
				}
			}
		} else {
			// op(A)[i, p] = a[p*lda+i]: each step p is a contiguous run.
			off := p0*lda + i0 + s
			for p := 0; p < kb; p++ {
				src := a[off : off+rows]
				dd := d[p*mr : p*mr+rows]
				copy(dd, src)
				off += lda
			}
		}
		if rows < mr {
			for p := 0; p < kb; p++ {
				clear(d[p*mr+rows : p*mr+mr])
			}
		}
	}
}

// packRows6 interleaves six consecutive rows (stride lda, starting at a[off])
// of length kb into d, six values per step.
func packRows6[T float](d, a []T, lda, off, kb int) {
	r0 := a[off : off+kb]
	r1 := a[off+lda:]
	r2 := a[off+2*lda:]
	r3 := a[off+3*lda:]
	r4 := a[off+4*lda:]
	r5 := a[off+5*lda:]
	r1, r2, r3, r4, r5 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)], r4[:len(r0)], r5[:len(r0)]
	d = d[:6*kb]
	for p := range r0 {
		dd := d[6*p : 6*p+6 : 6*p+6]
		dd[0] = r0[p]
		dd[1] = r1[p]
		dd[2] = r2[p]
		dd[3] = r3[p]
		dd[4] = r4[p]
		dd[5] = r5[p]
	}
}

// packB packs the kb×nb block of op(B) whose top-left element is
// op(B)[p0, j0] into dst. Sliver t (columns j0+t*nr ... j0+t*nr+nr-1) starts
// at dst[t*nr*kb] and holds, for p = 0..kb-1, the nr values
// op(B)[p0+p, j0+t*nr+j] (j = 0..nr-1), zero for columns at or beyond nb.
// dst must hold roundUp(nb, nr)*kb elements.
func packB[T float](dst, b []T, ldb int, trans bool, p0, j0, kb, nb, nr int) {
	full := nb / nr * nr // columns in full slivers
	if !trans {
		// op(B)[p, j] = b[p*ldb+j]: walk the rows of b sequentially and
		// deal each row out to the slivers.
		switch nr {
		case 16:
			packRowsB16(dst, b, ldb, p0*ldb+j0, kb, full)
		case 8:
			packRowsB8(dst, b, ldb, p0*ldb+j0, kb, full)
		default:
			for p := 0; p < kb; p++ {
				row := b[(p0+p)*ldb+j0 : (p0+p)*ldb+j0+full]
				for t := 0; t < full; t += nr {
					copy(dst[t*kb+p*nr:t*kb+p*nr+nr], row[t:t+nr])
				}
			}
		}
	} else {
		// op(B)[p, j] = b[j*ldb+p]: read each row of b sequentially and
		// scatter it with stride nr.
		for t := 0; t < full; t += nr {
			d := dst[t*kb : (t+nr)*kb]
			for j := 0; j < nr; j++ {
				off := (j0+t+j)*ldb + p0
				src := b[off : off+kb]
				for p, v := range src {
					d[p*nr+j] = v
				}
			}
		}
	}
	if full == nb {
		return
	}
	// Last, partial sliver: copy the valid columns and zero the rest.
	cols := nb - full
	d := dst[full*kb : (full+nr)*kb]
	for p := 0; p < kb; p++ {
		dd := d[p*nr : p*nr+nr]
		for j := 0; j < cols; j++ {
			if trans {
				dd[j] = b[(j0+full+j)*ldb+p0+p]
			} else {
				dd[j] = b[(p0+p)*ldb+j0+full+j]
			}
		}
		clear(dd[cols:])
	}
}

// packRowsB16 deals kb rows of b (stride ldb, starting at b[off]) of full
// elements each out to slivers of 16 columns.
func packRowsB16[T float](dst, b []T, ldb, off, kb, full int) {
	for p := 0; p < kb; p++ {
		row := b[off : off+full]
		d := dst[p*16:]
		for t := 0; t+16 <= len(row); t += 16 {
			*(*[16]T)(d[t*kb:]) = [16]T(row[t : t+16])
		}
		off += ldb
	}
}

// packRowsB8 is packRowsB16 for slivers of 8 columns.
func packRowsB8[T float](dst, b []T, ldb, off, kb, full int) {
	for p := 0; p < kb; p++ {
		row := b[off : off+full]
		d := dst[p*8:]
		for t := 0; t+8 <= len(row); t += 8 {
			*(*[8]T)(d[t*kb:]) = [8]T(row[t : t+8])
		}
		off += ldb
	}
}
