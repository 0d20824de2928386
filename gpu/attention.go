//go:build gpu || gpuemu

package gpu

import (
	"fmt"
	"math"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/pipeline"
)

// Attention is the fused GAU attention of one layer over a batch, as
// cpu.Attention (see kernels/cuda/attention.cuh for the kernels and
// docs/gpu.md for the tiling):
//
//	q = z⊙γq, k = z⊙γk; CosScale; the policy's rotation;
//	a = c(n)·(m·q̃·k̃ + bias)/sqrt(d); mask; A = softmax(a); dropout(A); O = A·v
//
// with X = [u | v | z] of width 2E+D. The forward writes out [B·L, E+1] (O
// and the row log-sum-exp), each row OutStride elements after the last;
// the backward writes dx [B·L+2, 2E+D] (dX with zero u columns, then dγq
// and dγk), the layouts of the CPU op.
type Attention struct {
	B, L, E, D int
	// Policy is the attention configuration (defaults filled; KeySize = D).
	Policy attn.Policy
	// Dropout on the attention probabilities, with pipeline.Keep's mask for
	// (Key, Site, (b·L+i)·L+j).
	Dropout   float64
	Key, Site uint64
	// BF16: X is bfloat16 (forward only; γ stay float32).
	BF16 bool
	// CPT is the forward's output columns per thread, 1, 2, 3 or 6 (a block
	// covers 256·CPT of the E columns); 0 chooses from E and the grid size.
	CPT int
	// MatBF16 makes the materialised path (AttentionForwardMat,
	// AttentionBackwardMat) round the operands of its matrix products to
	// bfloat16 with a float32 X (BF16 implies it).
	MatBF16 bool
	// Group is the number of sequences whose L×L matrices the materialised
	// path holds at once (0: all B); see MatWorkspace.
	Group int
	// NoTensorCores keeps a bfloat16 forward on the CUDA cores
	// (gau_attn_fwd_bf16_c*) where the tensor-core kernel (gau_attn_fwd_tc_bf16_d*)
	// would run: a policy without a far rotation, no dropout, D of 16, 32,
	// 64 or 128. For tests and timings.
	NoTensorCores bool
	// OutStride is the row stride, in elements, of the forward's out and
	// the backward's dout: E+1 (0 takes it), or more so that every row
	// starts 16-byte aligned for cuBLAS (OutStrideFor). Columns past E are
	// neither read nor written.
	OutStride int
	// TCStages is the number of shared-memory stages of the tensor-core
	// forward's key tiles: 2 loads the next tile while computing on this
	// one (double buffering), 1 does not; 0 takes 2 where the device's
	// shared memory per block holds them (sm_90; sm_80 below D = 64), else
	// 1. For tests and timings.
	TCStages int
}

// tcStages returns the tensor-core forward's stages on a device allowing
// maxSmem bytes of shared memory per block.
func (a *Attention) tcStages(maxSmem int) (int, error) {
	switch a.TCStages {
	case 0:
		if attnFwdTCSmem(a.D, 2) <= maxSmem {
			return 2, nil
		}
		return 1, nil
	case 1, 2:
		return a.TCStages, nil
	}
	return 0, fmt.Errorf("gpu: attention: %d tensor-core stages, want 1 or 2 (0: the most that fit)", a.TCStages)
}

// tensorCores reports whether the forward runs gau_attn_fwd_tc_bf16_d*.
func (a *Attention) tensorCores(h *attnHost) bool {
	switch a.D {
	case 16, 32, 64, 128:
		return a.BF16 && !a.NoTensorCores && h.farW == 0 && h.thr == 0
	}
	return false
}

// AttentionInputs are the device buffers of one call.
type AttentionInputs struct {
	// X [B·L, 2E+D] (float32, or bfloat16 with Attention.BF16); γq, γk [D] float32.
	X, GammaQ, GammaK DevicePtr
	// Mask [B·L] int64, nonzero = valid key; 0: every key is valid.
	Mask DevicePtr
	// Pos [B·L] int64 rotation positions; 0: 0..L-1 in every sequence.
	Pos DevicePtr
	// Valid is n, the number of valid keys of each sequence (host; see
	// ValidCounts), which sets the normalisation factor c(n). nil: L each,
	// allowed only without a mask.
	Valid []int
}

