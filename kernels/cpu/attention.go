package cpu

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/internal/bf16"
	"github.com/infoscale/gaualpha/kernels/parallel"
	"github.com/infoscale/gaualpha/kernels/simd"
	"github.com/infoscale/gaualpha/pipeline"
)

// Block sizes of the attention kernels: query rows per block and key columns
// per block; nothing L×L is ever allocated. Each (query block, key block)
// pair multiplies by the key block's slice of V (E = 1536 wide for the
// paper's model), which the GEMM packs afresh, so tall query blocks amortise
// that packing (measured at L = 4096: 17% of the forward time with 64 rows,
// 6% with 256). Masked methods use short query blocks instead, so that the
// blocks a window skips are small.
const (
	blockQMax    = 256 // query rows per block, full attention
	blockQMasked = 64  // query rows per block, masking methods
	blockK       = 128
)

// qBlock is the number of query rows per block for this call.
func (a *Attention[T]) qBlock() int {
	if a.Policy.Masked() {
		return blockQMasked
	}
	return blockQMax
}

// Pair kinds of a score element, used to route gradients.
const (
	kindMasked    int8 = iota // removed by padding or the policy
	kindNear                  // normal rotated logit
	kindFarBehind             // clamped rotation, key behind the query
	kindFarAhead              // clamped rotation, key ahead of the query
)

// Attention is the fused GAU attention of one layer over a batch:
//
//	q = z⊙γq, k = z⊙γk; CosScale; RoPE (or the policy's rotation);
//	a = c(n)·(m·q̃·k̃ + bias)/sqrt(d); mask; A = softmax(a); dropout(A);
//	O = A·v
//
// where X = [u | v | z] is the swish output of the layer's input projection.
// Forward writes O and the row log-sum-exp; the gating u⊙O is a separate op.
type Attention[T Float] struct {
	B, L, E, D int
	// X is [B·L, 2E+D]: u (E columns), v (E), z (D).
	X []T
	// GammaQ and GammaK are the ScaleOffset weights, [D] each.
	GammaQ, GammaK []T
	// Mask is [B·L]: nonzero marks a valid (non-padding) key. nil: all valid.
	// The number of valid keys of a sequence is its n in the normalisation.
	Mask []int
	// Pos is [B·L] position ids used by the rotation. nil: 0..L-1.
	Pos []int
	// Policy is the attention configuration (defaults filled, validated).
	Policy attn.Policy
	// Dropout is the probability of dropping an attention weight; Key and
	// Site select the mask (see Keep).
	Dropout   float64
	Key, Site uint64
	// Threads bounds the goroutines used; 0 means GOMAXPROCS.
	Threads int
	// Work, when set, keeps the call's temporary memory for the next call
	// (one per layer; see Workspace).
	Work *Workspace
	// Gated makes Forward write the gated output u⊙O, [B·L, E], without
	// the log-sum-exp column: what inference needs, in one buffer fewer.
	// Backward needs the ungated output and cannot follow a gated forward.
	Gated bool
	// GateOut, when set (and not Gated), also receives u⊙O, [B·L, E]:
	// the gate that follows the attention in a training graph, computed
	// while O's rows are in cache (the bits of Gate).
	GateOut []T
	// BF16 rounds the operands of every product of the attention to
	// bfloat16 (ties to even, as internal/bf16.Round) and sums in the
	// kernel's float type: the arithmetic of the device's materialised
	// path with bfloat16 products (gpu.Attention.MatBF16), as a CPU
	// reference for it. The rounded operands are q̃ and k̃ (with their
	// far-window rotations), V, P = dropout(exp(s − lse)) and, in the
	// backward, dO and dS; the logits, the softmax, δ and the gradients'
	// sums stay unrounded. P is normalised before its rounding, so the
	// forward takes two passes over the keys: the rows' log-sum-exp, then
	// O = P·V.
	BF16 bool
	// SkipGateColumns makes Backward leave the u columns of dX unwritten
	// (their gradient is zero) instead of clearing them, for a caller
	// that never reads them.
	SkipGateColumns bool
}

// Width is the number of columns of X: 2E+D.
func (a *Attention[T]) Width() int { return 2*a.E + a.D }

// OutWidth is the number of columns of the forward output: E+1 (O and the
// row log-sum-exp), or E when Gated.
func (a *Attention[T]) OutWidth() int {
	if a.Gated {
		return a.E
	}
	return a.E + 1
}

func (a *Attention[T]) check() error {
	if a.B < 1 || a.L < 1 || a.E < 1 || a.D < 2 || a.D%2 != 0 {
		return fmt.Errorf("attention: bad dimensions B=%d L=%d E=%d D=%d", a.B, a.L, a.E, a.D)
	}
	if a.Policy.KeySize != a.D {
		return fmt.Errorf("attention: policy key size %d != D = %d", a.Policy.KeySize, a.D)
	}
	if err := a.Policy.Validate(); err != nil {
		return err
	}
	rows := a.B * a.L
	switch {
	case len(a.X) < rows*a.Width():
		return fmt.Errorf("attention: X has %d elements, want %d", len(a.X), rows*a.Width())
	case len(a.GammaQ) < a.D || len(a.GammaK) < a.D:
		return fmt.Errorf("attention: gamma vectors shorter than D = %d", a.D)
	case a.Mask != nil && len(a.Mask) < rows:
		return fmt.Errorf("attention: mask has %d elements, want %d", len(a.Mask), rows)
	case a.Pos != nil && len(a.Pos) < rows:
		return fmt.Errorf("attention: positions have %d elements, want %d", len(a.Pos), rows)
	case !(a.Dropout >= 0 && a.Dropout < 1):
		return fmt.Errorf("attention: dropout %v outside [0, 1)", a.Dropout)
	}
	if a.Pos != nil {
		for r, t := range a.Pos[:rows] {
			if t < 0 || t >= maxPosition {
				return fmt.Errorf("attention: position id %d of row %d outside [0, %d)", t, r, maxPosition)
			}
		}
	}
	return nil
}

// maxPosition bounds the position ids (the rotation tables have a row per
// position).
const maxPosition = 1 << 24

// prep holds the per-row vectors the block loops read: q and k after
// ScaleOffset and CosScale (qn, kn), rotated (qr, kr; qr carries the row's
// logit scale), and the clamped-rotation variants when the policy has them.
type prep[T Float] struct {
	n      []int // valid keys per sequence
	sc     []T   // logit scale per sequence: c(n)·m/sqrt(d)
	bscale []T   // bias scale per sequence: c(n)/sqrt(d)
	qraw   []T   // z⊙γq  [B·L, D]
	kraw   []T   // z⊙γk
	qn, kn []T   // after CosScale (unscaled, unrotated)
	qr, kr []T   // rotated; qr·kr is the near logit
	qc, q0 []T   // sc·R(w-1)qn, sc·R(0)qn (far window only)
	kc, k0 []T   // R(w-1)kn, R(0)kn
	valid  []bool
	v16    []T // V rounded to bfloat16, [B·L, E] (BF16 only)
	far    bool
	alpha  T         // CosScale multiplier of q: s·sqrt(d)
	cosT   []T       // [positions, D/2] rotation tables, by position id
	sinT   []T       //
	pos    []int     // the rows' position ids (nil: row mod L)
	cosC   []T       // [D/2] rotation at the clamp distance
	sinC   []T       //
	freqs  []float64 // θ'
}

