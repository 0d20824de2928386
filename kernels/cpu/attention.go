package cpu

import (
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/internal/bf16"
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
	return nil
}

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
	cosT   []T       // [L or B·L, D/2] rotation tables
	sinT   []T       //
	perSeq bool      // tables indexed by global row (explicit positions)
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
	p := &prep[T]{
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
		p.freqs = pol.Frequencies(L)
		p.perSeq = a.Pos != nil
		tabRows := L
		if p.perSeq {
			tabRows = rows
		}
		p.cosT = w.f.alloc(tabRows*half, false)
		p.sinT = w.f.alloc(tabRows*half, false)
		for r := 0; r < tabRows; r++ {
			pos := r
			if p.perSeq {
				pos = a.Pos[r]
			}
			for i, th := range p.freqs {
				s, c := math.Sincos(float64(pos) * th)
				p.cosT[r*half+i] = T(c)
				p.sinT[r*half+i] = T(s)
			}
		}
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
	cos := pol.CosScale > 0
	forRange(rows, a.Threads, func(_, lo, hi int) {
		qtmp := make([]T, D)
		ktmp := make([]T, D)
		for r := lo; r < hi; r++ {
			b := r / L
			z := a.X[r*W+2*a.E : r*W+2*a.E+D]
			for i := 0; i < D; i++ {
				qtmp[i] = z[i] * a.GammaQ[i]
				ktmp[i] = z[i] * a.GammaK[i]
			}
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
			rotate(qr, qn, cs, sn, sc)
			rotate(kr, kn, cs, sn, 1)
			if p.far {
				rotate(p.qc[r*D:(r+1)*D], qn, p.cosC, p.sinC, sc)
				rotate(p.kc[r*D:(r+1)*D], kn, p.cosC, p.sinC, 1)
				rotate(p.q0[r*D:(r+1)*D], qn, nil, nil, sc)
				rotate(p.k0[r*D:(r+1)*D], kn, nil, nil, 1)
			}
		}
	})
	if a.BF16 {
		for _, v := range [][]T{p.qr, p.kr, p.qc, p.q0, p.kc, p.k0} {
			roundBF16(v)
		}
		p.v16 = w.f.alloc(rows*a.E, false)
		for r := 0; r < rows; r++ {
			copy(p.v16[r*a.E:(r+1)*a.E], a.X[r*W+a.E:r*W+2*a.E])
		}
		roundBF16(p.v16)
	}
	return p, nil
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
	if p.perSeq {
		t = r
	}
	return p.cosT[t*half : (t+1)*half], p.sinT[t*half : (t+1)*half]
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

func scaleTo[T Float](dst, x []T, s T) {
	for i, v := range x {
		dst[i] = v * s
	}
}

// blockScratch is one worker's scratch space for a score block.
type blockScratch[T Float] struct {
	s, fb, fa []T
	kind      []int8
	p, dp     []T
	m, l      []T
	acc       []T
}

func newBlockScratch[T Float](E int) *blockScratch[T] {
	n := blockQMax * blockK
	return &blockScratch[T]{
		s: make([]T, n), fb: make([]T, n), fa: make([]T, n),
		kind: make([]int8, n), p: make([]T, n), dp: make([]T, n),
		m: make([]T, blockQMax), l: make([]T, blockQMax), acc: make([]T, blockQMax*E),
	}
}

// scores fills ws.s (row stride blockK) with the logits of the block
// [i0,i1)×[j0,j1) of sequence b, -Inf where masked, and ws.kind with each
// element's kind.
func (a *Attention[T]) scores(p *prep[T], ws *blockScratch[T], b, i0, i1, j0, j1 int, class attn.BlockClass) {
	L, D := a.L, a.D
	bq, bk := i1-i0, j1-j0
	r0, c0 := b*L+i0, b*L+j0
	s := ws.s
	negInf := T(math.Inf(-1))
	var uniform int8
	switch class {
	case attn.BlockNear:
		gemmSerial(false, true, bq, bk, D, 1, p.qr[r0*D:], D, p.kr[c0*D:], D, 0, s, blockK)
		uniform = kindNear
	case attn.BlockFarBehind:
		gemmSerial(false, true, bq, bk, D, 1, p.qc[r0*D:], D, p.k0[c0*D:], D, 0, s, blockK)
		uniform = kindFarBehind
	case attn.BlockFarAhead:
		gemmSerial(false, true, bq, bk, D, 1, p.q0[r0*D:], D, p.kc[c0*D:], D, 0, s, blockK)
		uniform = kindFarAhead
	case attn.BlockMixed:
		gemmSerial(false, true, bq, bk, D, 1, p.qr[r0*D:], D, p.kr[c0*D:], D, 0, s, blockK)
		if p.far {
			gemmSerial(false, true, bq, bk, D, 1, p.qc[r0*D:], D, p.k0[c0*D:], D, 0, ws.fb, blockK)
			gemmSerial(false, true, bq, bk, D, 1, p.q0[r0*D:], D, p.kc[c0*D:], D, 0, ws.fa, blockK)
		}
	}
	pol := &a.Policy
	bias := pol.HasBias()
	bs := p.bscale[b]
	if class != attn.BlockMixed && !bias {
		// A uniform block: the scores are the GEMM's; only padded keys
		// need a touch.
		for r := 0; r < bq; r++ {
			kind := ws.kind[r*blockK : r*blockK+bk]
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
					ws.kind[r*blockK+c] = kindMasked
					s[r*blockK+c] = negInf
				}
			}
		}
		return
	}
	for r := 0; r < bq; r++ {
		i := i0 + r
		row := s[r*blockK : r*blockK+bk]
		kind := ws.kind[r*blockK : r*blockK+bk]
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
						row[c] = ws.fb[r*blockK+c]
					} else {
						k = kindFarAhead
						row[c] = ws.fa[r*blockK+c]
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

// keepScale returns the dropout multiplier of element (b, i, j): 0 when
// dropped, 1/(1-p) when kept.
func (a *Attention[T]) dropScale(thr uint64, inv T, b, i, j int) T {
	idx := (uint64(b)*uint64(a.L)+uint64(i))*uint64(a.L) + uint64(j)
	if pipeline.Keep(a.Key, a.Site, idx, thr) {
		return inv
	}
	return 0
}

// Forward computes O (columns 0..E-1) and the row log-sum-exp (column E) into
// out, [B·L, E+1].
func (a *Attention[T]) Forward(out []T) error {
	w := getWorkspace[T](a.Work)
	defer putWorkspace(a.Work, w)
	p, err := a.prepare(w, false)
	if err != nil {
		return err
	}
	B, L, E, W := a.B, a.L, a.E, a.Width()
	OW := a.OutWidth()
	if len(out) < B*L*OW {
		return fmt.Errorf("attention: output has %d elements, want %d", len(out), B*L*OW)
	}
	bqRows := a.qBlock()
	nq := (L + bqRows - 1) / bqRows
	threads := min(threadsOr(a.Threads), B*nq)
	scratch := w.scratchFor(threads, E)
	thr := pipeline.DropThreshold(a.Dropout)
	inv := T(1 / (1 - a.Dropout))
	negInf := T(math.Inf(-1))
	return forEach(B*nq, threads, func(wk, item int) error {
		ws := scratch[wk]
		b, ib := item/nq, item%nq
		i0, i1 := ib*bqRows, min((ib+1)*bqRows, L)
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
			a.scores(p, ws, b, i0, i1, j0, j1, class)
			bk := j1 - j0
			live := false
			for r := 0; r < bq; r++ {
				row := ws.s[r*blockK : r*blockK+bk]
				prow := ws.p[r*blockK : r*blockK+bk]
				mx := rowMax(row)
				if mx == negInf {
					clear(prow)
					continue
				}
				live = true
				mnew := max(ws.m[r], mx)
				corr := expT(ws.m[r] - mnew)
				sum := expShiftSum(prow, row, mnew)
				if thr != 0 && !a.BF16 {
					for c := range prow {
						prow[c] *= a.dropScale(thr, inv, b, i0+r, j0+c)
					}
				}
				ws.l[r] = ws.l[r]*corr + sum
				ws.m[r] = mnew
				if corr != 1 && !a.BF16 {
					acc := ws.acc[r*E : (r+1)*E]
					for c := range acc {
						acc[c] *= corr
					}
				}
			}
			if live && !a.BF16 {
				r0 := b*L + j0
				gemmSerial(false, false, bq, E, bk, 1, ws.p, blockK, a.X[r0*W+E:], W, 1, ws.acc, E)
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
				continue
			}
			inv := 1 / ws.l[r]
			if a.BF16 { // P was normalised before the product
				inv = 1
			}
			if a.Gated {
				u := a.X[i*W : i*W+E]
				for c, v := range ws.acc[r*E : (r+1)*E] {
					o[c] = v * inv * u[c]
				}
				continue
			}
			for c, v := range ws.acc[r*E : (r+1)*E] {
				o[c] = v * inv
			}
			out[i*OW+E] = ws.m[r] + T(math.Log(float64(ws.l[r])))
		}
		return nil
	})
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
		a.scores(p, ws, b, i0, i1, j0, j1, class)
		bk := j1 - j0
		for r := 0; r < bq; r++ {
			prow := ws.p[r*blockK : r*blockK+bk]
			if ws.l[r] == 0 {
				clear(prow)
				continue
			}
			lse := ws.m[r] + T(math.Log(float64(ws.l[r])))
			expShiftSum(prow, ws.s[r*blockK:r*blockK+bk], lse)
			if thr != 0 {
				for c := range prow {
					prow[c] *= a.dropScale(thr, inv, b, i0+r, j0+c)
				}
			}
			roundBF16(prow)
		}
		v, ldv := a.vOperand(p, b*L+j0)
		gemmSerial(false, false, bq, E, bk, 1, ws.p, blockK, v, ldv, 1, ws.acc, E)
	}
}