// OutStrideFor returns the row stride of out and dout that makes every row
// start 16-byte aligned for cuBLAS, float32 and bfloat16 alike: E+1
// rounded up to a multiple of 8 (1544 for E = 1536, whose E+1 = 1537
// leaves all but one row in 16 misaligned).
func OutStrideFor(E int) int { return (E + 1 + 7) / 8 * 8 }

// ValidCounts returns the number of nonzero entries of each sequence of a
// host mask [B·L] (nil: L each).
func ValidCounts(mask []int, B, L int) []int {
	n := make([]int, B)
	for b := range n {
		if mask == nil {
			n[b] = L
			continue
		}
		for _, m := range mask[b*L : (b+1)*L] {
			if m != 0 {
				n[b]++
			}
		}
	}
	return n
}

const attnMaxD = 256

// attnHost is what the host computes for the kernels.
type attnHost struct {
	rows, W, OW, nv        int
	maskMode, radius, sink int
	farW                   int
	slope, alpha           float64
	thr                    uint64
	inv                    float64
	theta                  []float64
	sc, bscale             []float32
	polKey, scKey          string
}

func (a *Attention) host(valid []int, masked bool) (*attnHost, error) {
	switch {
	case a.B < 1 || a.L < 1 || a.E < 1 || a.D < 2 || a.D%2 != 0 || a.D > attnMaxD:
		return nil, fmt.Errorf("gpu: attention: bad dimensions B=%d L=%d E=%d D=%d (D even, at most %d)", a.B, a.L, a.E, a.D, attnMaxD)
	case a.B > 65535:
		return nil, fmt.Errorf("gpu: attention: batch %d above the grid limit 65535", a.B)
	case a.Policy.KeySize != a.D:
		return nil, fmt.Errorf("gpu: attention: policy key size %d != D = %d", a.Policy.KeySize, a.D)
	case !(a.Dropout >= 0 && a.Dropout < 1):
		return nil, fmt.Errorf("gpu: attention: dropout %v outside [0, 1)", a.Dropout)
	}
	pol := a.Policy
	if err := pol.Validate(); err != nil {
		return nil, err
	}
	if valid == nil {
		if masked {
			return nil, fmt.Errorf("gpu: attention: a mask needs the valid-key counts (AttentionInputs.Valid)")
		}
		valid = ValidCounts(nil, a.B, a.L)
	}
	if len(valid) != a.B {
		return nil, fmt.Errorf("gpu: attention: %d valid counts for %d sequences", len(valid), a.B)
	}
	h := &attnHost{rows: a.B * a.L, W: 2*a.E + a.D, OW: a.E + 1, nv: 1}
	switch {
	case a.OutStride > 0 && a.OutStride < a.E+1:
		return nil, fmt.Errorf("gpu: attention: out stride %d below E+1 = %d", a.OutStride, a.E+1)
	case a.OutStride > 0:
		h.OW = a.OutStride
	}
	switch pol.Method {
	case attn.StreamingLLM, attn.LMInfinite:
		h.maskMode, h.radius, h.sink = 1, pol.TrainLen-1, pol.Sinks
	case attn.Window:
		h.maskMode, h.radius = 2, pol.Window
	}
	if w, ok := pol.FarWindow(); ok {
		h.farW, h.nv = w, 3
	}
	if pol.HasBias() {
		h.slope = pol.ALiBiSlope
	}
	if pol.CosScale > 0 {
		h.alpha = pol.CosScale * math.Sqrt(float64(a.D))
	}
	h.thr = pipeline.DropThreshold(a.Dropout)
	h.inv = 1 / (1 - a.Dropout)
	h.theta = pol.Frequencies(a.L)
	h.polKey = fmt.Sprintf("%+v/L=%d", pol, a.L)
	mult := pol.LogitMultiplier(a.L)
	h.sc = make([]float32, a.B)
	h.bscale = make([]float32, a.B)
	var sk strings.Builder
	fmt.Fprintf(&sk, "%s/D=%d/n=", h.polKey, a.D)
	for b, n := range valid {
		if n < 1 || n > a.L {
			if n == 0 {
				return nil, fmt.Errorf("gpu: attention: sequence %d: %w (every key is padding)", b, attn.ErrEmptyRow)
			}
			return nil, fmt.Errorf("gpu: attention: sequence %d has %d valid keys of %d", b, n, a.L)
		}
		c := pol.Factor(n)
		h.sc[b] = float32(c * mult / math.Sqrt(float64(a.D)))
		h.bscale[b] = float32(c / math.Sqrt(float64(a.D)))
		fmt.Fprintf(&sk, "%d,", n)
	}
	h.scKey = sk.String()
	return h, nil
}

