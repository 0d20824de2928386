package cpu

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/internal/bf16"
	"github.com/infoscale/gaualpha/pipeline"
)

// refAttention computes the attention output O and the row log-sum-exp with
// full L×L matrices, pair by pair, straight from the formulas: the reference
// the blocked kernel is checked against.
func refAttention(a *Attention[float64]) (o, lse []float64) { return refAttentionRounded(a, false) }

// refAttentionRounded is refAttention with, when round is set, the
// operands of its products rounded to bfloat16 as Attention.BF16 says: the
// scaled rotated q̃ and the rotated k̃ of each pair's logit, the normalised
// dropped P and V.
func refAttentionRounded(a *Attention[float64], round bool) (o, lse []float64) {
	rb := func(v float64) float64 {
		if round {
			return float64(bf16.Round(float32(v)))
		}
		return v
	}
	B, L, E, D, W := a.B, a.L, a.E, a.D, a.Width()
	pol := a.Policy
	o = make([]float64, B*L*E)
	lse = make([]float64, B*L)
	freqs := pol.Frequencies(L)
	rot := func(x []float64, pos int) []float64 {
		out := make([]float64, D)
		half := D / 2
		for i := 0; i < half; i++ {
			s, c := math.Sincos(float64(pos) * freqs[i])
			out[i] = x[2*i]*c - x[2*i+1]*s
			out[half+i] = x[2*i]*s + x[2*i+1]*c
		}
		return out
	}
	vec := func(r int, gamma []float64, alpha float64) []float64 {
		v := make([]float64, D)
		var n float64
		for i := range v {
			v[i] = a.X[r*W+2*E+i] * gamma[i]
			n += v[i] * v[i]
		}
		if pol.CosScale > 0 {
			n = math.Sqrt(n)
			for i := range v {
				v[i] = v[i] / (n + 1e-9) * alpha
			}
		}
		return v
	}
	thr := pipeline.DropThreshold(a.Dropout)
	for b := 0; b < B; b++ {
		valid := func(j int) bool { return a.Mask == nil || a.Mask[b*L+j] != 0 }
		n := 0
		for j := 0; j < L; j++ {
			if valid(j) {
				n++
			}
		}
		pos := func(i int) int {
			if a.Pos != nil {
				return a.Pos[b*L+i]
			}
			return i
		}
		c := pol.Factor(n)
		m := pol.LogitMultiplier(L)
		w, _ := pol.FarWindow()
		for i := 0; i < L; i++ {
			q := vec(b*L+i, a.GammaQ, pol.CosScale*math.Sqrt(float64(D)))
			logits := make([]float64, L)
			mx := math.Inf(-1)
			for j := 0; j < L; j++ {
				if !valid(j) || !pol.Keep(i, j) {
					logits[j] = math.Inf(-1)
					continue
				}
				k := vec(b*L+j, a.GammaK, 1)
				var qq, kk []float64
				switch {
				case !pol.Rotates():
					qq, kk = q, k
				case pol.Far(i, j) && j < i:
					qq, kk = rot(q, w-1), rot(k, 0)
				case pol.Far(i, j):
					qq, kk = rot(q, 0), rot(k, w-1)
				default:
					qq, kk = rot(q, pos(i)), rot(k, pos(j))
				}
				var s float64
				if round {
					// The kernel's q̃ carries the logit scale.
					sc := c * m / math.Sqrt(float64(D))
					for t := range qq {
						s += rb(sc*qq[t]) * rb(kk[t])
					}
					logits[j] = s + c*pol.Bias(i, j)/math.Sqrt(float64(D))
				} else {
					for t := range qq {
						s += qq[t] * kk[t]
					}
					logits[j] = c * (m*s + pol.Bias(i, j)) / math.Sqrt(float64(D))
				}
				mx = math.Max(mx, logits[j])
			}
			if math.IsInf(mx, -1) { // a padding row with no key in reach
				continue
			}
			var sum float64
			for j := range logits {
				sum += math.Exp(logits[j] - mx)
			}
			lse[b*L+i] = mx + math.Log(sum)
			for j := range logits {
				p := math.Exp(logits[j]-mx) / sum
				if thr != 0 {
					idx := (uint64(b)*uint64(L)+uint64(i))*uint64(L) + uint64(j)
					if pipeline.Keep(a.Key, a.Site, idx, thr) {
						p /= 1 - a.Dropout
					} else {
						p = 0
					}
				}
				p = rb(p)
				for e := 0; e < E; e++ {
					o[(b*L+i)*E+e] += p * rb(a.X[(b*L+j)*W+E+e])
				}
			}
		}
	}
	return o, lse
}

