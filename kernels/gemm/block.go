package gemm

import (
	"sync"
	"unsafe"

	"github.com/infoscale/gaualpha/kernels/parallel"
)

// microKernel computes the mr×nr tile C = alpha*Ap·Bp + beta*C from a packed
// A sliver (kc*mr elements) and a packed B sliver (kc*nr elements). C is
// row-major with row stride ldc. When beta == 0, C is not read.
type microKernel[T float] func(kc int, a, b, c []T, ldc int, alpha, beta T)

// kernel is a micro-kernel together with its tile and cache-blocking sizes.
type kernel[T float] struct {
	name   string
	mr, nr int // register tile
	mc     int // rows of op(A) packed at a time (A block lives in L2)
	kc     int // depth of a packed block (a B sliver lives in L1)
	nc     int // columns of op(B) packed at a time (B block lives in L3)
	fn     microKernel[T]
	// fnA, when set, is fn reading a full mr-row sliver of op(A) in
	// place, element (r, p) at a[r·rs + p·cs]: blocked packs A only for
	// the last, partial sliver of a block, and a transposed A (whose rows
	// are columns of a) only where its packed blocks are reused for more
	// than directTransMax B slivers: packing keeps a sliver's cache lines
	// and pages together.
	fnA func(kc int, a []T, rs, cs int, b, c []T, ldc int, alpha, beta T)
	// packA and packB fill the packed blocks (see packA and packB in
	// pack.go for the layout); kernels may supply faster versions.
	packA func(dst, a []T, lda int, trans bool, i0, p0, mb, kb, mr int)
	packB func(dst, b []T, ldb int, trans bool, p0, j0, kb, nb, nr int)
}

// maxTile bounds mr*nr of every kernel (edge tiles are computed into a
// stack buffer of this size).
const maxTile = 384

// blocked computes C = alpha*op(A)*op(B) + beta*C with the packed, cache
// blocked (GotoBLAS/BLIS) loop nest on the calling goroutine. It requires
// m, n, k > 0 and alpha != 0; arguments are already validated.
//
//	for jc in steps of nc over n:            B block: kc×nc, shared by all ic
//	  for pc in steps of kc over k:          pack op(B)[pc:, jc:]
//	    for ic in steps of mc over m:        pack op(A)[ic:, pc:]
//	      for jr in steps of nr over nc:     B sliver stays in L1
//	        for ir in steps of mr over mc:   A slivers stream from L2
//	          micro-kernel on an mr×nr tile of C
func blocked[T float](kn *kernel[T], transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	blockedPacked(kn, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil, nil)
}

// blockedPacked is blocked with one operand packed beforehand (prepack),
// as split shares it between its chunks: preB holds every (jc, pc) block of
// op(B), or preA every (pc, ic) block of op(A); nil packs as blocked does.
func blockedPacked[T float](kn *kernel[T], transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, preA, preB *prepacked[T]) {
	mr, nr := kn.mr, kn.nr
	// Split each dimension into equal blocks no larger than the nominal
	// size, so that the last block is not a sliver (k = 300 is done as
	// 2×150 rather than 256+44).
	kc := evenBlock(k, kn.kc, 1)
	mc := evenBlock(m, kn.mc, mr)
	nc := evenBlock(n, kn.nc, nr)

	// The edge-tile buffer tmp follows A's packed block in one pooled
	// buffer (a stack array would escape: kn.fn is a func value).
	ba := getBuf[T](bufA, mc*kc+maxTile)
	var bb *buf[T]
	if preB == nil {
		bb = getBuf[T](bufB, nc*kc)
	}
	pa, tmp := ba.data[:mc*kc], ba.data[mc*kc:]
	var pb []T
	if bb != nil {
		pb = bb.data
	}

	// Full slivers of a non-transposed A are read in place, and those of a
	// transposed A when a packed block would serve few B slivers (see
	// directTransMax).
	direct := kn.fnA != nil && preA == nil && (!transA || nc <= directTransMax*nr)
	nextB, nextA := 0, 0 // the next block of preB, preA
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		if preA != nil {
			nextA = 0 // op(A)'s blocks again for every jc
		}
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			bet := beta
			if pc > 0 {
				bet = 1
			}
			if preB != nil {
				pb = preB.block(nextB)
				nextB++
			} else {
				kn.packB(pb, b, ldb, transB, pc, jc, kb, nb, nr)
			}
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				switch {
				case preA != nil:
					pa = preA.block(nextA)
					nextA++
				case direct:
					// Only the last, partial sliver is packed.
					if full := mb / mr * mr; full < mb {
						kn.packA(pa[full*kb:], a, lda, transA, ic+full, pc, mb-full, kb, mr)
					}
				default:
					kn.packA(pa, a, lda, transA, ic, pc, mb, kb, mr)
				}
				for jr := 0; jr < nb; jr += nr {
					nn := min(nr, nb-jr)
					bp := pb[jr*kb : (jr+nr)*kb]
					for ir := 0; ir < mb; ir += mr {
						mm := min(mr, mb-ir)
						off := (ic+ir)*ldc + jc + jr
						if direct && mm == mr {
							// Element (r, p) of the sliver at aa[r·rs + p·cs].
							var aa []T
							rs, cs := lda, 1
							if transA {
								aa, rs, cs = a[pc*lda+ic+ir:], 1, lda
							} else {
								aa = a[(ic+ir)*lda+pc:]
							}
							if nn == nr {
								kn.fnA(kb, aa, rs, cs, bp, c[off:], ldc, alpha, bet)
								continue
							}
							kn.fnA(kb, aa, rs, cs, bp, tmp[:], nr, 1, 0)
						} else {
							ap := pa[ir*kb : (ir+mr)*kb]
							if mm == mr && nn == nr {
								kn.fn(kb, ap, bp, c[off:], ldc, alpha, bet)
								continue
							}
							// Partial tile: compute the full tile into
							// tmp (the padding is zero) and merge the
							// valid part.
							kn.fn(kb, ap, bp, tmp[:], nr, 1, 0)
						}
						for r := 0; r < mm; r++ {
							cr := c[off+r*ldc : off+r*ldc+nn]
							tr := tmp[r*nr : r*nr+nn]
							if bet == 0 {
								for j, v := range tr {
									cr[j] = alpha * v
								}
							} else {
								for j, v := range tr {
									cr[j] = alpha*v + bet*cr[j]
								}
							}
						}
					}
				}
			}
		}
	}
	putBuf(bufA, ba)
	if bb != nil {
		putBuf(bufB, bb)
	}
}