// The tensor-core forward's block: 256 threads (TC_THREADS of
// attention_tc.cu) for 64 query rows and 512 output columns (TC_EC).
const (
	tcThreads = 256
	tcCols    = 512
)

// Shared-memory sizes, as attn_fwd_smem_floats (attention_fwd.cu),
// attn_fwd_tc_smem_bytes (attention_tc.cu) and attn_bwd_smem_floats
// (attention_bwd.cu).
func attnFwdSmem(D, nv int) int { return 4 * (16*32 + 3*16 + nv*16*D + 32*(D+1)) }
func attnFwdTCSmem(D, stages int) int {
	return 2*(64*(D+8)+stages*64*(D+8)+stages*64*(512+8)+64*(64+8)) + 4*5*64 + 4*64
}
func attnBwdSmem(D int) int {
	const ch = 32*(64+4) + 64*(32+4) + 64*(32+4)
	return 4 * (ch + 2*32*32 + 2*32 + 64*(D+1))
}

// cpt chooses the forward's columns per thread: enough to cover E in one
// block column where possible, fewer (more blocks, each recomputing the
// logits) when the grid would not fill the device twice.
func (a *Attention) cpt(sms int) (int, error) {
	options := []int{1, 2, 3, 6}
	if a.CPT != 0 {
		for _, c := range options {
			if c == a.CPT {
				return c, nil
			}
		}
		return 0, fmt.Errorf("gpu: attention: CPT %d not in %v", a.CPT, options)
	}
	want := (a.E + 255) / 256
	i := len(options) - 1
	for j, c := range options {
		if c >= want {
			i = j
			break
		}
	}
	blocks := func(c int) int { return (a.L + 15) / 16 * ((a.E + 256*c - 1) / (256 * c)) * a.B }
	for i > 0 && blocks(options[i]) < 2*sms {
		i--
	}
	return options[i], nil
}

// prepLocked uploads the host parameters and runs attn_prep; it returns
// the device pointers the other kernels take.
type attnDev struct {
	theta, sc, bscale            DevicePtr
	qr, kr, qc, q0, kc, k0       DevicePtr
	dqr, dkr, dqc, dq0, dkc, dk0 DevicePtr
	delta                        DevicePtr
}