func randAttention(rng *rand.Rand, B, L, E, D int, pol attn.Policy) *Attention[float64] {
	a := &Attention[float64]{B: B, L: L, E: E, D: D, Policy: pol}
	a.X = make([]float64, B*L*a.Width())
	for i := range a.X {
		a.X[i] = rng.NormFloat64()
	}
	a.GammaQ = make([]float64, D)
	a.GammaK = make([]float64, D)
	for i := 0; i < D; i++ {
		a.GammaQ[i] = 1 + 0.3*rng.NormFloat64()
		a.GammaK[i] = 1 + 0.3*rng.NormFloat64()
	}
	a.Mask = make([]int, B*L)
	for b := 0; b < B; b++ {
		n := L - b*(L/3) // the second sequence is padded
		for i := 0; i < n; i++ {
			a.Mask[b*L+i] = 1
		}
	}
	return a
}

func policies(n0, d int) []attn.Policy {
	var out []attn.Policy
	for _, m := range []attn.Method{attn.RoPE, attn.PI, attn.NTK, attn.YaRN, attn.PoSE, attn.ALiBi,
		attn.StreamingLLM, attn.LMInfinite, attn.ReRoPE, attn.Window} {
		for _, nm := range []attn.Norm{attn.Softmax, attn.SoftmaxPlus, attn.InfoScale} {
			for _, cs := range []float64{0, 3} {
				p := attn.Policy{Norm: nm, TrainLen: n0, KeySize: d, CosScale: cs, Method: m, Window: 20, ALiBiSlope: 0.05}
				out = append(out, p.WithDefaults())
			}
		}
	}
	return out
}

func maxRelDiff(got, want []float64) float64 {
	var worst float64
	for i := range want {
		d := math.Abs(got[i]-want[i]) / math.Max(1, math.Abs(want[i]))
		worst = math.Max(worst, d)
	}
	return worst
}

// L = 300 spans two query blocks of full attention (256 rows), five of the
// masking methods (64 rows) and three key blocks, so the online softmax,
// block classification and partial blocks are all exercised.
func TestAttentionForwardMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const B, L, E, D = 2, 300, 5, 8
	for _, pol := range policies(24, D) {
		for _, drop := range []float64{0, 0.3} {
			name := fmt.Sprintf("%s/%s/cos=%v/drop=%v", pol.Method, pol.Norm, pol.CosScale, drop)
			t.Run(name, func(t *testing.T) {
				a := randAttention(rng, B, L, E, D, pol)
				a.Dropout, a.Key, a.Site = drop, 77, 5
				if pol.Method == attn.PoSE {
					a.Pos = make([]int, B*L)
					for r := range a.Pos {
						a.Pos[r] = (r%L)*3 + r/L // skip-wise, distinct per sequence
					}
				}
				out := make([]float64, B*L*a.OutWidth())
				if err := a.Forward(out); err != nil {
					t.Fatal(err)
				}
				o, lse := refAttention(a)
				got := make([]float64, 0, len(o))
				gotLSE := make([]float64, 0, len(lse))
				for r := 0; r < B*L; r++ {
					got = append(got, out[r*(E+1):r*(E+1)+E]...)
					gotLSE = append(gotLSE, out[r*(E+1)+E])
				}
				if d := maxRelDiff(got, o); d > 1e-12 {
					t.Errorf("O differs from the reference by %g", d)
				}
				if d := maxRelDiff(gotLSE, lse); d > 1e-12 {
					t.Errorf("log-sum-exp differs from the reference by %g", d)
				}
			})
		}
	}
}

// attnLoss is Σ O ⊙ R, the scalar whose gradient the backward computes.
func attnLoss(t *testing.T, a *Attention[float64], R []float64) float64 {
	out := make([]float64, a.B*a.L*a.OutWidth())
	if err := a.Forward(out); err != nil {
		t.Fatal(err)
	}
	var s float64
	for r := 0; r < a.B*a.L; r++ {
		for e := 0; e < a.E; e++ {
			s += out[r*a.OutWidth()+e] * R[r*a.E+e]
		}
	}
	return s
}

func TestAttentionBackwardFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const B, L, E, D = 2, 300, 4, 8
	for _, pol := range policies(24, D) {
		for _, drop := range []float64{0, 0.25} {
			if drop != 0 && pol.Norm != attn.InfoScale {
				continue
			}
			name := fmt.Sprintf("%s/%s/cos=%v/drop=%v", pol.Method, pol.Norm, pol.CosScale, drop)
			t.Run(name, func(t *testing.T) {
				a := randAttention(rng, B, L, E, D, pol)
				a.Dropout, a.Key, a.Site = drop, 9, 1
				OW, W := a.OutWidth(), a.Width()
				R := make([]float64, B*L*E)
				for i := range R {
					R[i] = rng.NormFloat64()
				}
				out := make([]float64, B*L*OW)
				if err := a.Forward(out); err != nil {
					t.Fatal(err)
				}
				dout := make([]float64, B*L*OW)
				for r := 0; r < B*L; r++ {
					copy(dout[r*OW:r*OW+E], R[r*E:(r+1)*E])
				}
				dx := make([]float64, (B*L+2)*W)
				if err := a.Backward(out, dout, dx); err != nil {
					t.Fatal(err)
				}
				check := func(what string, x []float64, i int, analytic float64) {
					const h = 1e-5
					old := x[i]
					x[i] = old + h
					fp := attnLoss(t, a, R)
					x[i] = old - h
					fm := attnLoss(t, a, R)
					x[i] = old
					num := (fp - fm) / (2 * h)
					if d := math.Abs(num-analytic) / math.Max(1, math.Abs(num)); d > 1e-6 {
						t.Errorf("%s[%d]: analytic %.9g, numeric %.9g", what, i, analytic, num)
					}
				}
				// A sample of X entries: v and z columns of valid and padded rows.
				for n := 0; n < 10; n++ {
					r := rng.IntN(B * L)
					c := E + rng.IntN(E+D)
					check("X", a.X, r*W+c, dx[r*W+c])
				}
				for i := 0; i < D; i += 2 {
					check("gammaQ", a.GammaQ, i, dx[B*L*W+i])
					check("gammaK", a.GammaK, i+1, dx[(B*L+1)*W+i+1])
				}
				for r := 0; r < B*L; r++ {
					for c := 0; c < E; c++ {
						if dx[r*W+c] != 0 {
							t.Fatalf("u column gradient %v, want 0 (the gate owns it)", dx[r*W+c])
						}
					}
				}
			})
		}
	}
}

func TestAttentionFloat32MatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const B, L, E, D = 2, 130, 6, 16
	pol := attn.Policy{Norm: attn.InfoScale, TrainLen: 32, KeySize: D, CosScale: 4, Method: attn.ReRoPE}.WithDefaults()
	a64 := randAttention(rng, B, L, E, D, pol)
	a32 := &Attention[float32]{B: B, L: L, E: E, D: D, Policy: pol, Mask: a64.Mask,
		X: f32(a64.X), GammaQ: f32(a64.GammaQ), GammaK: f32(a64.GammaK)}
	out64 := make([]float64, B*L*a64.OutWidth())
	out32 := make([]float32, B*L*a32.OutWidth())
	if err := a64.Forward(out64); err != nil {
		t.Fatal(err)
	}
	if err := a32.Forward(out32); err != nil {
		t.Fatal(err)
	}
	if d := maxRelDiff(f64(out32), out64); d > 1e-5 {
		t.Errorf("float32 forward differs from float64 by %g", d)
	}
}