// directTransMax is the most B slivers per block (nc/nr) for which a
// transposed A is read in place rather than packed. Each step of an A
// sliver read in place is a strided row of a (a cache line and, on wide
// rows, a page per step), which costs more than packing once the packed
// sliver is reused for many B slivers; the weight gradients of narrow
// layers (dUᵀ·X with X 128 wide: 2 slivers) have few, and there packing
// was the larger cost (the default model's 576×128×2048 TN: 140 against
// 164 GFLOP/s on one thread with it read in place; 512³ TN and the paper's
// 3200×768×8192 TN, 8 and 12 slivers: 10-15% slower in place).
const directTransMax = 2

// prepacked is one operand of a product packed in the blocks blocked uses,
// in the order it uses them.
type prepacked[T float] struct {
	buf  *buf[T]
	offs []int // block i is buf.data[offs[i]:offs[i+1]]
	// blocks describe the blocks for packing them, sliver by sliver, on
	// the parallel team.
	blocks []packBlock
	units  int // slivers in all
}

// packBlock is one block of a prepacked operand: rows (or columns) [r0,
// r0+rn) of op(A) (op(B)) and steps [p0, p0+kb), in slivers from unit0 on.
type packBlock struct {
	r0, rn, p0, kb, unit0 int
}

func (p *prepacked[T]) block(i int) []T { return p.buf.data[p.offs[i]:p.offs[i+1]] }

// layout sets the blocks (and their place in buf) of an operand whose
// blocks are, in order, outer × inner pieces: for op(B) jc (outer, nc) by
// pc (inner, kc); for op(A) pc (outer) by ic (inner, mc). unit is the
// kernel's nr or mr.
func (p *prepacked[T]) layout(isB bool, rows, rc, k, kc, unit int) {
	p.offs = append(p.offs[:0], 0)
	p.blocks = p.blocks[:0]
	p.units = 0
	add := func(r0, p0 int) {
		rn, kb := min(rc, rows-r0), min(kc, k-p0)
		p.blocks = append(p.blocks, packBlock{r0: r0, rn: rn, p0: p0, kb: kb, unit0: p.units})
		p.units += (rn + unit - 1) / unit
		p.offs = append(p.offs, p.offs[len(p.offs)-1]+kb*roundUp(rn, unit))
	}
	if isB {
		for jc := 0; jc < rows; jc += rc {
			for pc := 0; pc < k; pc += kc {
				add(jc, pc)
			}
		}
		return
	}
	for pc := 0; pc < k; pc += kc {
		for ic := 0; ic < rows; ic += rc {
			add(ic, pc)
		}
	}
}

// packArgs is one prepacking: an operand, sliver by sliver, on the team.
type packArgs[T float] struct {
	kn    *kernel[T]
	p     *prepacked[T]
	isB   bool
	trans bool
	x     []T
	ld    int
}

var (
	packJob32 = parallel.Job[packArgs[float32]]{Body: packRun[float32]}
	packJob64 = parallel.Job[packArgs[float64]]{Body: packRun[float64]}
)

