//go:build gpu || gpuemu

package gpu

import "fmt"

// The materialised attention: the same function as AttentionForward and
// AttentionBackward (the same inputs, outputs and layouts), computed with
// the L×L matrices of a group of sequences stored in a caller's workspace,
// the products on cuBLAS (strided-batched over the group) and the kernels
// of kernels/cuda/attention_mat.cu between them:
//
//	forward   prep; S_v = Q_v·K_vᵀ; softmax (mask, bias, lse, dropout) → P;
//	          O = P·V
//	backward  prep; δ = rowsum(dO ⊙ O); S_v; P (the forward's lse);
//	          dV = Pᵀ·dO; dP = dO·Vᵀ; dS = P ⊙ (dP − δ) by variant;
//	          dq̃_v = dS_v·K_v; dk̃_v = dS_vᵀ·Q_v; post
//
// v runs over the rotation variants with pairs at this length: near
// (qr·krᵀ) always, and with a far window w ≤ L−1 (ReRoPE, LM-Infinite)
// behind (qc·k0ᵀ) and ahead (q0·kcᵀ), three products where the fused
// kernels compute each pair's one. Masks and ALiBi's bias are applied
// element by element in the softmax: every pair is computed, the masked
// ones then dropped, so a windowed method pays for all L² pairs (the
// fused kernels skip the tiles the window removes).
//
// With Attention.BF16 (bfloat16 X, forward only) or Attention.MatBF16
// (float32 X) the products read bfloat16 operands (q̃, k̃, P, V, dO and dS
// rounded) and accumulate in float32; S, dP and the other kernels' inputs
// and outputs stay float32.

// matWorkAlign aligns each region of the workspace.
const matWorkAlign = 256

// matLD is the row stride of the L×L matrices (S, P, dP, dS) in the
// workspace: L rounded up to a multiple of 8, so that every row handed to
// cuBLAS starts 16-byte aligned, in float32 and in bfloat16.
func matLD(L int) int { return (L + 7) / 8 * 8 }

// matLayout places the regions of the materialised path's workspace, in
// bytes from its start (-1: absent).
type matLayout struct {
	nv          int    // rotation variants with pairs: 1 or 3
	group       int    // sequences per group
	s           [3]int // S_v, float32 [g·L·L] each
	p           int    // P (bfloat16 products: bf16; else float32); -1 in a float32 forward (P is S_0)
	dp          int    // dP, float32, bfloat16 backward only (else P's region)
	ds1, ds2    int    // dS behind and ahead, bfloat16 backward with three variants (else S_1, S_2)
	qk16        int    // the prep's vectors in bfloat16
	x16, dout16 int    // X and dO in bfloat16 (float32 X)
	total       int
}

// matBF16 reports whether the materialised products read bfloat16.
func (a *Attention) matBF16() bool { return a.BF16 || a.MatBF16 }

// matVariants is 3 when the policy has a far window with pairs at this
// length, else 1.
func (a *Attention) matVariants(h *attnHost) int {
	if h.farW > 0 && a.L-1 >= h.farW {
		return 3
	}
	return 1
}

func (a *Attention) matGroup() (int, error) {
	switch {
	case a.Group < 0 || a.Group > a.B:
		return 0, fmt.Errorf("gpu: attention: group of %d sequences outside [0, B = %d]", a.Group, a.B)
	case a.Group == 0:
		return a.B, nil
	}
	return a.Group, nil
}

