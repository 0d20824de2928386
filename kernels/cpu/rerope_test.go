package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/attn"
)

// ReRoPE's logits equal plain RoPE's inside the window and the fixed
// clamped rule outside: (R(w-1)q_i)·(R(0)k_j) for keys behind, and
// (R(0)q_i)·(R(w-1)k_j) for keys ahead.
func TestReRoPELogits(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const L, E, D, w = 40, 3, 8, 6
	rr := attn.Policy{Norm: attn.Softmax, TrainLen: 16, KeySize: D, Method: attn.ReRoPE, ReRoPEWindow: w}.WithDefaults()
	rope := rr
	rope.Method = attn.RoPE
	a := randAttention(rng, 1, L, E, D, rr)
	for i := range a.Mask {
		a.Mask[i] = 1
	}
	logits := func(pol attn.Policy) []float64 {
		a.Policy = pol
		p, err := a.prepare(new(workspace[float64]), false)
		if err != nil {
			t.Fatal(err)
		}
		ws := newBlockScratch[float64](E)
		a.scores(p, ws, 0, 0, L, 0, L, pol.Classify(0, L, 0, L), true)
		out := make([]float64, L*L)
		for i := 0; i < L; i++ {
			copy(out[i*L:(i+1)*L], ws.s[i*L:(i+1)*L])
		}
		return out
	}
	got, plain := logits(rr), logits(rope)
	theta := rr.Frequencies(L)
	rot := func(x []float64, pos int) []float64 {
		out := make([]float64, D)
		for i := 0; i < D/2; i++ {
			s, c := math.Sincos(float64(pos) * theta[i])
			out[i] = x[2*i]*c - x[2*i+1]*s
			out[D/2+i] = x[2*i]*s + x[2*i+1]*c
		}
		return out
	}
	vec := func(r int, g []float64) []float64 {
		v := make([]float64, D)
		for i := range v {
			v[i] = a.X[r*a.Width()+2*E+i] * g[i]
		}
		return v
	}
	far := 0
	for i := 0; i < L; i++ {
		for j := 0; j < L; j++ {
			g := got[i*L+j]
			if abs(i-j) < w {
				if math.Abs(g-plain[i*L+j]) > 1e-12 {
					t.Fatalf("(%d,%d) inside the window: ReRoPE %v, RoPE %v", i, j, g, plain[i*L+j])
				}
				continue
			}
			far++
			var q, k []float64
			if j < i {
				q, k = rot(vec(i, a.GammaQ), w-1), rot(vec(j, a.GammaK), 0)
			} else {
				q, k = rot(vec(i, a.GammaQ), 0), rot(vec(j, a.GammaK), w-1)
			}
			var want float64
			for t := range q {
				want += q[t] * k[t]
			}
			want /= math.Sqrt(D)
			if math.Abs(g-want) > 1e-12 {
				t.Fatalf("(%d,%d) outside the window: %v, want %v", i, j, g, want)
			}
			if math.Abs(g-plain[i*L+j]) < 1e-9 {
				t.Fatalf("(%d,%d): clamped logit equals the unclamped one", i, j)
			}
		}
	}
	if far == 0 {
		t.Fatal("no pair outside the window")
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
