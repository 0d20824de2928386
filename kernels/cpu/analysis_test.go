package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
)

// The blocks' logits, with the forward output's log-sum-exp, give the
// attention probabilities of the pair-by-pair reference, and cover every
// pair the reference gives a nonzero probability.
func TestLogitBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	const B, L, E, D = 2, 150, 3, 8
	for _, pol := range []attn.Policy{
		{Norm: attn.InfoScale, TrainLen: 16, KeySize: D, CosScale: 4},
		{Norm: attn.Softmax, TrainLen: 16, KeySize: D, Method: attn.StreamingLLM},
	} {
		pol = pol.WithDefaults()
		a := randAttention(rng, B, L, E, D, pol)
		OW := a.OutWidth()
		out := make([]float64, B*L*OW)
		if err := a.Forward(out); err != nil {
			t.Fatal(err)
		}
		got := make([]float64, B*L*L)
		err := a.LogitBlocks(func(lb *LogitBlock[float64]) error {
			for r := 0; r < lb.I1-lb.I0; r++ {
				row := lb.B*L + lb.I0 + r
				for c := 0; c < lb.J1-lb.J0; c++ {
					if v, ok := lb.At(r, c); ok {
						got[row*L+lb.J0+c] = math.Exp(v - out[row*OW+E])
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Reference rows: with v = one-hot columns the output O equals the
		// attention row itself, so compute it with E = L.
		ref := *a
		ref.E = L
		ref.X = make([]float64, B*L*(2*L+D))
		for r := 0; r < B*L; r++ {
			copy(ref.X[r*(2*L+D)+2*L:], a.X[r*a.Width()+2*E:r*a.Width()+2*E+D])
			ref.X[r*(2*L+D)+L+r%L] = 1 // v_j = e_j
		}
		probs, _ := refAttention(&ref)
		for r := 0; r < B*L; r++ {
			if a.Mask[r] == 0 {
				continue
			}
			for j := 0; j < L; j++ {
				if d := math.Abs(got[r*L+j] - probs[r*L+j]); d > 1e-12 {
					t.Fatalf("%v row %d key %d: probability %v from the blocks, reference %v", pol.Method, r, j, got[r*L+j], probs[r*L+j])
				}
			}
		}
	}
}

func TestVectors(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	pol := attn.Policy{Norm: attn.Softmax, TrainLen: 8, KeySize: 8, CosScale: 2}.WithDefaults()
	a := randAttention(rng, 1, 20, 3, 8, pol)
	q, k, qr, kr, err := a.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 20; r++ {
		var nq, nk, dot0, dotR float64
		for i := 0; i < 8; i++ {
			nq += q[r*8+i] * q[r*8+i]
			nk += k[r*8+i] * k[r*8+i]
		}
		// CosScale: |k| = 1, |q| = s·sqrt(d); rotation keeps norms.
		if math.Abs(math.Sqrt(nk)-1) > 1e-8 || math.Abs(math.Sqrt(nq)-2*math.Sqrt(8)) > 1e-8 {
			t.Fatalf("row %d: |q| %v |k| %v", r, math.Sqrt(nq), math.Sqrt(nk))
		}
		for i := 0; i < 8; i++ {
			dot0 += q[r*8+i] * k[r*8+i]
			dotR += qr[r*8+i] * kr[r*8+i]
		}
		// The same position rotates q and k alike: q·k is unchanged.
		if math.Abs(dot0-dotR) > 1e-9 {
			t.Fatalf("row %d: q·k %v before, %v after rotation at the same position", r, dot0, dotR)
		}
	}
}

// RoPE: with the same q and k at every position, q̃_i·k̃_j depends only on
// i-j; CosScale: the logit q·k/sqrt(d) equals s·cos(q, k) of the vectors
// before normalisation.
func TestRoPERelativeAndCosScaleLogit(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	const L, E, D, s = 30, 2, 8, 5.0
	pol := attn.Policy{Norm: attn.Softmax, TrainLen: 8, KeySize: D, CosScale: s}.WithDefaults()
	a := randAttention(rng, 1, L, E, D, pol)
	W := a.Width()
	for r := 1; r < L; r++ { // every row's z equals row 0's
		copy(a.X[r*W+2*E:r*W+2*E+D], a.X[2*E:2*E+D])
	}
	q, k, qr, kr, err := a.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	byDist := map[int]float64{}
	for i := 0; i < L; i++ {
		for j := 0; j < L; j++ {
			var v float64
			for c := 0; c < D; c++ {
				v += qr[i*D+c] * kr[j*D+c]
			}
			if w, ok := byDist[i-j]; ok && math.Abs(w-v) > 1e-9 {
				t.Fatalf("q̃_%d·k̃_%d = %v but another pair at distance %d gives %v", i, j, v, i-j, w)
			}
			byDist[i-j] = v
		}
	}
	// CosScale logit.
	z := a.X[2*E : 2*E+D]
	var qq, kk, qk float64
	for c := 0; c < D; c++ {
		qv, kv := z[c]*a.GammaQ[c], z[c]*a.GammaK[c]
		qq, kk, qk = qq+qv*qv, kk+kv*kv, qk+qv*kv
	}
	cos := qk / math.Sqrt(qq*kk)
	var logit float64
	for c := 0; c < D; c++ {
		logit += q[c] * k[c]
	}
	logit /= math.Sqrt(D)
	if math.Abs(logit-s*cos) > 1e-8 {
		t.Errorf("CosScale logit %v, want s·cos = %v", logit, s*cos)
	}
}