func (a *Attention) matLayout(h *attnHost, backward bool) (matLayout, error) {
	g, err := a.matGroup()
	if err != nil {
		return matLayout{}, err
	}
	l := matLayout{nv: a.matVariants(h), group: g, s: [3]int{-1, -1, -1}, p: -1, dp: -1, ds1: -1, ds2: -1, qk16: -1, x16: -1, dout16: -1}
	at := 0
	place := func(bytes int) int {
		off := at
		at += (bytes + matWorkAlign - 1) / matWorkAlign * matWorkAlign
		return off
	}
	e := g * a.L * matLD(a.L) // elements of one L×L matrix of the group (rows padded)
	gb := a.matBF16()
	for v := range l.nv {
		l.s[v] = place(4 * e)
	}
	switch {
	case gb:
		l.p = place(2 * e)
	case backward:
		l.p = place(4 * e)
	}
	if backward && gb {
		l.dp = place(4 * e)
		if l.nv == 3 {
			l.ds1, l.ds2 = place(2*e), place(2*e)
		}
	}
	if gb {
		l.qk16 = place(2 * 2 * h.nv * h.rows * a.D)
		if !a.BF16 {
			l.x16 = place(2 * h.rows * h.W)
		}
		if backward {
			l.dout16 = place(2 * h.rows * h.OW)
		}
	}
	l.total = at
	return l, nil
}

// MatWorkspace returns the bytes of device memory AttentionForwardMat
// (backward false) or AttentionBackwardMat (backward true) needs for a
// (its work argument): the L×L matrices of Group sequences (0: all B) and,
// for bfloat16 products, the rounded copies of the operands.
func (a *Attention) MatWorkspace(backward bool) (int, error) {
	h, err := a.host(nil, false)
	if err != nil {
		return 0, err
	}
	l, err := a.matLayout(h, backward)
	return l.total, err
}

// matCall is what one materialised call has worked out: the layout, the
// prep's vectors (float32, and the product operands in the products'
// element type) and the group loop.
type matCall struct {
	a    *Attention
	h    *attnHost
	l    matLayout
	ld   int // row stride of the L×L matrices (matLD)
	p    *attnDev
	work DevicePtr
	gb   bool
	el   int          // bytes of a product operand: 2 or 4
	q, k [3]DevicePtr // operands of S_v = Q_v·K_vᵀ
}

func (d *Device) matSetupLocked(a *Attention, h *attnHost, in AttentionInputs, work DevicePtr, backward bool) (*matCall, error) {
	l, err := a.matLayout(h, backward)
	if err != nil {
		return nil, err
	}
	if work == 0 && l.total > 0 {
		return nil, fmt.Errorf("gpu: attention: the materialised path needs a workspace of %d bytes", l.total)
	}
	p, err := d.attnPrepLocked(a, h, in, backward)
	if err != nil {
		return nil, err
	}
	c := &matCall{a: a, h: h, l: l, ld: matLD(a.L), p: p, work: work, gb: a.matBF16(), el: 4}
	c.q = [3]DevicePtr{p.qr, p.qc, p.q0}
	c.k = [3]DevicePtr{p.kr, p.k0, p.kc}
	if c.gb {
		// The prep's vectors are contiguous from qr: one rounding.
		c.el = 2
		n := 2 * h.nv * h.rows * a.D
		q16 := c.at(l.qk16)
		if err := d.toBF16Locked(q16, p.qr, n); err != nil {
			return nil, err
		}
		half := func(x DevicePtr) DevicePtr { return q16.Add(int(x-p.qr) / 2) }
		for v := range l.nv {
			c.q[v], c.k[v] = half(c.q[v]), half(c.k[v])
		}
	}
	return c, nil
}

// at returns the workspace address of a region.
func (c *matCall) at(off int) DevicePtr { return c.work.Add(off) }

// round writes n float32 values at x as bfloat16 into the region at off.
func (d *Device) matRoundLocked(c *matCall, off int, x DevicePtr, n int) (DevicePtr, error) {
	dst := c.at(off)
	return dst, d.toBF16Locked(dst, x, n)
}

// scores computes S_v = Q_v·K_vᵀ for the g sequences from b0.
func (d *Device) matScoresLocked(c *matCall, b0, g int) error {
	L, D := c.a.L, c.a.D
	for v := range c.l.nv {
		off := b0 * L * D * c.el
		if err := d.gemmBatchedLocked(c.gb, false, true, L, L, D, 1, c.q[v].Add(off), D, L*D, c.k[v].Add(off), D, L*D,
			0, c.at(c.l.s[v]), c.ld, L*c.ld, g); err != nil {
			return err
		}
	}
	return nil
}