// Backward computes the gradient of the attention with respect to X, γq and
// γk given the forward output out ([B·L, E+1]) and its gradient dout (only
// the first E columns are read). It writes dx, [(B·L+2), 2E+D]: rows 0..B·L-1
// hold dX (the u columns are zero: the gate's gradient is added by the
// caller), row B·L holds dγq and row B·L+1 dγk in their first D columns.
func (a *Attention[T]) Backward(out, dout, dx []T) error {
	if a.Gated {
		return fmt.Errorf("attention backward: needs the ungated forward output (Gated is set)")
	}
	w := getWorkspace[T](a.Work)
	defer putWorkspace(a.Work, w)
	p, err := a.prepare(w, true)
	if err != nil {
		return err
	}
	B, L, E, D, W := a.B, a.L, a.E, a.D, a.Width()
	OW := a.OutWidth()
	rows := B * L
	switch {
	case len(out) < rows*OW || len(dout) < rows*OW:
		return fmt.Errorf("attention backward: output or its gradient shorter than %d", rows*OW)
	case len(dx) < (rows+2)*W:
		return fmt.Errorf("attention backward: dx has %d elements, want %d", len(dx), (rows+2)*W)
	}
	clear(dx[:(rows+2)*W])
	// The dO operand of the products: dout, or its rounded copy under BF16.
	dO, ldo := dout, OW
	if a.BF16 {
		dO, ldo = w.f.alloc(rows*E, false), E
		for r := 0; r < rows; r++ {
			copy(dO[r*E:(r+1)*E], dout[r*OW:r*OW+E])
		}
		roundBF16(dO)
	}
	threads := threadsOr(a.Threads)
	// D_i = dO_i·O_i.
	delta := w.f.alloc(rows, false)
	forRange(rows, threads, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			delta[i] = dot(dout[i*OW:i*OW+E], out[i*OW:i*OW+E])
		}
	})
	// Gradients wrt the rotated vectors. Key-side buffers are owned by the
	// work item of their key block; query-side ones are per worker.
	dkr := w.f.alloc(rows*D, true)
	var dk0, dkc []T
	if p.far {
		dk0 = w.f.alloc(rows*D, true)
		dkc = w.f.alloc(rows*D, true)
	}
	nk := (L + blockK - 1) / blockK
	bqRows := a.qBlock()
	threads = min(threads, B*nk)
	type qgrads struct{ qr, qc, q0 []T }
	dq := make([]qgrads, threads)
	for i := range dq {
		dq[i].qr = w.f.alloc(rows*D, true)
		if p.far {
			dq[i].qc = w.f.alloc(rows*D, true)
			dq[i].q0 = w.f.alloc(rows*D, true)
		}
	}
	scratch := w.scratchFor(threads, E)
	thr := pipeline.DropThreshold(a.Dropout)
	inv := T(1 / (1 - a.Dropout))
	// Static partition: the per-worker dQ sums, and so the result, are
	// reproducible bit for bit (training resumes exactly).
	err = forStatic(B*nk, threads, func(wk, item int) error {
		ws, g := scratch[wk], dq[wk]
		b, jb := item/nk, item%nk
		j0, j1 := jb*blockK, min((jb+1)*blockK, L)
		bk := j1 - j0
		c0 := b*L + j0
		for i0 := 0; i0 < L; i0 += bqRows {
			i1 := min(i0+bqRows, L)
			class := a.Policy.Classify(i0, i1, j0, j1)
			if class == attn.BlockSkip {
				continue
			}
			bq := i1 - i0
			r0 := b*L + i0
			a.scores(p, ws, b, i0, i1, j0, j1, class)
			// P (undropped) into ws.p, dropped (and under BF16 rounded) P
			// into ws.fb (reused).
			pd := ws.p
			if thr != 0 || a.BF16 {
				pd = ws.fb
			}
			for r := 0; r < bq; r++ {
				lse := out[(r0+r)*OW+E]
				// Masked scores are -Inf, whose exponential is 0.
				prow := ws.p[r*blockK : r*blockK+bk]
				expShiftSum(prow, ws.s[r*blockK:r*blockK+bk], lse)
				if thr != 0 {
					for c, e := range prow {
						pd[r*blockK+c] = e * a.dropScale(thr, inv, b, i0+r, j0+c)
					}
				} else if a.BF16 {
					copy(pd[r*blockK:r*blockK+bk], prow)
				}
				if a.BF16 {
					roundBF16(pd[r*blockK : r*blockK+bk])
				}
			}
			// dV += Pd^T dO.
			gemmSerial(true, false, bk, E, bq, 1, pd, blockK, dO[r0*ldo:], ldo, 1, dx[c0*W+E:], W)
			// dPd = dO V^T.
			v, ldv := a.vOperand(p, c0)
			gemmSerial(false, true, bq, bk, E, 1, dO[r0*ldo:], ldo, v, ldv, 0, ws.dp, blockK)
			// dS = P ⊙ (dP - D), dP = dPd ⊙ dropscale.
			for r := 0; r < bq; r++ {
				di := delta[r0+r]
				for c := 0; c < bk; c++ {
					k := r*blockK + c
					dp := ws.dp[k]
					if thr != 0 {
						dp *= a.dropScale(thr, inv, b, i0+r, j0+c)
					}
					ws.s[k] = ws.p[k] * (dp - di)
				}
				if a.BF16 {
					roundBF16(ws.s[r*blockK : r*blockK+bk])
				}
			}
			ds := ws.s
			route := func(dsk []T, qv, kv, dqv, dkv []T) {
				gemmSerial(false, false, bq, D, bk, 1, dsk, blockK, kv[c0*D:], D, 1, dqv[r0*D:], D)
				gemmSerial(true, false, bk, D, bq, 1, dsk, blockK, qv[r0*D:], D, 1, dkv[c0*D:], D)
			}
			switch class {
			case attn.BlockNear:
				route(ds, p.qr, p.kr, g.qr, dkr)
			case attn.BlockFarBehind:
				route(ds, p.qc, p.k0, g.qc, dk0)
			case attn.BlockFarAhead:
				route(ds, p.q0, p.kc, g.q0, dkc)
			case attn.BlockMixed:
				if !p.far {
					route(ds, p.qr, p.kr, g.qr, dkr)
					break
				}
				// Split dS by kind: near stays in ds, far parts move out.
				fb, fa := ws.fb, ws.fa
				for r := 0; r < bq; r++ {
					for c := 0; c < bk; c++ {
						k := r*blockK + c
						fb[k], fa[k] = 0, 0
						switch ws.kind[k] {
						case kindFarBehind:
							fb[k], ds[k] = ds[k], 0
						case kindFarAhead:
							fa[k], ds[k] = ds[k], 0
						}
					}
				}
				route(ds, p.qr, p.kr, g.qr, dkr)
				route(fb, p.qc, p.k0, g.qc, dk0)
				route(fa, p.q0, p.kc, g.q0, dkc)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Reduce the per-worker query gradients into worker 0's buffers.
	dqr, dqc, dq0 := dq[0].qr, dq[0].qc, dq[0].q0
	for _, g := range dq[1:] {
		addTo(dqr, g.qr)
		if p.far {
			addTo(dqc, g.qc)
			addTo(dq0, g.q0)
		}
	}
	// Back through rotation, CosScale and ScaleOffset, row by row.
	gammas := make([][]T, threads) // per worker: dγq | dγk
	pol := &a.Policy
	cos := pol.CosScale > 0
	forRange(rows, threads, func(wk, lo, hi int) {
		gq := make([]T, D)
		gk := make([]T, D)
		acc := make([]T, 2*D)
		gammas[wk] = acc
		for r := lo; r < hi; r++ {
			b := r / L
			clear(gq)
			clear(gk)
			seg := func(v []T) []T { return v[r*D : (r+1)*D] }
			if pol.Rotates() {
				cs, sn := p.table(r, L)
				rotateAdjointAdd(gq, seg(dqr), cs, sn)
				rotateAdjointAdd(gk, seg(dkr), cs, sn)
				if p.far {
					rotateAdjointAdd(gq, seg(dqc), p.cosC, p.sinC)
					rotateAdjointAdd(gq, seg(dq0), nil, nil)
					rotateAdjointAdd(gk, seg(dkc), p.cosC, p.sinC)
					rotateAdjointAdd(gk, seg(dk0), nil, nil)
				}
			} else {
				copy(gq, seg(dqr))
				copy(gk, seg(dkr))
			}
			sc := p.sc[b]
			for i := range gq {
				gq[i] *= sc
			}
			qraw, kraw := seg(p.qraw), seg(p.kraw)
			if cos {
				cosScaleBackward(gq, qraw, p.alpha)
				cosScaleBackward(gk, kraw, 1)
			}
			z := a.X[r*W+2*a.E : r*W+2*a.E+D]
			dz := dx[r*W+2*a.E : r*W+2*a.E+D]
			for i := 0; i < D; i++ {
				dz[i] = gq[i]*a.GammaQ[i] + gk[i]*a.GammaK[i]
				acc[i] += gq[i] * z[i]
				acc[D+i] += gk[i] * z[i]
			}
		}
	})
	dgq := dx[rows*W : rows*W+D]
	dgk := dx[(rows+1)*W : (rows+1)*W+D]
	for _, acc := range gammas {
		if acc == nil {
			continue
		}
		addTo(dgq, acc[:D])
		addTo(dgk, acc[D:])
	}
	return nil
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