// packRun packs slivers [lo, hi) of a prepacked operand.
func packRun[T float](a *packArgs[T], _, lo, hi int) {
	p, kn := a.p, a.kn
	unit := kn.mr
	if a.isB {
		unit = kn.nr
	}
	bi := 0
	for u := lo; u < hi; u++ {
		for bi+1 < len(p.blocks) && p.blocks[bi+1].unit0 <= u {
			bi++
		}
		blk := p.blocks[bi]
		s := (u - blk.unit0) * unit // first row (column) of the sliver in the block
		dst := p.block(bi)[s*blk.kb:]
		n := min(unit, blk.rn-s)
		if a.isB {
			kn.packB(dst, a.x, a.ld, a.trans, blk.p0, blk.r0+s, blk.kb, n, unit)
		} else {
			kn.packA(dst, a.x, a.ld, a.trans, blk.r0+s, blk.p0, n, blk.kb, unit)
		}
	}
}

// prepack packs every block of op(B), k×n (isB), or op(A), m×k, as blocked
// would for any m (n): nc, mc and kc depend on n, m and k only. The
// slivers are packed on the parallel team.
func prepack[T float](kn *kernel[T], p *prepacked[T], isB, trans bool, rows, k int, x []T, ld int) {
	kc := evenBlock(k, kn.kc, 1)
	if isB {
		p.layout(true, rows, evenBlock(rows, kn.nc, kn.nr), k, kc, kn.nr)
	} else {
		p.layout(false, rows, evenBlock(rows, kn.mc, kn.mr), k, kc, kn.mr)
	}
	p.buf = getBuf[T](bufShared, p.offs[len(p.offs)-1])
	args := packArgs[T]{kn: kn, p: p, isB: isB, trans: trans, x: x, ld: ld}
	grain := max(1, p.units/(4*parallel.Workers(0)))
	switch j := any(&packJob32).(type) {
	case *parallel.Job[packArgs[T]]:
		j.Each(p.units, grain, 0, args)
	default:
		any(&packJob64).(*parallel.Job[packArgs[T]]).Each(p.units, grain, 0, args)
	}
}

func (p *prepacked[T]) release() {
	if p.buf != nil {
		putBuf(bufShared, p.buf)
		p.buf = nil
	}
}

// evenBlock returns the block size for splitting n into the fewest blocks of
// at most max elements, as equal as possible and rounded up to a multiple of
// unit (max must be a multiple of unit).
func evenBlock(n, max, unit int) int {
	if n <= max {
		return roundUp(n, unit)
	}
	nblocks := (n + max - 1) / max
	return min(max, roundUp((n+nblocks-1)/nblocks, unit))
}

func roundUp(n, unit int) int { return (n + unit - 1) / unit * unit }

// buf is a packing buffer whose data starts on a 64-byte boundary.
type buf[T float] struct {
	mem  []T // the allocation
	data []T // aligned window of mem
}

// Packing buffers are recycled through free lists: allocating (and
// zeroing) up to a few MiB per call costs 5-20% on the mid-sized products
// that are typical in attention. A list holds at most as many buffers as
// products ran at once; a buffer too small for a call is replaced by a
// larger one, so once every buffer has grown to the largest size a
// program uses, no call allocates (unlike a sync.Pool, a list is not
// emptied by the garbage collector). The lists hold no state that affects
// results.
type bufList[T float] struct {
	mu   sync.Mutex
	free []*buf[T]
}

// The lists, for A blocks, B blocks and operands packed whole (of
// different sizes), per element type.
var (
	lists32 [3]bufList[float32]
	lists64 [3]bufList[float64]
)

// Which list a buffer belongs to.
const (
	bufA = iota
	bufB
	bufShared
)

func listFor[T float](which int) *bufList[T] {
	var z T
	if unsafe.Sizeof(z) == 4 {
		return any(&lists32[which]).(*bufList[T])
	}
	return any(&lists64[which]).(*bufList[T])
}

// getBuf returns a buffer of at least n elements from list which; putBuf
// returns it there.
func getBuf[T float](which, n int) *buf[T] {
	const align = 64
	var z T
	size := int(unsafe.Sizeof(z))
	extra := align / size
	l := listFor[T](which)
	l.mu.Lock()
	var v *buf[T]
	if k := len(l.free); k > 0 {
		v, l.free = l.free[k-1], l.free[:k-1]
	}
	l.mu.Unlock()
	if v == nil {
		v = new(buf[T])
	}
	if cap(v.mem) < n+extra {
		v.mem = make([]T, n+extra)
	}
	v.data = alignSlice(v.mem[:cap(v.mem)], n, align, size)
	return v
}

func alignSlice[T float](mem []T, n, align, size int) []T {
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	skip := int((uintptr(align)-addr%uintptr(align))%uintptr(align)) / size
	return mem[skip : skip+n : skip+n]
}

func putBuf[T float](which int, b *buf[T]) {
	b.data = nil
	l := listFor[T](which)
	l.mu.Lock()
	l.free = append(l.free, b)
	l.mu.Unlock()
}