// With BF16 the forward is the reference with the same rounding (its
// products summed in float64 here, so to float64 rounding: a product
// operand the two round to different bfloat16 values would show as 1e-3),
// and differs from the unrounded forward by bfloat16's error (about 4e-3
// per operand). The backward, which rounds its products' operands too, is
// within bfloat16's error of the unrounded one and not equal to it.
func TestAttentionBF16(t *testing.T) {
	const B, L, E, D = 2, 150, 5, 8
	for _, pc := range []struct {
		pol     attn.Policy
		dropout float64
	}{
		{attn.Policy{Norm: attn.Softmax, TrainLen: 64, KeySize: D, Method: attn.RoPE}.WithDefaults(), 0},
		{attn.Policy{Norm: attn.InfoScale, TrainLen: 64, KeySize: D, CosScale: 3, Method: attn.ReRoPE, Window: 20}.WithDefaults(), 0.2},
		{attn.Policy{Norm: attn.SoftmaxPlus, TrainLen: 64, KeySize: D, Method: attn.ALiBi, ALiBiSlope: 0.05}.WithDefaults(), 0},
		{attn.Policy{Norm: attn.Softmax, TrainLen: 64, KeySize: D, Method: attn.StreamingLLM}.WithDefaults(), 0.1},
	} {
		t.Run(fmt.Sprintf("%s-%s-p%g", pc.pol.Method, pc.pol.Norm, pc.dropout), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			a := randAttention(rng, B, L, E, D, pc.pol)
			a.Dropout, a.Key, a.Site = pc.dropout, 99, 3
			plain := make([]float64, B*L*a.OutWidth())
			if err := a.Forward(plain); err != nil {
				t.Fatal(err)
			}
			a.BF16 = true
			out := make([]float64, B*L*a.OutWidth())
			if err := a.Forward(out); err != nil {
				t.Fatal(err)
			}
			o, lse := refAttentionRounded(a, true)
			var gotO, gotL, plainO []float64
			for r := 0; r < B*L; r++ {
				gotO = append(gotO, out[r*(E+1):r*(E+1)+E]...)
				plainO = append(plainO, plain[r*(E+1):r*(E+1)+E]...)
				gotL = append(gotL, out[r*(E+1)+E])
			}
			if d := maxRelDiff(gotO, o); d > 1e-9 {
				t.Errorf("O differs from the rounded reference by %g", d)
			}
			if d := maxRelDiff(gotL, lse); d > 1e-9 {
				t.Errorf("lse differs from the rounded reference by %g", d)
			}
			if d := maxRelDiff(gotO, plainO); !(d > 1e-4 && d < 5e-2) {
				t.Errorf("O differs from the unrounded forward by %g, want in (1e-4, 5e-2)", d)
			}

			dout := make([]float64, len(out))
			for i := range dout {
				dout[i] = rng.NormFloat64()
			}
			W := a.Width()
			dx := make([]float64, (B*L+2)*W)
			if err := a.Backward(out, dout, dx); err != nil {
				t.Fatal(err)
			}
			a.BF16 = false
			want := make([]float64, len(dx))
			if err := a.Backward(out, dout, want); err != nil {
				t.Fatal(err)
			}
			var num, den float64
			for i := range want {
				num += (dx[i] - want[i]) * (dx[i] - want[i])
				den += want[i] * want[i]
			}
			if e := math.Sqrt(num / den); !(e > 1e-4 && e < 5e-2) {
				t.Errorf("backward differs from the unrounded one by %.2g (normwise), want in (1e-4, 5e-2)", e)
			}
		})
	}
}

func TestAttentionRejectsEmptyRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pol := attn.Policy{Norm: attn.Softmax, TrainLen: 8, KeySize: 4}.WithDefaults()
	a := randAttention(rng, 1, 10, 3, 4, pol)
	clear(a.Mask)
	out := make([]float64, 10*a.OutWidth())
	err := a.Forward(out)
	if !errors.Is(err, attn.ErrEmptyRow) {
		t.Fatalf("all-padding sequence: got %v, want ErrEmptyRow", err)
	}
	// A 0-wide window keeps only the diagonal: each valid row attends to
	// itself alone, so O_i = v_i exactly; padding rows have no key in reach
	// and are defined as zero.
	wp := attn.Policy{Norm: attn.InfoScale, TrainLen: 8, KeySize: 4, Method: attn.Window}.WithDefaults()
	wp.Window = 0
	a = randAttention(rng, 1, 10, 3, 4, wp)
	for i := range a.Mask {
		a.Mask[i] = 1
	}
	a.Mask[0] = 0
	if err := a.Forward(out); err != nil {
		t.Fatal(err)
	}
	W, OW := a.Width(), a.OutWidth()
	for i := 0; i < 10; i++ {
		for e := 0; e < 3; e++ {
			want := a.X[i*W+3+e]
			if i == 0 {
				want = 0
			}
			if got := out[i*OW+e]; math.Abs(got-want) > 1e-15 {
				t.Errorf("row %d col %d: got %v, want %v", i, e, got, want)
			}
		}
	}
}

func f32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func f64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}
