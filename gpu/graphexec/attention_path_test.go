//go:build gpu || gpuemu

package graphexec

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/internal/numcheck"
)

// TestAttentionPath is attentionPath's table: the paper layer's shapes
// (d = 128, d_v = 1536) with budgets around their workspaces, worked out
// by hand from the layout of gpu.Attention.MatWorkspace (float32: S, and in
// the backward P, 4 bytes per element of each L×L matrix; bfloat16
// products: P 2 bytes and the rounded operands).
func TestAttentionPath(t *testing.T) {
	const D, E = 128, 1536
	const GiB = 1 << 30
	pol := func(m attn.Method, n0 int) attn.Policy {
		return attn.Policy{Norm: attn.InfoScale, TrainLen: n0, KeySize: D, Method: m}.WithDefaults()
	}
	op := func(B, L int, p attn.Policy) graph.AttentionOp {
		return graph.AttentionOp{B: B, L: L, E: E, D: D, Policy: p, Dropout: 0.1}
	}
	sq := func(L int) int { return L * L }
	cases := []struct {
		name   string
		req    pathRequest
		path   AttentionPath
		group  int
		work   int    // bytes; 0: not checked (fused)
		reason string // a part of the reason
	}{
		{"rope L=1024 B=8 forward", pathRequest{op: op(8, 1024, pol(attn.RoPE, 512)), mode: AttentionAuto, budget: 20 * GiB},
			AttentionMaterialized, 8, 4 * 8 * sq(1024), "8 of 8"},
		{"rope L=16384 B=8 forward, 4 GiB", pathRequest{op: op(8, 16384, pol(attn.RoPE, 512)), mode: AttentionAuto, budget: 4 * GiB},
			AttentionMaterialized, 4, 4 * 4 * sq(16384), "4 of 8"},
		{"rope L=16384 backward, 1 GiB", pathRequest{op: op(1, 16384, pol(attn.RoPE, 512)), grad: true, mode: AttentionAuto, budget: GiB},
			AttentionFused, 0, 0, "2048.0 MiB, over the budget"},
		{"rope L=4096 backward", pathRequest{op: op(2, 4096, pol(attn.RoPE, 512)), grad: true, mode: AttentionAuto, budget: GiB},
			AttentionMaterialized, 2, 2 * 4 * 2 * sq(4096), "2 of 2"},
		{"rerope L=4096: three logit products", pathRequest{op: op(1, 4096, pol(attn.ReRoPE, 512)), mode: AttentionAuto, budget: GiB},
			AttentionMaterialized, 1, 3 * 4 * sq(4096), "1 of 1"},
		{"window 64 at L=1024", pathRequest{op: op(1, 1024, pol(attn.Window, 512)), mode: AttentionAuto, budget: GiB},
			AttentionFused, 0, 0, "window removes pairs"},
		{"window 64 at L=65", pathRequest{op: op(1, 65, pol(attn.Window, 512)), mode: AttentionAuto, budget: GiB},
			AttentionMaterialized, 1, (4*65*72 + 255) / 256 * 256, "1 of 1"}, // rows padded to 72, regions 256-byte aligned
		{"streamingllm at L = n0", pathRequest{op: op(1, 512, pol(attn.StreamingLLM, 512)), mode: AttentionAuto, budget: GiB},
			AttentionMaterialized, 1, 4 * sq(512), "1 of 1"},
		{"streamingllm at L = n0+1", pathRequest{op: op(1, 513, pol(attn.StreamingLLM, 512)), mode: AttentionAuto, budget: GiB},
			AttentionFused, 0, 0, "streamingllm window"},
		{"lminfinite L=4096", pathRequest{op: op(1, 4096, pol(attn.LMInfinite, 512)), mode: AttentionAuto, budget: GiB},
			AttentionFused, 0, 0, "lminfinite window"},
		{"bf16 forward: P and the rounded operands", pathRequest{op: op(1, 1024, pol(attn.RoPE, 512)), bf16: true, mode: AttentionAuto, budget: GiB},
			AttentionMaterialized, 1, 4*sq(1024) + 2*sq(1024) + 2*2*1024*D + 2*1024*(2*E+D), "1 of 1"},
		{"bf16 forward without dropout: the fused tensor-core kernel", pathRequest{op: graph.AttentionOp{B: 1, L: 1024, E: E, D: D, Policy: pol(attn.RoPE, 512)}, bf16: true, fusedBF16: true, mode: AttentionAuto, budget: GiB},
			AttentionFused, 0, 0, "tensor cores"},
		{"bf16 training forward without dropout: the fused forward is float32 there", pathRequest{op: graph.AttentionOp{B: 1, L: 1024, E: E, D: D, Policy: pol(attn.RoPE, 512)}, bf16: true, mode: AttentionAuto, budget: GiB},
			AttentionMaterialized, 1, 4*sq(1024) + 2*sq(1024) + 2*2*1024*D + 2*1024*(2*E+D), "1 of 1"},
		{"bf16 backward: P, dP and the rounded operands", pathRequest{op: op(1, 1024, pol(attn.RoPE, 512)), grad: true, bf16: true, mode: AttentionAuto, budget: GiB},
			AttentionMaterialized, 1, 4*sq(1024) + 2*sq(1024) + 4*sq(1024) + 2*2*1024*D + 2*1024*(2*E+D) + 2*1024*(E+1), "1 of 1"},
		{"bf16 ReRoPE forward without dropout", pathRequest{op: graph.AttentionOp{B: 1, L: 1024, E: E, D: D, Policy: pol(attn.ReRoPE, 512)}, bf16: true, fusedBF16: true, mode: AttentionAuto, budget: GiB},
			AttentionMaterialized, 1, 3*4*sq(1024) + 2*sq(1024) + 2*2*3*1024*D + 2*1024*(2*E+D), "1 of 1"},
		{"forced fused", pathRequest{op: op(1, 1024, pol(attn.RoPE, 512)), mode: AttentionFused, budget: GiB},
			AttentionFused, 0, 0, "forced"},
		{"forced materialized with a window", pathRequest{op: op(2, 1024, pol(attn.Window, 512)), mode: AttentionMaterialized, budget: GiB},
			AttentionMaterialized, 2, 2 * 4 * sq(1024), "forced"},
		{"forced materialized over the budget", pathRequest{op: op(2, 16384, pol(attn.RoPE, 512)), mode: AttentionMaterialized, budget: GiB / 2},
			AttentionMaterialized, 1, 4 * sq(16384), "exceeds the budget"},
		{"empty mode is auto", pathRequest{op: op(1, 64, pol(attn.RoPE, 512)), budget: GiB},
			AttentionMaterialized, 1, 4 * sq(64), "1 of 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := attentionPath(c.req)
			if err != nil {
				t.Fatal(err)
			}
			if got.Path != c.path || got.Group != c.group || (c.work != 0 && got.Workspace != c.work) {
				t.Errorf("%s, group %d, workspace %d; want %s, group %d, workspace %d (%s)", got.Path, got.Group, got.Workspace, c.path, c.group, c.work, got.Reason)
			}
			if !strings.Contains(got.Reason, c.reason) {
				t.Errorf("reason %q lacks %q", got.Reason, c.reason)
			}
		})
	}
	if _, err := attentionPath(pathRequest{op: op(1, 64, pol(attn.RoPE, 512)), mode: "tiled", budget: GiB}); err == nil {
		t.Error("unknown path: no error")
	}
	for _, s := range []string{"", "auto", "fused", "materialized"} {
		if _, err := ParseAttentionPath(s); err != nil {
			t.Errorf("ParseAttentionPath(%q): %v", s, err)
		}
	}
	if _, err := ParseAttentionPath("materialised"); err == nil {
		t.Error(`ParseAttentionPath("materialised"): no error`)
	}
}