func (d *Device) attnPrepLocked(a *Attention, h *attnHost, in AttentionInputs, withGrad bool) (*attnDev, error) {
	var p attnDev
	var err error
	if h.theta != nil {
		if p.theta, err = constLocked(d, "theta/"+h.polKey, h.theta); err != nil {
			return nil, err
		}
	}
	if p.sc, err = constLocked(d, "sc/"+h.scKey, h.sc); err != nil {
		return nil, err
	}
	if p.bscale, err = constLocked(d, "bscale/"+h.scKey, h.bscale); err != nil {
		return nil, err
	}
	vec := h.rows * a.D * 4 // bytes of one [B·L, D] float32 buffer
	ws, err := d.scratchLocked("attn.qk", 2*h.nv*vec)
	if err != nil {
		return nil, err
	}
	p.qr, p.kr = ws, ws.Add(vec)
	if h.nv == 3 {
		p.qc, p.q0, p.kc, p.k0 = ws.Add(2*vec), ws.Add(3*vec), ws.Add(4*vec), ws.Add(5*vec)
	}
	if withGrad {
		g, err := d.scratchLocked("attn.dqk", 2*h.nv*vec)
		if err != nil {
			return nil, err
		}
		if err := d.drv.Memset32(g, 0, 2*h.nv*h.rows*a.D); err != nil {
			return nil, err
		}
		p.dqr, p.dkr = g, g.Add(vec)
		if h.nv == 3 {
			p.dqc, p.dq0, p.dkc, p.dk0 = g.Add(2*vec), g.Add(3*vec), g.Add(4*vec), g.Add(5*vec)
		}
		if p.delta, err = d.scratchLocked("attn.delta", 4*h.rows); err != nil {
			return nil, err
		}
	}
	prep := "gau_attn_prep_f32"
	if a.BF16 {
		prep = "gau_attn_prep_bf16"
	}
	grid := [3]int{min((h.rows+7)/8, 1<<16), 1, 1}
	err = d.launchLocked(prep, grid, block256, 0, &attnPrepArgs{QR: p.qr, KR: p.kr, QC: p.qc, Q0: p.q0, KC: p.kc, K0: p.k0,
		X: in.X, GQ: in.GammaQ, GK: in.GammaK, Pos: in.Pos, Theta: p.theta, SC: p.sc,
		Rows: int64(h.rows), L: int64(a.L), E: int64(a.E), D: int64(a.D), FarW: int64(h.farW), Alpha: h.alpha})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// AttentionForward writes O and the row log-sum-exp into out [B·L, E+1].
// A valid query row with no key in reach is reported by CheckErrors
// (attn.ErrEmptyRow); a padding row with none gets zeros.
func (d *Device) AttentionForward(a *Attention, in AttentionInputs, out DevicePtr) error {
	h, err := a.host(in.Valid, in.Mask != 0)
	if err != nil {
		return err
	}
	// Devices with less shared memory per block than one stage needs (the
	// 99 KiB of sm_86 and sm_89 at D = 128) run the CUDA-core kernel.
	tc := a.tensorCores(h) && attnFwdTCSmem(a.D, 1) <= d.info.MaxSharedOptin
	cpt, err := a.cpt(d.info.SMs)
	if err != nil {
		return err
	}
	eblocks := (a.E + 256*cpt - 1) / (256 * cpt)
	if tc {
		eblocks = (a.E + tcCols - 1) / tcCols
	}
	if eblocks > 65535 {
		return fmt.Errorf("gpu: attention: E = %d needs %d column blocks (limit 65535)", a.E, eblocks)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.attnPrepLocked(a, h, in, false)
	if err != nil {
		return err
	}
	if tc {
		stages, err := a.tcStages(d.info.MaxSharedOptin)
		if err != nil {
			return err
		}
		// k̃ in bfloat16, which the kernel's tiles copy as they are.
		n := h.rows * a.D
		k16, err := d.scratchLocked("attn.k16", 2*n)
		if err != nil {
			return err
		}
		if err := d.toBF16Locked(k16, p.kr, n); err != nil {
			return err
		}
		grid := [3]int{(a.L + 63) / 64, eblocks, a.B}
		return d.launchLocked(fmt.Sprintf("gau_attn_fwd_tc_bf16_d%d_s%d", a.D, stages), grid, [3]int{tcThreads, 1, 1},
			attnFwdTCSmem(a.D, stages), &attnFwdTCArgs{Out: out, Err: d.flag(flagAttention), X: in.X, QR: p.qr, K16: k16,
				Mask: in.Mask, BScale: p.bscale, L: int64(a.L), E: int64(a.E), MaskMode: int64(h.maskMode),
				Radius: int64(h.radius), Sinks: int64(h.sink), Slope: h.slope, OW: int64(h.OW)})
	}
	name := fmt.Sprintf("gau_attn_fwd_f32_c%d", cpt)
	if a.BF16 {
		name = fmt.Sprintf("gau_attn_fwd_bf16_c%d", cpt)
	}
	grid := [3]int{(a.L + 15) / 16, eblocks, a.B}
	return d.launchLocked(name, grid, block256, attnFwdSmem(a.D, h.nv), &attnFwdArgs{Out: out, Err: d.flag(flagAttention),
		X: in.X, QR: p.qr, KR: p.kr, QC: p.qc, Q0: p.q0, KC: p.kc, K0: p.k0, Mask: in.Mask, BScale: p.bscale,
		L: int64(a.L), E: int64(a.E), D: int64(a.D), MaskMode: int64(h.maskMode), Radius: int64(h.radius),
		Sinks: int64(h.sink), FarW: int64(h.farW), Slope: h.slope, Thr: h.thr, InvKeep: h.inv, Key: a.Key, Site: a.Site,
		OW: int64(h.OW)})
}

// AttentionBackward writes the gradient with respect to X, γq and γk into
// dx [B·L+2, 2E+D] (rows 0..B·L-1: dX with zero u columns; row B·L: dγq,
// row B·L+1: dγk, in their first D columns; the rest zero) from the
// forward's out and its gradient dout (only the first E columns read).
// dq̃ and dγ are summed with atomicAdd, so the last bits can vary from run
// to run.
func (d *Device) AttentionBackward(a *Attention, in AttentionInputs, out, dout, dx DevicePtr) error {
	if a.BF16 {
		return fmt.Errorf("gpu: attention backward takes a float32 X")
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
	p, err := d.attnPrepLocked(a, h, in, true)
	if err != nil {
		return err
	}
	if err := d.attnBwdDeltaLocked(a, h, p, out, dout); err != nil {
		return err
	}
	err = d.launchLocked("gau_attn_bwd_main", [3]int{(a.L + 31) / 32, a.B, 1}, block256, attnBwdSmem(a.D),
		&attnBwdMainArgs{DQR: p.dqr, DKR: p.dkr, DQC: p.dqc, DQ0: p.dq0, DKC: p.dkc, DK0: p.dk0, DX: dx,
			Out: out, DOut: dout, Delta: p.delta, X: in.X, QR: p.qr, KR: p.kr, QC: p.qc, Q0: p.q0, KC: p.kc, K0: p.k0,
			Mask: in.Mask, BScale: p.bscale, L: int64(a.L), E: int64(a.E), D: int64(a.D), MaskMode: int64(h.maskMode),
			Radius: int64(h.radius), Sinks: int64(h.sink), FarW: int64(h.farW), Slope: h.slope, Thr: h.thr,
			InvKeep: h.inv, Key: a.Key, Site: a.Site, OW: int64(h.OW)})
	if err != nil {
		return err
	}
	return d.attnBwdPostLocked(a, h, in, p, dx)
}

// attnBwdDeltaLocked launches gau_attn_bwd_delta: δ_r = dO_r·O_r.
func (d *Device) attnBwdDeltaLocked(a *Attention, h *attnHost, p *attnDev, out, dout DevicePtr) error {
	return d.launchLocked("gau_attn_bwd_delta", [3]int{min((h.rows+7)/8, 1<<16), 1, 1}, block256, 0,
		&attnBwdDeltaArgs{Delta: p.delta, Out: out, DOut: dout, Rows: int64(h.rows), E: int64(a.E), OW: int64(h.OW)})
}

// attnBwdPostLocked launches gau_attn_bwd_post: dz and dγ from dq̃, dk̃.
func (d *Device) attnBwdPostLocked(a *Attention, h *attnHost, in AttentionInputs, p *attnDev, dx DevicePtr) error {
	return d.launchLocked("gau_attn_bwd_post", [3]int{min((h.rows+7)/8, 1024), 1, 1}, block256, 0,
		&attnBwdPostArgs{DX: dx, DQR: p.dqr, DKR: p.dkr, DQC: p.dqc, DQ0: p.dq0, DKC: p.dkc, DK0: p.dk0, X: in.X,
			GQ: in.GammaQ, GK: in.GammaK, Pos: in.Pos, Theta: p.theta, SC: p.sc, Rows: int64(h.rows), L: int64(a.L),
			E: int64(a.E), D: int64(a.D), FarW: int64(h.farW), Alpha: h.alpha})
}
