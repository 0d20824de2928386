//go:build gpu || gpuemu

package graphexec

import (
	"fmt"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/graph"
)

// AttentionPath names how the device computes an attention op.
type AttentionPath string

// The paths (docs/gpu.md, "The two attention paths").
const (
	// AttentionAuto lets the executor choose per op: by measuring the
	// eligible paths at the first run of each shape (attention_measure.go),
	// or where nothing can be timed by attentionPath's rule.
	AttentionAuto AttentionPath = "auto"
	// AttentionFused runs the fused streaming kernels (gpu.Device's
	// AttentionForward and AttentionBackward): nothing L×L is stored, the
	// tiles a window removes are skipped.
	AttentionFused AttentionPath = "fused"
	// AttentionMaterialized stores the L×L matrices of a group of
	// sequences and runs the products on cuBLAS (AttentionForwardMat,
	// AttentionBackwardMat).
	AttentionMaterialized AttentionPath = "materialized"
)

// ParseAttentionPath parses auto, fused or materialized ("" is auto).
func ParseAttentionPath(s string) (AttentionPath, error) {
	switch p := AttentionPath(s); p {
	case "":
		return AttentionAuto, nil
	case AttentionAuto, AttentionFused, AttentionMaterialized:
		return p, nil
	}
	return "", fmt.Errorf("unknown attention path %q (auto, fused or materialized)", s)
}

// AttentionChoice is the path the executor took for one attention op.
type AttentionChoice struct {
	// Op is the op's description (graph.AttentionOp's or
	// graph.AttentionGradOp's String).
	Op   string
	Path AttentionPath // AttentionFused or AttentionMaterialized
	// Group is the number of sequences whose L×L matrices the
	// materialised path holds at once, Workspace the bytes that takes.
	Group     int
	Workspace int
	// Reason says why, in a few words.
	Reason string
	// Timings are the measured milliseconds of each path (a training
	// graph's forward and backward together); nil when the path was not
	// measured (forced, or the rule decided).
	Timings map[AttentionPath]float64
}

// String returns the path's name.
func (p AttentionPath) String() string { return string(p) }

// pathRequest is what attentionPath decides from.
type pathRequest struct {
	op   graph.AttentionOp
	grad bool // the backward op
	bf16 bool // bfloat16 materialised products (-precision bf16), forward and backward
	// fusedBF16: the fused forward reads a bfloat16 X (-precision bf16 in
	// a graph without gradients).
	fusedBF16 bool
	mode      AttentionPath // auto, or the path forced
	budget    int64         // bytes the materialised path's workspace may take
	outStride int           // row stride of out and dout (0: E+1)
}

// windowRemovesPairs reports whether the policy's mask removes pairs at
// length L (a windowed, StreamingLLM or LM-Infinite policy with L-1 beyond
// its radius).
func windowRemovesPairs(p attn.Policy, L int) bool {
	switch p.Method {
	case attn.Window:
		return L-1 > p.Window
	case attn.StreamingLLM, attn.LMInfinite:
		return L-1 > p.TrainLen-1
	}
	return false
}

// attentionPath chooses the path of one attention op:
//
//   - forced (mode fused or materialized): that path; the materialised one
//     holds as many sequences at once as fit the budget, at least one.
//   - auto, a policy whose window removes pairs at this length: fused. Its
//     kernels skip the tiles outside the window (work ∝ L·window), where the
//     materialised path computes all L² pairs and drops most.
//   - auto, a bfloat16 forward the fused tensor-core kernel runs (no far
//     rotation, no dropout, d of 16, 32, 64 or 128): fused. It computes
//     the logits and P·V on tensor cores in one pass without storing
//     L×L; its bound is at least the materialised path's (docs/gpu.md).
//   - auto, one sequence's workspace over the budget: fused.
//   - auto otherwise: materialised, with the largest group of sequences
//     whose workspace fits the budget. ReRoPE with pairs beyond its window
//     w takes three logit products instead of one (2·L²·3d against
//     2·L²·d), still small beside P·V's 2·L²·d_v.
func attentionPath(r pathRequest) (AttentionChoice, error) {
	op := r.op
	c := AttentionChoice{Op: op.String(), Path: AttentionFused}
	pol := op.Policy
	if pol.KeySize == 0 {
		pol.KeySize = op.D
	}
	at := &gpu.Attention{B: op.B, L: op.L, E: op.E, D: op.D, Policy: pol, Dropout: op.Dropout, MatBF16: r.bf16, OutStride: r.outStride}
	workspace := func(g int) (int, error) {
		at.Group = g
		return at.MatWorkspace(r.grad)
	}
	// fit is the largest group whose workspace is within the budget (0:
	// none), and its workspace.
	fit := func() (int, int, error) {
		lo, hi := 0, op.B // workspace(lo) fits (lo = 0: vacuously)
		for lo < hi {
			mid := (lo + hi + 1) / 2
			w, err := workspace(mid)
			if err != nil {
				return 0, 0, err
			}
			if int64(w) <= r.budget {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		if lo == 0 {
			return 0, 0, nil
		}
		w, err := workspace(lo)
		return lo, w, err
	}
	mib := func(b int) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	switch r.mode {
	case AttentionFused:
		c.Reason = "forced (-attention fused)"
		return c, nil
	case AttentionMaterialized:
		g, w, err := fit()
		if err != nil {
			return c, err
		}
		c.Reason = "forced (-attention materialized)"
		if g == 0 {
			g = 1
			if w, err = workspace(1); err != nil {
				return c, err
			}
			c.Reason += fmt.Sprintf("; one sequence's %s exceeds the budget of %s", mib(w), mib(int(r.budget)))
		}
		c.Path, c.Group, c.Workspace = AttentionMaterialized, g, w
		return c, nil
	case AttentionAuto, "":
	default:
		return c, fmt.Errorf("unknown attention path %q (auto, fused or materialized)", r.mode)
	}
	if windowRemovesPairs(pol, op.L) {
		c.Reason = fmt.Sprintf("the %s window removes pairs at L = %d: the fused kernels skip them", pol.Method, op.L)
		return c, nil
	}
	if _, far := pol.FarWindow(); r.fusedBF16 && !r.grad && !far && op.Dropout == 0 && tensorCoreD(op.D) {
		c.Reason = "the fused bfloat16 forward runs on tensor cores"
		return c, nil
	}
	g, w, err := fit()
	if err != nil {
		return c, err
	}
	if g == 0 {
		w1, err := workspace(1)
		if err != nil {
			return c, err
		}
		c.Reason = fmt.Sprintf("one sequence's L×L matrices take %s, over the budget of %s", mib(w1), mib(int(r.budget)))
		return c, nil
	}
	c.Path, c.Group, c.Workspace = AttentionMaterialized, g, w
	c.Reason = fmt.Sprintf("%d of %d sequences at a time fit the budget (%s of %s)", g, op.B, mib(w), mib(int(r.budget)))
	return c, nil
}

// AttentionChoices returns the path the machine runs for each of its
// attention ops, in plan order.
func (m *Machine) AttentionChoices() []AttentionChoice {
	return append([]AttentionChoice(nil), m.attention...)
}

// tensorCoreD reports whether the fused tensor-core forward is built for
// key size d (gau_attn_fwd_tc_bf16_d*).
func tensorCoreD(d int) bool { return d == 16 || d == 32 || d == 64 || d == 128 }
