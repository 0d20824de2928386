package attn_test

import (
	"math"
	"testing"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/kernels/cpu"
)

// TestALiBiPressPlacement runs the CPU attention kernel on two tokens with
// orthogonal unit keys and checks that the logits are Press et al.'s
// c(n)·(q·k/sqrt(d) − m·|i−j|): the kernel computes
// c(n)·(q·k + bias)/sqrt(d), and the policy's slope is m·sqrt(d).
//
// D = 4, z_0 = (1,0,0,0), z_1 = (0,1,0,0), γ = 1: q·k = 1 on the diagonal, 0
// off it, so row 0's logits are c·(1/2, −m). With v_0 = 1, v_1 = 0 the output
// of row 0 is p_00 = 1/(1 + exp(−c·(1/2 + m))). For m = 1/4 and softmax:
// 1/(1 + e^−0.75) = 0.6791786991753930; the released placement (bias before
// the /sqrt(d)) would give 1/(1 + e^−0.625) = 0.6513548646660542.
func TestALiBiPressPlacement(t *testing.T) {
	const D, m = 4, 0.25
	X := []float64{ // per row: u (1), v (1), z (4)
		0, 1, 1, 0, 0, 0,
		0, 0, 0, 1, 0, 0,
	}
	gamma := []float64{1, 1, 1, 1}
	run := func(p attn.Policy) float64 {
		t.Helper()
		a := &cpu.Attention[float64]{B: 1, L: 2, E: 1, D: D, X: X, GammaQ: gamma, GammaK: gamma, Policy: p.WithDefaults()}
		out := make([]float64, 2*a.OutWidth())
		if err := a.Forward(out); err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	press := attn.Policy{Norm: attn.Softmax, Method: attn.ALiBi, TrainLen: 2, KeySize: D, ALiBiSlope: attn.PressALiBiSlope(m, D)}
	if got := run(press); math.Abs(got-0.6791786991753930) > 1e-12 {
		t.Errorf("Press placement: p_00 = %.16f, want 0.6791786991753930", got)
	}
	released := press
	released.ALiBiSlope = m
	if got := run(released); math.Abs(got-0.6513548646660542) > 1e-12 {
		t.Errorf("released placement: p_00 = %.16f, want 0.6513548646660542", got)
	}
	// The normalisation multiplies the whole logit, bias included.
	info := press
	info.Norm, info.TrainLen = attn.InfoScale, 64
	c := attn.InfoScaleFactor(2, 64, D)
	if got, want := run(info), 1/(1+math.Exp(-c*(0.5+m))); math.Abs(got-want) > 1e-12 {
		t.Errorf("InfoScale: p_00 = %.16f, want %.16f (c = %v)", got, want, c)
	}
	// CosScale s: q·k/sqrt(d) becomes s·cos, so row 0's logits are (s, −m).
	cos := press
	cos.CosScale = 3
	if got, want := run(cos), 1/(1+math.Exp(-(3+m))); math.Abs(got-want) > 1e-9 {
		t.Errorf("CosScale 3: p_00 = %.16f, want %.16f", got, want)
	}
}

func TestALiBiDefaultSlope(t *testing.T) {
	p := attn.Policy{Method: attn.ALiBi, TrainLen: 64, KeySize: 64}.WithDefaults()
	if p.ALiBiSlope != 8.0/256 || p.ALiBiSlope/math.Sqrt(float64(p.KeySize)) != 1.0/256 {
		t.Fatalf("default slope %v (scaled %v), want 2^-8·sqrt(64) = 1/32 (2^-8)", p.ALiBiSlope, p.ALiBiSlope/math.Sqrt(float64(p.KeySize)))
	}
	if got := p.Bias(10, 3); got != -7.0/32 {
		t.Fatalf("bias of distance 7: %v, want −7/32", got)
	}
}