func (a *Attention[T]) prepare(w *workspace[T], withRaw bool) (*prep[T], error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	B, L, D, W := a.B, a.L, a.D, a.Width()
	rows := B * L
	pol := a.Policy
	w.prep = prep[T]{
		n:      w.ints.alloc(B, false),
		sc:     w.f.alloc(B, false),
		bscale: w.f.alloc(B, false),
		qn:     w.f.alloc(rows*D, false),
		kn:     w.f.alloc(rows*D, false),
		qr:     w.f.alloc(rows*D, false),
		kr:     w.f.alloc(rows*D, false),
		valid:  w.bools.alloc(rows, false),
		alpha:  T(pol.CosScale * math.Sqrt(float64(D))),
	}
	p := &w.prep
	if withRaw {
		p.qraw = w.f.alloc(rows*D, false)
		p.kraw = w.f.alloc(rows*D, false)
	}
	mult := pol.LogitMultiplier(L)
	for b := 0; b < B; b++ {
		n := 0
		for i := 0; i < L; i++ {
			v := a.Mask == nil || a.Mask[b*L+i] != 0
			p.valid[b*L+i] = v
			if v {
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("attention: sequence %d: %w (every key is padding)", b, attn.ErrEmptyRow)
		}
		p.n[b] = n
		c := pol.Factor(n)
		p.sc[b] = T(c * mult / math.Sqrt(float64(D)))
		p.bscale[b] = T(c / math.Sqrt(float64(D)))
	}
	half := D / 2
	if pol.Rotates() {
		p.freqs, p.cosT, p.sinT = w.rope.tables(pol, L, a.Pos, rows)
		p.pos = a.Pos
		if fw, ok := pol.FarWindow(); ok {
			p.far = true
			p.cosC = w.f.alloc(half, false)
			p.sinC = w.f.alloc(half, false)
			for i, th := range p.freqs {
				s, c := math.Sincos(float64(fw-1) * th)
				p.cosC[i] = T(c)
				p.sinC[i] = T(s)
			}
			p.qc = w.f.alloc(rows*D, false)
			p.q0 = w.f.alloc(rows*D, false)
			p.kc = w.f.alloc(rows*D, false)
			p.k0 = w.f.alloc(rows*D, false)
		}
	}
	threads := parallel.Workers(a.Threads)
	w.tmp = w.f.alloc(threads*2*D, false)
	w.prepTask = prepTask[T]{a: a, p: p, w: w, withRaw: withRaw}
	parallel.For(rows, threads, &w.prepTask)
	w.prepTask = prepTask[T]{}
	if a.BF16 {
		roundBF16(p.qr)
		roundBF16(p.kr)
		roundBF16(p.qc)
		roundBF16(p.q0)
		roundBF16(p.kc)
		roundBF16(p.k0)
		p.v16 = w.f.alloc(rows*a.E, false)
		for r := 0; r < rows; r++ {
			copy(p.v16[r*a.E:(r+1)*a.E], a.X[r*W+a.E:r*W+2*a.E])
		}
		roundBF16(p.v16)
	}
	return p, nil
}

// prepTask is prepare's loop over rows: ScaleOffset, CosScale and the
// rotations of q and k.
type prepTask[T Float] struct {
	a       *Attention[T]
	p       *prep[T]
	w       *workspace[T]
	withRaw bool
}

func (t *prepTask[T]) Run(wk, lo, hi int) {
	a, p, withRaw := t.a, t.p, t.withRaw
	L, D, W := a.L, a.D, a.Width()
	pol := &a.Policy
	cos := pol.CosScale > 0
	qtmp := t.w.tmp[2*wk*D : (2*wk+1)*D]
	ktmp := t.w.tmp[(2*wk+1)*D : (2*wk+2)*D]
	if is32[T]() && !cos && pol.Rotates() && !p.far {
		// ScaleOffset and the rotation of a row in one call (the bits
		// of the loop below).
		for r := lo; r < hi; r++ {
			z := a.X[r*W+2*a.E : r*W+2*a.E+D]
			if r+prefetchRows < hi {
				simd.Prefetch(asF32(a.X[(r+prefetchRows)*W+2*a.E : (r+prefetchRows)*W+2*a.E+D]))
			}
			cs, sn := p.table(r, L)
			seg := func(v []T) []float32 { return asF32(v[r*D : (r+1)*D]) }
			simd.RopeQK(seg(p.qn), seg(p.qr), seg(p.kn), seg(p.kr), asF32(z), asF32(a.GammaQ[:D]), asF32(a.GammaK[:D]),
				asF32(cs), asF32(sn), float32(p.sc[r/L]))
		}
		if withRaw { // without CosScale q and k are their raw values
			copy(p.qraw[lo*D:hi*D], p.qn[lo*D:hi*D])
			copy(p.kraw[lo*D:hi*D], p.kn[lo*D:hi*D])
		}
		return
	}
	for r := lo; r < hi; r++ {
		b := r / L
		z := a.X[r*W+2*a.E : r*W+2*a.E+D]
		mulTo(qtmp, z, a.GammaQ[:D])
		mulTo(ktmp, z, a.GammaK[:D])
		if withRaw {
			copy(p.qraw[r*D:], qtmp)
			copy(p.kraw[r*D:], ktmp)
		}
		if cos {
			scaleTo(qtmp, qtmp, p.alpha/(norm2(qtmp)+1e-9))
			scaleTo(ktmp, ktmp, 1/(norm2(ktmp)+1e-9))
		}
		qn, kn := p.qn[r*D:(r+1)*D], p.kn[r*D:(r+1)*D]
		copy(qn, qtmp)
		copy(kn, ktmp)
		sc := p.sc[b]
		qr, kr := p.qr[r*D:(r+1)*D], p.kr[r*D:(r+1)*D]
		if !pol.Rotates() {
			scaleTo(qr, qn, sc)
			copy(kr, kn)
			continue
		}
		cs, sn := p.table(r, L)
		rotateRow(qr, qn, cs, sn, sc)
		rotateRow(kr, kn, cs, sn, 1)
		if p.far {
			rotate(p.qc[r*D:(r+1)*D], qn, p.cosC, p.sinC, sc)
			rotate(p.kc[r*D:(r+1)*D], kn, p.cosC, p.sinC, 1)
			rotate(p.q0[r*D:(r+1)*D], qn, nil, nil, sc)
			rotate(p.k0[r*D:(r+1)*D], kn, nil, nil, 1)
		}
	}
}

// roundBF16 rounds every element of x to the nearest bfloat16.
func roundBF16[T Float](x []T) {
	for i, v := range x {
		x[i] = T(bf16.Round(float32(v)))
	}
}

// vOperand returns V from row r on as a product operand and its row
// stride: X's v columns, or their rounded copy under BF16.
func (a *Attention[T]) vOperand(p *prep[T], r int) ([]T, int) {
	if a.BF16 {
		return p.v16[r*a.E:], a.E
	}
	return a.X[r*a.Width()+a.E:], a.Width()
}

// table returns the cos and sin rows for global row r.
func (p *prep[T]) table(r, L int) (cs, sn []T) {
	half := len(p.freqs)
	t := r % L
	if p.pos != nil {
		t = p.pos[r]
	}
	return p.cosT[t*half : (t+1)*half], p.sinT[t*half : (t+1)*half]
}

// ropeCache keeps the rotation tables of the last call, cos and sin of
// position·θ_i for the positions 0..n-1, which stay valid while the
// policy and the length (which set the frequencies θ) do not change: a
// training step calls the attention six times with the same ones.
type ropeCache[T Float] struct {
	pol      attn.Policy
	L, n     int
	freqs    []float64
	cos, sin []T
}

// tables returns the frequencies and the cos and sin tables (row t: the
// angles t·θ_i) covering the positions 0..L-1 and every entry of pos,
// which must be >= 0. rows is B·L.
func (c *ropeCache[T]) tables(pol attn.Policy, L int, pos []int, rows int) ([]float64, []T, []T) {
	need := L
	for _, t := range pos[:min(len(pos), rows)] {
		need = max(need, t+1)
	}
	if c.freqs != nil && c.pol == pol && c.L == L && need <= c.n {
		return c.freqs, c.cos, c.sin
	}
	c.pol, c.L, c.n = pol, L, need
	c.freqs = pol.Frequencies(L)
	half := len(c.freqs)
	c.cos = make([]T, need*half)
	c.sin = make([]T, need*half)
	for t := 0; t < need; t++ {
		for i, th := range c.freqs {
			s, co := math.Sincos(float64(t) * th)
			c.cos[t*half+i] = T(co)
			c.sin[t*half+i] = T(s)
		}
	}
	return c.freqs, c.cos, c.sin
}

// rotate writes scale·R x into out in the concatenated layout
// [x_even·cos - x_odd·sin, x_even·sin + x_odd·cos]. nil tables mean angle 0.
func rotate[T Float](out, x, cs, sn []T, scale T) {
	half := len(x) / 2
	for i := 0; i < half; i++ {
		xe, xo := x[2*i], x[2*i+1]
		if cs == nil {
			out[i], out[half+i] = scale*xe, scale*xo
			continue
		}
		c, s := cs[i], sn[i]
		out[i] = scale * (xe*c - xo*s)
		out[half+i] = scale * (xe*s + xo*c)
	}
}

// rotateRow is rotate, by simd.Rotate for float32 (the same bits).
func rotateRow[T Float](out, x, cs, sn []T, scale T) {
	if is32[T]() && cs != nil {
		simd.Rotate(asF32(out), asF32(x), asF32(cs), asF32(sn), float32(scale))
		return
	}
	rotate(out, x, cs, sn, scale)
}

// rotateAdjointAddRow is rotateAdjointAdd, by simd.RotateAdjointAdd for
// float32 (the same bits).
func rotateAdjointAddRow[T Float](dx, g, cs, sn []T) {
	if is32[T]() && cs != nil {
		simd.RotateAdjointAdd(asF32(dx), asF32(g), asF32(cs), asF32(sn))
		return
	}
	rotateAdjointAdd(dx, g, cs, sn)
}

// prefetchRows is how many rows ahead the row loops ask for X's columns
// (simd.Prefetch): rows of X are 2E+D wide, so that the hardware does not
// see the next row's few lines coming.
const prefetchRows = 4

// mulShifted sets dst = p ⊙ (x - d) (the float32 difference, then the
// product, each rounded), by simd.MulShifted for float32.
func mulShifted[T Float](dst, p, x []T, d T) {
	if is32[T]() {
		simd.MulShifted(asF32(dst), asF32(p), asF32(x), float32(d))
		return
	}
	p, x = p[:len(dst)], x[:len(dst)]
	for i, v := range x {
		dst[i] = p[i] * (v - d)
	}
}

// mulTo sets dst = x ⊙ y.
func mulTo[T Float](dst, x, y []T) {
	if is32[T]() {
		simd.Mul(asF32(dst), asF32(x), asF32(y))
		return
	}
	for i, v := range x {
		dst[i] = v * y[i]
	}
}

// addTo2 sets dst = x + y.
func addTo2[T Float](dst, x, y []T) {
	if is32[T]() {
		simd.Add(asF32(dst), asF32(x), asF32(y))
		return
	}
	for i, v := range x {
		dst[i] = v + y[i]
	}
}

// scaleRow sets dst = s·x.
func scaleRow[T Float](dst, x []T, s T) {
	if is32[T]() {
		simd.ScaleTo(asF32(dst), asF32(x), float32(s))
		return
	}
	scaleTo(dst, x, s)
}

// rotateAdjointAdd adds R^T g to dx (the adjoint of rotate with scale 1).
func rotateAdjointAdd[T Float](dx, g, cs, sn []T) {
	half := len(g) / 2
	for i := 0; i < half; i++ {
		g1, g2 := g[i], g[half+i]
		if cs == nil {
			dx[2*i] += g1
			dx[2*i+1] += g2
			continue
		}
		c, s := cs[i], sn[i]
		dx[2*i] += g1*c + g2*s
		dx[2*i+1] += -g1*s + g2*c
	}
}

func norm2[T Float](x []T) T {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return T(math.Sqrt(s))
}

func dot[T Float](x, y []T) T {
	var s T
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

// clearRows zeroes rows [lo, hi) (width d) of each non-nil buffer.
func clearRows[T Float](a, b, c []T, lo, hi, d int) {
	for _, x := range [3][]T{a, b, c} {
		if x != nil {
			clear(x[lo*d : hi*d])
		}
	}
}

// dot4 is dot of four pairs of rows at once (the same sums, in the same
// order, as four calls: the four chains of additions overlap).
func dot4[T Float](x0, y0, x1, y1, x2, y2, x3, y3 []T) (T, T, T, T) {
	var s0, s1, s2, s3 T
	y0, x1, y1, x2, y2, x3, y3 = y0[:len(x0)], x1[:len(x0)], y1[:len(x0)], x2[:len(x0)], y2[:len(x0)], x3[:len(x0)], y3[:len(x0)]
	for i, v := range x0 {
		s0 += v * y0[i]
		s1 += x1[i] * y1[i]
		s2 += x2[i] * y2[i]
		s3 += x3[i] * y3[i]
	}
	return s0, s1, s2, s3
}

func scaleTo[T Float](dst, x []T, s T) {
	for i, v := range x {
		dst[i] = v * s
	}
}

// blockScratch is one worker's scratch space for a score block.
type blockScratch[T Float] struct {
	s, fb, fa []T
	dm        []T // the rows' dropout multipliers (backward)
	kind      []int8
	p, dp     []T
	m, l      []T
	acc       []T
}

func newBlockScratch[T Float](E int) *blockScratch[T] {
	n := blockQMax * blockK
	return &blockScratch[T]{
		s: make([]T, n), fb: make([]T, n), fa: make([]T, n), dm: make([]T, n),
		kind: make([]int8, n), p: make([]T, n), dp: make([]T, n),
		m: make([]T, blockQMax), l: make([]T, blockQMax), acc: make([]T, blockQMax*E),
	}
}

// scores fills ws.s with the logits of the block [i0,i1)×[j0,j1) of
// sequence b, -Inf where masked, row by row with the row stride j1-j0 (the
// block is contiguous), and ws.kind (same layout) with each element's kind.
// The kinds of a uniform block (every class but BlockMixed) are all the
// class's kind, or kindMasked for a padding key, and are written only when
// kinds is set: the passes read them from mixed blocks only.
func (a *Attention[T]) scores(p *prep[T], ws *blockScratch[T], b, i0, i1, j0, j1 int, class attn.BlockClass, kinds bool) {
	L, D := a.L, a.D
	bq, bk := i1-i0, j1-j0
	ld := bk
	r0, c0 := b*L+i0, b*L+j0
	s := ws.s
	negInf := T(math.Inf(-1))
	var uniform int8
	switch class {
	case attn.BlockNear:
		gemmSerial(false, true, bq, bk, D, 1, p.qr[r0*D:], D, p.kr[c0*D:], D, 0, s, ld)
		uniform = kindNear
	case attn.BlockFarBehind:
		gemmSerial(false, true, bq, bk, D, 1, p.qc[r0*D:], D, p.k0[c0*D:], D, 0, s, ld)
		uniform = kindFarBehind
	case attn.BlockFarAhead:
		gemmSerial(false, true, bq, bk, D, 1, p.q0[r0*D:], D, p.kc[c0*D:], D, 0, s, ld)
		uniform = kindFarAhead
	case attn.BlockMixed:
		gemmSerial(false, true, bq, bk, D, 1, p.qr[r0*D:], D, p.kr[c0*D:], D, 0, s, ld)
		if p.far {
			gemmSerial(false, true, bq, bk, D, 1, p.qc[r0*D:], D, p.k0[c0*D:], D, 0, ws.fb, ld)
			gemmSerial(false, true, bq, bk, D, 1, p.q0[r0*D:], D, p.kc[c0*D:], D, 0, ws.fa, ld)
		}
	}
	pol := &a.Policy
	bias := pol.HasBias()
	bs := p.bscale[b]
	if class != attn.BlockMixed && !bias {
		// A uniform block: the scores are the GEMM's; only padded keys
		// need a touch.
		if kinds {
			kind := ws.kind[:bq*ld]
			kind[0] = uniform
			for f := 1; f < len(kind); f *= 2 {
				copy(kind[f:], kind[:f])
			}
		}
		if p.n[b] < L {
			for c := 0; c < bk; c++ {
				if p.valid[c0+c] {
					continue
				}
				for r := 0; r < bq; r++ {
					if kinds {
						ws.kind[r*ld+c] = kindMasked
					}
					s[r*ld+c] = negInf
				}
			}
		}
		return
	}
	for r := 0; r < bq; r++ {
		i := i0 + r
		row := s[r*ld : r*ld+bk]
		kind := ws.kind[r*ld : r*ld+bk]
		for c := range row {
			j := j0 + c
			k := uniform
			if class == attn.BlockMixed {
				switch {
				case !pol.Keep(i, j):
					k = kindMasked
				case p.far && pol.Far(i, j):
					if j < i {
						k = kindFarBehind
						row[c] = ws.fb[r*ld+c]
					} else {
						k = kindFarAhead
						row[c] = ws.fa[r*ld+c]
					}
				default:
					k = kindNear
				}
			}
			if !p.valid[c0+c] {
				k = kindMasked
			}
			kind[c] = k
			switch {
			case k == kindMasked:
				row[c] = negInf
			case bias:
				row[c] += bs * T(pol.Bias(i, j))
			}
		}
	}
}

// dropRow sets dst[c] = x[c]·m for the elements idx0+c of the attention
// dropout stream, m = inv where the element is kept and 0 where it is
// dropped (the product, so a dropped negative value is -0).
func (a *Attention[T]) dropRow(dst, x []T, idx0, thr uint64, inv T) {
	if is32[T]() {
		simd.DropoutMul(asF32(dst), asF32(x), simd.DropStream{Key: a.Key, Site: a.Site, Index: idx0, Threshold: thr, Scale: float32(inv)})
		return
	}
	for c, v := range x {
		m := T(0)
		if pipeline.Keep(a.Key, a.Site, idx0+uint64(c), thr) {
			m = inv
		}
		dst[c] = v * m
	}
}

// dropIndex is the index in the dropout stream of element (b, i, j).
func (a *Attention[T]) dropIndex(b, i, j int) uint64 {
	return (uint64(b)*uint64(a.L)+uint64(i))*uint64(a.L) + uint64(j)
}

// Forward computes O (columns 0..E-1) and the row log-sum-exp (column E) into
// out, [B·L, E+1].
func (a *Attention[T]) Forward(out []T) error {
	w := getWorkspace[T](a.Work)
	defer putWorkspace(a.Work, w)
	// The call runs on a copy of a in the workspace, which the parallel
	// loops' tasks may point to without a being moved to the heap.
	w.att = *a
	defer w.clearAttention()
	return w.att.forward(w, out)
}

func (a *Attention[T]) forward(w *workspace[T], out []T) error {
	p, err := a.prepare(w, false)
	if err != nil {
		return err
	}
	B, L, E := a.B, a.L, a.E
	OW := a.OutWidth()
	if len(out) < B*L*OW {
		return fmt.Errorf("attention: output has %d elements, want %d", len(out), B*L*OW)
	}
	if a.GateOut != nil && len(a.GateOut) < B*L*E {
		return fmt.Errorf("attention: gate output has %d elements, want %d", len(a.GateOut), B*L*E)
	}
	bqRows := a.qBlock()
	nq := (L + bqRows - 1) / bqRows
	threads := min(parallel.Workers(a.Threads), B*nq)
	w.fwd = fwdTask[T]{a: a, p: p, out: out, scratch: w.scratchFor(threads, E), errs: w.errsFor(threads),
		nq: nq, bqRows: bqRows, thr: pipeline.DropThreshold(a.Dropout), inv: T(1 / (1 - a.Dropout))}
	parallel.Each(B*nq, 1, threads, &w.fwd)
	return firstError(w.fwd.errs)
}

// fwdTask is Forward's loop over (sequence, query block) items.
type fwdTask[T Float] struct {
	a          *Attention[T]
	p          *prep[T]
	out        []T
	scratch    []*blockScratch[T]
	errs       []error // the first error of each worker
	nq, bqRows int
	thr        uint64
	inv        T
}

func (t *fwdTask[T]) Run(wk, lo, hi int) {
	for item := lo; item < hi; item++ {
		if err := t.item(wk, item); err != nil && t.errs[wk] == nil {
			t.errs[wk] = err
		}
	}
}

// item computes the output rows of one query block of one sequence.
func (t *fwdTask[T]) item(wk, item int) error {
	a, p, out, thr, inv := t.a, t.p, t.out, t.thr, t.inv
	L, E, W := a.L, a.E, a.Width()
	OW := a.OutWidth()
	negInf := T(math.Inf(-1))
	ws := t.scratch[wk]
	b, ib := item/t.nq, item%t.nq
	i0, i1 := ib*t.bqRows, min((ib+1)*t.bqRows, L)
	bq := i1 - i0
	for r := 0; r < bq; r++ {
		ws.m[r], ws.l[r] = negInf, 0
	}
	clear(ws.acc[:bq*E])
	for j0 := 0; j0 < L; j0 += blockK {
		j1 := min(j0+blockK, L)
		class := a.Policy.Classify(i0, i1, j0, j1)
		if class == attn.BlockSkip {
			continue
		}
		a.scores(p, ws, b, i0, i1, j0, j1, class, false)
		bk := j1 - j0
		ld := bk // the block's row stride
		// With the block as wide as the sequence, its rows are
		// consecutive in the dropout stream too: one draw for the block.
		dropBlock := thr != 0 && !a.BF16 && bk == L
		live := false
		for r := 0; r < bq; r++ {
			row := ws.s[r*ld : r*ld+bk]
			prow := ws.p[r*ld : r*ld+bk]
			mx := rowMax(row)
			if mx == negInf {
				clear(prow)
				continue
			}
			live = true
			mnew := max(ws.m[r], mx)
			corr := expT(ws.m[r] - mnew)
			sum := expShiftSum(prow, row, mnew)
			if thr != 0 && !a.BF16 && !dropBlock {
				a.dropRow(prow, prow, a.dropIndex(b, i0+r, j0), thr, inv)
			}
			first := ws.m[r] == negInf // acc's row is still zero
			ws.l[r] = ws.l[r]*corr + sum
			ws.m[r] = mnew
			if corr != 1 && !first && !a.BF16 {
				acc := ws.acc[r*E : (r+1)*E]
				scaleRow(acc, acc, corr)
			}
		}
		if live && dropBlock {
			// The rows cleared above stay +0 (0·m).
			a.dropRow(ws.p[:bq*ld], ws.p[:bq*ld], a.dropIndex(b, i0, j0), thr, inv)
		}
		if live && !a.BF16 {
			r0 := b*L + j0
			gemmSerial(false, false, bq, E, bk, 1, ws.p, ld, a.X[r0*W+E:], W, 1, ws.acc, E)
		}
	}
	if a.BF16 {
		a.forwardRounded(p, ws, b, i0, i1, thr, inv)
	}
	for r := 0; r < bq; r++ {
		i := b*L + i0 + r
		o := out[i*OW : i*OW+E]
		if ws.l[r] == 0 {
			if p.valid[i] {
				return fmt.Errorf("attention: sequence %d row %d: %w", b, i0+r, attn.ErrEmptyRow)
			}
			// A padding query with no valid key in reach: its output
			// is never used; define it as zero.
			clear(o)
			if !a.Gated {
				out[i*OW+E] = 0
			}
			if a.GateOut != nil && !a.Gated {
				mulTo(a.GateOut[i*E:(i+1)*E], a.X[i*W:i*W+E], o)
			}
			continue
		}
		inv := 1 / ws.l[r]
		if a.BF16 { // P was normalised before the product
			inv = 1
		}
		scaleRow(o, ws.acc[r*E:(r+1)*E], inv)
		if a.Gated {
			mulTo(o, o, a.X[i*W:i*W+E])
			continue
		}
		if a.GateOut != nil {
			mulTo(a.GateOut[i*E:(i+1)*E], a.X[i*W:i*W+E], o)
		}
		out[i*OW+E] = ws.m[r] + T(math.Log(float64(ws.l[r])))
	}
	return nil
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// forwardRounded is the BF16 forward's second pass over the keys of query
// rows [i0, i1) of sequence b, whose running maximum and sum (ws.m, ws.l)
// the first pass left: P = dropout(exp(s − lse)) rounded to bfloat16,
// ws.acc += P·V16.
func (a *Attention[T]) forwardRounded(p *prep[T], ws *blockScratch[T], b, i0, i1 int, thr uint64, inv T) {
	L, E := a.L, a.E
	bq := i1 - i0
	for j0 := 0; j0 < L; j0 += blockK {
		j1 := min(j0+blockK, L)
		class := a.Policy.Classify(i0, i1, j0, j1)
		if class == attn.BlockSkip {
			continue
		}
		a.scores(p, ws, b, i0, i1, j0, j1, class, false)
		bk := j1 - j0
		ld := bk
		for r := 0; r < bq; r++ {
			prow := ws.p[r*ld : r*ld+bk]
			if ws.l[r] == 0 {
				clear(prow)
				continue
			}
			lse := ws.m[r] + T(math.Log(float64(ws.l[r])))
			expShiftSum(prow, ws.s[r*ld:r*ld+bk], lse)
			if thr != 0 {
				a.dropRow(prow, prow, a.dropIndex(b, i0+r, j0), thr, inv)
			}
			roundBF16(prow)
		}
		v, ldv := a.vOperand(p, b*L+j0)
		gemmSerial(false, false, bq, E, bk, 1, ws.p, ld, v, ldv, 1, ws.acc, E)
	}
}

// Backward computes the gradient of the attention with respect to X, γq and
// γk given the forward output out ([B·L, E+1]) and its gradient dout (only
// the first E columns are read). It writes dx, [(B·L+2), 2E+D]: rows 0..B·L-1
// hold dX (the u columns are zero: the gate's gradient is added by the
// caller), row B·L holds dγq and row B·L+1 dγk in their first D columns.
func (a *Attention[T]) Backward(out, dout, dx []T) error {
	return a.backwardCall(out, dout, nil, dx)
}

// BackwardGated is Backward given the gradient dy ([B·L, E]) of the gate
// that follows the attention in a training layer, Y = u⊙O, instead of O's:
// it uses dO = dy⊙u, the product GateGradO computes (the same bits), row
// by row, without a [B·L, E+1] matrix for dO.
func (a *Attention[T]) BackwardGated(out, dy, dx []T) error {
	if len(dy) < a.B*a.L*a.E {
		return fmt.Errorf("attention backward: the gate's gradient has %d elements, want %d", len(dy), a.B*a.L*a.E)
	}
	return a.backwardCall(out, nil, dy, dx)
}

func (a *Attention[T]) backwardCall(out, dout, dy, dx []T) error {
	if a.Gated {
		return fmt.Errorf("attention backward: needs the ungated forward output (Gated is set)")
	}
	w := getWorkspace[T](a.Work)
	defer putWorkspace(a.Work, w)
	w.att = *a // as in Forward
	defer w.clearAttention()
	return w.att.backward(w, out, dout, dy, dx)
}

// backward computes the gradients from dout (O's gradient, row stride
// OutWidth) or, when dout is nil, from dy (the gate's, row stride E).
func (a *Attention[T]) backward(w *workspace[T], out, dout, dy, dx []T) error {
	p, err := a.prepare(w, true)
	if err != nil {
		return err
	}
	B, L, E, D, W := a.B, a.L, a.E, a.D, a.Width()
	OW := a.OutWidth()
	rows := B * L
	switch {
	case len(out) < rows*OW || (dout != nil && len(dout) < rows*OW):
		return fmt.Errorf("attention backward: output or its gradient shorter than %d", rows*OW)
	case len(dx) < (rows+2)*W:
		return fmt.Errorf("attention backward: dx has %d elements, want %d", len(dx), (rows+2)*W)
	}
	// dX: the u columns are zero; the v columns (dV) are written by the
	// key blocks' first products (beta 0) and the z columns (dz) row by
	// row, so only the u columns and the two dγ rows are cleared (the u
	// columns in the first parallel loop, with the gradient buffers below).
	clear(dx[rows*W : (rows+2)*W])
	bt := &w.bwd
	*bt = bwdTask[T]{a: a, p: p, out: out, dout: dout, ldout: OW, dx: dx, dO: dout, ldo: OW}
	threads := parallel.Workers(a.Threads)
	if dout == nil {
		// dO = dy⊙u, written by the first parallel loop below (or here,
		// before its rounded copy, under BF16).
		bt.dy = dy
		ld := oddLines[T](E)
		bt.dout, bt.ldout = w.f.alloc(rows*ld, false), ld
		bt.dO, bt.ldo = bt.dout, ld
		if a.BF16 {
			bt.phase = bwdGate
			parallel.For(rows, threads, bt)
			bt.dy = nil
		}
	}
	// The dO operand of the products: dout, or its rounded copy under BF16.
	if a.BF16 {
		bt.dO, bt.ldo = w.f.alloc(rows*E, false), E
		for r := 0; r < rows; r++ {
			copy(bt.dO[r*E:(r+1)*E], bt.dout[r*bt.ldout:r*bt.ldout+E])
		}
		roundBF16(bt.dO)
	}
	// Gradients wrt the rotated vectors. Key-side buffers are owned by the
	// work item of their key block; query-side ones are per worker.
	bt.dkr = w.f.alloc(rows*D, false)
	if p.far {
		bt.dk0 = w.f.alloc(rows*D, false)
		bt.dkc = w.f.alloc(rows*D, false)
	}
	bt.nk = (L + blockK - 1) / blockK
	bt.bqRows = a.qBlock()
	blockThreads := min(threads, B*bt.nk)
	// With one key block per sequence (L <= blockK) the items write
	// disjoint query rows: one dQ buffer for all, items claimed
	// dynamically. Otherwise each worker sums into its own dQ (added up in
	// worker order below) over a static partition, so that the sums do not
	// depend on timing.
	bt.sharedDQ = bt.nk == 1
	nq := blockThreads
	if bt.sharedDQ {
		nq = 1
	}
	bt.dq = w.qgradsFor(nq)
	for i := range bt.dq {
		bt.dq[i].qr = w.f.alloc(rows*D, false)
		if p.far {
			bt.dq[i].qc = w.f.alloc(rows*D, false)
			bt.dq[i].q0 = w.f.alloc(rows*D, false)
		}
	}
	// D_i = dO_i·O_i, and the buffers above cleared, row by row.
	bt.delta = w.f.alloc(rows, false)
	bt.phase = bwdDelta
	parallel.For(rows, threads, bt)
	threads = blockThreads
	bt.scratch = w.scratchFor(threads, E)
	bt.thr = pipeline.DropThreshold(a.Dropout)
	bt.inv = T(1 / (1 - a.Dropout))
	bt.ones = w.onesFor(blockQMax * blockK)
	// Static partition: the per-worker dQ sums, and so the result, are
	// reproducible bit for bit (training resumes exactly).
	bt.phase = bwdBlocks
	if bt.sharedDQ {
		parallel.Each(B*bt.nk, 1, threads, bt)
	} else {
		parallel.For(B*bt.nk, threads, bt)
	}
	// Reduce the per-worker query gradients into worker 0's buffers.
	dq := bt.dq
	for _, g := range dq[1:] {
		addTo(dq[0].qr, g.qr)
		if p.far {
			addTo(dq[0].qc, g.qc)
			addTo(dq[0].q0, g.q0)
		}
	}
	// Back through rotation, CosScale and ScaleOffset, row by row; dγq
	// and dγk are summed per worker, then over the workers in order.
	bt.gammas = w.f.alloc(threads*2*D, true)
	bt.tmp = w.f.alloc(threads*2*D, false)
	bt.prod = w.f.alloc(threads*2*D, false)
	bt.phase = bwdRows
	parallel.For(rows, threads, bt)
	k := min(threads, rows)
	dgq := dx[rows*W : rows*W+D]
	dgk := dx[(rows+1)*W : (rows+1)*W+D]
	for wk := 0; wk < k; wk++ {
		acc := bt.gammas[wk*2*D : (wk+1)*2*D]
		addTo(dgq, acc[:D])
		addTo(dgk, acc[D:])
	}
	*bt = bwdTask[T]{}
	return nil
}

// qgrads are one worker's query-side gradients in the backward pass.
type qgrads[T Float] struct{ qr, qc, q0 []T }

// The phases of the backward pass, each a parallel loop of bwdTask.
const (
	bwdDelta  = iota // over rows: D_i = dO_i·O_i (dO = dy⊙u first, with dy)
	bwdGate          // over rows: dO = dy⊙u alone (BF16, before dO's rounding)
	bwdBlocks        // over (sequence, key block) items, static
	bwdRows          // over rows: back through the rotation and ScaleOffset
)

// bwdTask holds the backward pass's state; its phase selects the loop Run
// is the body of.
type bwdTask[T Float] struct {
	a                 *Attention[T]
	p                 *prep[T]
	out, dout, dx, dO []T
	ldout, ldo        int
	dy                []T // the gate's gradient (BackwardGated), until dout holds dy⊙u
	delta             []T
	dkr, dk0, dkc     []T
	dq                []qgrads[T]
	scratch           []*blockScratch[T]
	nk, bqRows        int
	thr               uint64
	inv               T
	gammas, tmp, prod []T  // per worker: dγq | dγk sums, gq | gk, products
	ones              []T  // a block's ones (the dropout multipliers' input)
	sharedDQ          bool // one dQ for all workers (dq has one entry)
	phase             int
}

func (t *bwdTask[T]) Run(wk, lo, hi int) {
	switch t.phase {
	case bwdGate:
		t.gate(lo, hi)
	case bwdDelta:
		E, OW, D, W := t.a.E, t.a.OutWidth(), t.a.D, t.a.Width()
		if !t.a.SkipGateColumns {
			for r := lo; r < hi; r++ {
				clear(t.dx[r*W : r*W+E])
			}
		}
		clearRows(t.dkr, t.dk0, t.dkc, lo, hi, D)
		for _, g := range t.dq {
			clearRows(g.qr, g.qc, g.q0, lo, hi, D)
		}
		if t.dy != nil {
			t.gate(lo, hi)
		}
		ldd := t.ldout
		if is32[T]() {
			// The same sums, in the same order, 16 rows at a time.
			simd.RowDots(asF32(t.delta[lo:hi]), asF32(t.dout[lo*ldd:]), ldd, asF32(t.out[lo*OW:]), OW, hi-lo, E)
			return
		}
		i := lo
		for ; i+4 <= hi; i += 4 {
			row := func(k int) ([]T, []T) {
				return t.dout[(i+k)*ldd : (i+k)*ldd+E], t.out[(i+k)*OW : (i+k)*OW+E]
			}
			x0, y0 := row(0)
			x1, y1 := row(1)
			x2, y2 := row(2)
			x3, y3 := row(3)
			t.delta[i], t.delta[i+1], t.delta[i+2], t.delta[i+3] = dot4(x0, y0, x1, y1, x2, y2, x3, y3)
		}
		for ; i < hi; i++ {
			t.delta[i] = dot(t.dout[i*ldd:i*ldd+E], t.out[i*OW:i*OW+E])
		}
	case bwdBlocks:
		for item := lo; item < hi; item++ {
			t.block(wk, item)
		}
	case bwdRows:
		t.rows(wk, lo, hi)
	}
}

// gate writes rows [lo, hi) of dO = dy⊙u into dout.
func (t *bwdTask[T]) gate(lo, hi int) {
	E, W, ld := t.a.E, t.a.Width(), t.ldout
	for r := lo; r < hi; r++ {
		mulTo(t.dout[r*ld:r*ld+E], t.dy[r*E:(r+1)*E], t.a.X[r*W:r*W+E])
	}
}

// oddLines returns the row stride, in elements, for rows of n elements
// that the products read row by row: n rounded up to whole 64-byte lines,
// and to an odd number of them, so that consecutive rows do not fall in
// the same cache sets (a stride of 2^k bytes, such as 256 float32, puts
// the rows a micro-kernel reads at once in a few sets of L1).
func oddLines[T Float](n int) int {
	var z T
	per := 64 / int(unsafe.Sizeof(z))
	lines := (n + per - 1) / per
	if lines%2 == 0 {
		lines++
	}
	return lines * per
}

// block accumulates the gradients of one key block of one sequence.
func (t *bwdTask[T]) block(wk, item int) {
	a, p := t.a, t.p
	L, E, D, W := a.L, a.E, a.D, a.Width()
	OW := a.OutWidth()
	thr, inv := t.thr, t.inv
	dO, ldo, dx := t.dO, t.ldo, t.dx
	ws, g := t.scratch[wk], t.dq[min(wk, len(t.dq)-1)]
	b, jb := item/t.nk, item%t.nk
	j0, j1 := jb*blockK, min((jb+1)*blockK, L)
	bk := j1 - j0
	c0 := b*L + j0
	dvBeta := T(0) // the first product writes dV, the others add to it
	for i0 := 0; i0 < L; i0 += t.bqRows {
		i1 := min(i0+t.bqRows, L)
		class := a.Policy.Classify(i0, i1, j0, j1)
		if class == attn.BlockSkip {
			continue
		}
		bq := i1 - i0
		r0 := b*L + i0
		a.scores(p, ws, b, i0, i1, j0, j1, class, false)
		ld := bk // the block's row stride: the block is contiguous
		n := bq * ld
		// With the block as wide as the sequence, its rows are
		// consecutive in the dropout stream too: one draw for the block.
		dropBlock := thr != 0 && bk == L
		// P (undropped) into ws.p, dropped (and under BF16 rounded) P
		// into ws.fb (reused).
		pd := ws.p
		if thr != 0 || a.BF16 {
			pd = ws.fb
		}
		for r := 0; r < bq; r++ {
			lse := t.out[(r0+r)*OW+E]
			// Masked scores are -Inf, whose exponential is 0.
			prow := ws.p[r*ld : r*ld+bk]
			expShiftSum(prow, ws.s[r*ld:r*ld+bk], lse)
			if thr != 0 && !dropBlock {
				// The row's dropout multipliers (inv or 0), drawn once
				// for P here and dP below.
				mrow := ws.dm[r*ld : r*ld+bk]
				a.dropRow(mrow, t.ones[:bk], a.dropIndex(b, i0+r, j0), thr, inv)
				mulTo(pd[r*ld:r*ld+bk], prow, mrow)
			} else if a.BF16 && thr == 0 {
				copy(pd[r*ld:r*ld+bk], prow)
			}
		}
		if dropBlock {
			a.dropRow(ws.dm[:n], t.ones[:n], a.dropIndex(b, i0, j0), thr, inv)
			mulTo(pd[:n], ws.p[:n], ws.dm[:n])
		}
		if a.BF16 {
			roundBF16(pd[:n])
		}
		// dV += Pd^T dO.
		gemmSerial(true, false, bk, E, bq, 1, pd, ld, dO[r0*ldo:], ldo, dvBeta, dx[c0*W+E:], W)
		dvBeta = 1
		// dPd = dO V^T.
		v, ldv := a.vOperand(p, c0)
		gemmSerial(false, true, bq, bk, E, 1, dO[r0*ldo:], ldo, v, ldv, 0, ws.dp, ld)
		// dS = P ⊙ (dP - D), dP = dPd ⊙ dropscale.
		if thr != 0 {
			mulTo(ws.dp[:n], ws.dp[:n], ws.dm[:n])
		}
		for r := 0; r < bq; r++ {
			mulShifted(ws.s[r*ld:r*ld+bk], ws.p[r*ld:r*ld+bk], ws.dp[r*ld:r*ld+bk], t.delta[r0+r])
		}
		if a.BF16 {
			roundBF16(ws.s[:n])
		}
		ds := ws.s
		route := func(dsk []T, qv, kv, dqv, dkv []T) {
			gemmSerial(false, false, bq, D, bk, 1, dsk, ld, kv[c0*D:], D, 1, dqv[r0*D:], D)
			gemmSerial(true, false, bk, D, bq, 1, dsk, ld, qv[r0*D:], D, 1, dkv[c0*D:], D)
		}
		switch class {
		case attn.BlockNear:
			route(ds, p.qr, p.kr, g.qr, t.dkr)
		case attn.BlockFarBehind:
			route(ds, p.qc, p.k0, g.qc, t.dk0)
		case attn.BlockFarAhead:
			route(ds, p.q0, p.kc, g.q0, t.dkc)
		case attn.BlockMixed:
			if !p.far {
				route(ds, p.qr, p.kr, g.qr, t.dkr)
				break
			}
			// Split dS by kind: near stays in ds, far parts move out.
			fb, fa := ws.fb, ws.fa
			for r := 0; r < bq; r++ {
				for c := 0; c < bk; c++ {
					k := r*ld + c
					fb[k], fa[k] = 0, 0
					switch ws.kind[k] {
					case kindFarBehind:
						fb[k], ds[k] = ds[k], 0
					case kindFarAhead:
						fa[k], ds[k] = ds[k], 0
					}
				}
			}
			route(ds, p.qr, p.kr, g.qr, t.dkr)
			route(fb, p.qc, p.k0, g.qc, t.dk0)
			route(fa, p.q0, p.kc, g.q0, t.dkc)
		}
	}
	if dvBeta == 0 { // every query block skipped these keys
		for c := c0; c < c0+bk; c++ {
			clear(dx[c*W+E : c*W+2*E])
		}
	}
}

// rows takes the rows [lo, hi) back through the rotation, CosScale and
// ScaleOffset into dz, adding to worker wk's dγ sums.
func (t *bwdTask[T]) rows(wk, lo, hi int) {
	a, p := t.a, t.p
	L, D, W := a.L, a.D, a.Width()
	pol := &a.Policy
	cos := pol.CosScale > 0
	dqr, dqc, dq0 := t.dq[0].qr, t.dq[0].qc, t.dq[0].q0
	gq := t.tmp[2*wk*D : (2*wk+1)*D]
	gk := t.tmp[(2*wk+1)*D : (2*wk+2)*D]
	acc := t.gammas[2*wk*D : (2*wk+2)*D]
	if is32[T]() && !cos && pol.Rotates() && !p.far {
		// The loop below for this case in one call per row, its bits.
		for r := lo; r < hi; r++ {
			if n := r + prefetchRows; n < hi {
				simd.Prefetch(asF32(a.X[n*W+2*a.E : n*W+2*a.E+D]))
				simd.Prefetch(asF32(t.dx[n*W+2*a.E : n*W+2*a.E+D]))
			}
			cs, sn := p.table(r, L)
			seg := func(v []T) []float32 { return asF32(v[r*D : (r+1)*D]) }
			simd.RopeQKGrad(asF32(t.dx[r*W+2*a.E:r*W+2*a.E+D]), asF32(acc[:D]), asF32(acc[D:]), seg(dqr), seg(t.dkr),
				asF32(a.X[r*W+2*a.E:r*W+2*a.E+D]), asF32(a.GammaQ[:D]), asF32(a.GammaK[:D]), asF32(cs), asF32(sn), float32(p.sc[r/L]))
		}
		return
	}
	for r := lo; r < hi; r++ {
		b := r / L
		clear(gq)
		clear(gk)
		seg := func(v []T) []T { return v[r*D : (r+1)*D] }
		if pol.Rotates() {
			cs, sn := p.table(r, L)
			rotateAdjointAddRow(gq, seg(dqr), cs, sn)
			rotateAdjointAddRow(gk, seg(t.dkr), cs, sn)
			if p.far {
				rotateAdjointAdd(gq, seg(dqc), p.cosC, p.sinC)
				rotateAdjointAdd(gq, seg(dq0), nil, nil)
				rotateAdjointAdd(gk, seg(t.dkc), p.cosC, p.sinC)
				rotateAdjointAdd(gk, seg(t.dk0), nil, nil)
			}
		} else {
			copy(gq, seg(dqr))
			copy(gk, seg(t.dkr))
		}
		scaleRow(gq, gq, p.sc[b])
		qraw, kraw := seg(p.qraw), seg(p.kraw)
		if cos {
			cosScaleBackward(gq, qraw, p.alpha)
			cosScaleBackward(gk, kraw, 1)
		}
		z := a.X[r*W+2*a.E : r*W+2*a.E+D]
		dz := t.dx[r*W+2*a.E : r*W+2*a.E+D]
		// dz = gq⊙γq + gk⊙γk; dγq += gq⊙z, dγk += gk⊙z (each product
		// rounded, then the sum: the scalar loop's arithmetic).
		pq, pk := t.prod[2*wk*D:(2*wk+1)*D], t.prod[(2*wk+1)*D:(2*wk+2)*D]
		mulTo(pq, gq, a.GammaQ[:D])
		mulTo(pk, gk, a.GammaK[:D])
		addTo2(dz, pq, pk)
		mulTo(pq, gq, z)
		addTo2(acc[:D], acc[:D], pq)
		mulTo(pk, gk, z)
		addTo2(acc[D:], acc[D:], pk)
	}
}

// cosScaleBackward turns g, the gradient wrt y = alpha·x/(|x|+1e-9), into the
// gradient wrt x, in place.
func cosScaleBackward[T Float](g, x []T, alpha T) {
	r := norm2(x)
	nu := r + 1e-9
	f := alpha / nu
	if r == 0 {
		for i := range g {
			g[i] *= f
		}
		return
	}
	proj := dot(x, g) / (r * nu)
	for i := range g {
		g[i] = f * (g[i] - x[i]*proj)
	}
}

func addTo[T Float](dst, src []T) {
	for i, v := range src {
		dst[i] += v
	}
}