// softmax launches gau_attn_mat_softmax_* for the g sequences from b0 into P.
func (d *Device) matSoftmaxLocked(c *matCall, in AttentionInputs, out, P DevicePtr, b0, g int, readLSE bool) error {
	a, h := c.a, c.h
	name := "gau_attn_mat_softmax_f32"
	if c.gb {
		name = "gau_attn_mat_softmax_bf16"
	}
	s := c.sPtrs()
	return d.launchLocked(name, rowGrid(g*a.L), block256, 0, &attnMatSoftmaxArgs{P: P, Out: out,
		Err: d.flag(flagAttention), S0: s[0], S1: s[1], S2: s[2], Mask: in.Mask, BScale: c.p.bscale,
		B0: int64(b0), G: int64(g), L: int64(a.L), E: int64(a.E), MaskMode: int64(h.maskMode), Radius: int64(h.radius),
		Sinks: int64(h.sink), FarW: int64(h.farW), Slope: h.slope, Thr: h.thr, InvKeep: h.inv, Key: a.Key, Site: a.Site,
		ReadLSE: int64(boolInt(readLSE)), OW: int64(h.OW), LD: int64(c.ld)})
}

// sPtrs returns the S_v regions (0 for absent variants).
func (c *matCall) sPtrs() [3]DevicePtr {
	var s [3]DevicePtr
	for v := range c.l.nv {
		s[v] = c.at(c.l.s[v])
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AttentionForwardMat is AttentionForward on the materialised path: it
// writes O and the row log-sum-exp into out [B·L, E+1] (the same empty-row
// rule), using work, a device buffer of MatWorkspace(false) bytes.
func (d *Device) AttentionForwardMat(a *Attention, in AttentionInputs, out, work DevicePtr) error {
	h, err := a.host(in.Valid, in.Mask != 0)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.matSetupLocked(a, h, in, work, false)
	if err != nil {
		return err
	}
	L, E, W, OW := a.L, a.E, h.W, h.OW
	v := in.X.Add(4 * E) // V [B·L, E] with row stride W, in the products' type
	switch {
	case a.BF16:
		v = in.X.Add(2 * E)
	case c.gb:
		x16, err := d.matRoundLocked(c, c.l.x16, in.X, h.rows*W)
		if err != nil {
			return err
		}
		v = x16.Add(2 * E)
	}
	P := c.at(c.l.s[0]) // float32: over S_0
	if c.gb {
		P = c.at(c.l.p)
	}
	for b0 := 0; b0 < a.B; b0 += c.l.group {
		g := min(c.l.group, a.B-b0)
		if err := d.matScoresLocked(c, b0, g); err != nil {
			return err
		}
		if err := d.matSoftmaxLocked(c, in, out, P, b0, g, false); err != nil {
			return err
		}
		if err := d.gemmBatchedLocked(c.gb, false, false, L, E, L, 1, P, c.ld, L*c.ld, v.Add(b0*L*W*c.el), W, L*W,
			0, out.Add(4*b0*L*OW), OW, L*OW, g); err != nil {
			return err
		}
	}
	return nil
}

// AttentionBackwardMat is AttentionBackward on the materialised path: it
// writes dx [B·L+2, 2E+D] from the forward's out and its gradient dout,
// using work, a device buffer of MatWorkspace(true) bytes. X is float32
// (Attention.MatBF16 rounds the products' operands).
func (d *Device) AttentionBackwardMat(a *Attention, in AttentionInputs, out, dout, dx, work DevicePtr) error {
	if a.BF16 {
		return fmt.Errorf("gpu: attention backward takes a float32 X (MatBF16 rounds the products' operands)")
	}
	h, err := a.host(in.Valid, in.Mask != 0)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.drv.Memset32(dx, 0, (h.rows+2)*h.W); err != nil {
		return err
	}
	c, err := d.matSetupLocked(a, h, in, work, true)
	if err != nil {
		return err
	}
	p, l := c.p, c.l
	L, E, D, W, OW := a.L, a.E, a.D, h.W, h.OW
	if err := d.attnBwdDeltaLocked(a, h, p, out, dout); err != nil {
		return err
	}
	v, dO := in.X.Add(4*E), dout
	if c.gb {
		x16, err := d.matRoundLocked(c, l.x16, in.X, h.rows*W)
		if err != nil {
			return err
		}
		v = x16.Add(2 * E)
		if dO, err = d.matRoundLocked(c, l.dout16, dout, h.rows*OW); err != nil {
			return err
		}
	}
	P, dP := c.at(l.p), c.at(l.p) // float32: dPd over Pd once dV has read it
	s := c.sPtrs()
	ds := s // float32: dS_v over S_v
	if c.gb {
		dP = c.at(l.dp)
		ds = [3]DevicePtr{P, 0, 0}
		if l.nv == 3 {
			ds[1], ds[2] = c.at(l.ds1), c.at(l.ds2)
		}
	}
	dq := [3]DevicePtr{p.dqr, p.dqc, p.dq0}
	dk := [3]DevicePtr{p.dkr, p.dk0, p.dkc}
	dsName := "gau_attn_mat_ds_f32"
	if c.gb {
		dsName = "gau_attn_mat_ds_bf16"
	}
	for b0 := 0; b0 < a.B; b0 += l.group {
		g := min(l.group, a.B-b0)
		if err := d.matScoresLocked(c, b0, g); err != nil {
			return err
		}
		if err := d.matSoftmaxLocked(c, in, out, P, b0, g, true); err != nil {
			return err
		}
		dOg, vg := dO.Add(b0*L*OW*c.el), v.Add(b0*L*W*c.el)
		// dV = Pdᵀ·dO into dx's v columns.
		if err := d.gemmBatchedLocked(c.gb, true, false, L, E, L, 1, P, c.ld, L*c.ld, dOg, OW, L*OW,
			0, dx.Add(4*(b0*L*W+E)), W, L*W, g); err != nil {
			return err
		}
		// dPd = dO·Vᵀ.
		if err := d.gemmBatchedLocked(c.gb, false, true, L, L, E, 1, dOg, OW, L*OW, vg, W, L*W,
			0, dP, c.ld, L*c.ld, g); err != nil {
			return err
		}
		if err := d.launchLocked(dsName, rowGrid(g*L), block256, 0, &attnMatDSArgs{DS0: ds[0], DS1: ds[1], DS2: ds[2],
			S0: s[0], S1: s[1], S2: s[2], DP: dP, Out: out, Delta: p.delta, Mask: in.Mask, BScale: p.bscale,
			B0: int64(b0), G: int64(g), L: int64(L), E: int64(E), MaskMode: int64(h.maskMode), Radius: int64(h.radius),
			Sinks: int64(h.sink), FarW: int64(h.farW), Slope: h.slope, Thr: h.thr, InvKeep: h.inv, Key: a.Key,
			Site: a.Site, OW: int64(h.OW), LD: int64(c.ld)}); err != nil {
			return err
		}
		// dq̃_v = dS_v·K_v, dk̃_v = dS_vᵀ·Q_v.
		for vi := range l.nv {
			off, goff := b0*L*D*c.el, 4*b0*L*D
			if err := d.gemmBatchedLocked(c.gb, false, false, L, D, L, 1, ds[vi], c.ld, L*c.ld, c.k[vi].Add(off), D, L*D,
				0, dq[vi].Add(goff), D, L*D, g); err != nil {
				return err
			}
			if err := d.gemmBatchedLocked(c.gb, true, false, L, D, L, 1, ds[vi], c.ld, L*c.ld, c.q[vi].Add(off), D, L*D,
				0, dk[vi].Add(goff), D, L*D, g); err != nil {
				return err
			}
		}
	}
	return d.attnBwdPostLocked(a, h, in, p, dx)
}