// TestModelMaterialized runs the whole model with the attention path
// forced to materialized (StreamingLLM too, whose window auto would leave
// to the fused kernels) against the CPU machine: the training graph's loss,
// logits and every gradient, and the inference graph's logits (gated
// attention) within 1e-4; every attention op reports the materialised
// path. Under -precision bf16 the inference graph's products read bfloat16
// (within 2e-2 of the float32 CPU, and not equal to it); forcing fused
// reports fused for every op.
func TestModelMaterialized(t *testing.T) {
	d := testDevice(t)
	const tol = 1e-4
	for _, pc := range policyCases() {
		t.Run(pc.name, func(t *testing.T) {
			cfg := tinyConfig()
			const B, L, M = 2, 24, 6
			rng := rand.New(rand.NewPCG(9, 9))
			p := gau.InitParams(cfg, tensor.Float32, rng)
			res := NewResident(d)
			res.Attention = AttentionMaterialized
			t.Cleanup(func() { res.Close() })
			pol := pc.pol(cfg)
			bt := tinyBatch(rng, cfg, B, L, M, pc.pose)
			paths := func(m *Machine, want AttentionPath) {
				t.Helper()
				ch := m.AttentionChoices()
				if len(ch) == 0 {
					t.Fatal("no attention op")
				}
				for _, c := range ch {
					if c.Path != want {
						t.Errorf("%s: %s (%s), want %s", c.Op, c.Path, c.Reason, want)
					}
				}
			}

			lm, dm := buildBoth(t, res, cfg, p, gau.Options{Shape: gau.Shape{B: B, L: L, M: M}, Policy: pol, Train: true, Loss: true, Grad: true})
			dm.M.Poison = true
			paths(dm.M, AttentionMaterialized)
			must(t, lm.Run(bt))
			must(t, dm.Run(bt))
			wantLoss, err := lm.LossValue()
			must(t, err)
			loss, err := dm.LossValue()
			must(t, err)
			if e := math.Abs(loss-wantLoss) / math.Abs(wantLoss); !(e < tol) {
				t.Errorf("loss %v, CPU %v (relative error %.2g)", loss, wantLoss, e)
			}
			logits, err := dm.LogitsValue(nil)
			must(t, err)
			if e := numcheck.RelErr(logits, f32(lm.Value(lm.Logits))); !(e < tol) {
				t.Errorf("logits: relative error %.2g", e)
			}
			named := p.Named()
			for i, g := range lm.Grads {
				want := f32(lm.Value(g))
				got := make([]float32, len(want))
				must(t, dm.M.Download(g, got))
				if e := numcheck.RelErr(got, want); !(e < tol) {
					t.Errorf("gradient of %s: relative error %.2g", named[i].Name, e)
				}
			}

			inf := gau.Options{Shape: gau.Shape{B: B, L: L, M: M}, Policy: pol}
			em, de := buildBoth(t, res, cfg, p, inf)
			de.M.Poison = true
			paths(de.M, AttentionMaterialized)
			must(t, em.Run(bt))
			must(t, de.Run(bt))
			want := append([]float32(nil), f32(em.Value(em.Logits))...)
			got, err := de.LogitsValue(nil)
			must(t, err)
			if e := numcheck.RelErr(got, want); !(e < tol) {
				t.Errorf("inference logits: relative error %.2g", e)
			}

			bres := NewResident(d)
			bres.BF16, bres.Attention = true, AttentionMaterialized
			t.Cleanup(func() { bres.Close() })
			_, be := buildBoth(t, bres, cfg, p, inf)
			must(t, be.Run(bt))
			got, err = be.LogitsValue(nil)
			must(t, err)
			if e := numcheck.RelErr(got, want); !(e > 0 && e < 2e-2) {
				t.Errorf("inference logits, bf16: relative error %.2g, want in (0, 2e-2)", e)
			}

			fres := NewResident(d)
			fres.Attention = AttentionFused
			t.Cleanup(func() { fres.Close() })
			_, fe := buildBoth(t, fres, cfg, p, inf)
			paths(fe.M, AttentionFused)
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
