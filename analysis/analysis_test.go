package analysis

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/testfiles"
	"github.com/infoscale/gaualpha/study"
)

// tinyModel is testfiles.AnalysisModel.
func tinyModel(t *testing.T, cosscale float64, seed uint64, edit func(*gau.Params)) Model {
	return Model{Dir: fmt.Sprintf("runs/ck%g/best", cosscale), Checkpoint: testfiles.AnalysisModel(t, cosscale, seed, edit)}
}

func loadTiny(t *testing.T, cosscale float64, edit func(*gau.Params)) Model {
	return tinyModel(t, cosscale, 5, edit)
}

// cpuProbe is NewProbe on the CPU, closed with the test.
func cpuProbe(t *testing.T, m Model, pol attn.Policy, L int) *Probe {
	t.Helper()
	p, err := NewProbe(backend.Default(), m, pol, L)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func randomDoc(n int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 9))
	doc := make([]int, n)
	for i := range doc {
		doc[i] = 5 + rng.IntN(26)
	}
	return doc
}

// With γq = 0 every query is the zero vector, every logit 0 and every row
// uniform over the L keys: the entropy is ln L for every row, layer,
// normalisation and length.
func TestEntropyOfUniformRowsIsLnN(t *testing.T) {
	zeroQ := func(p *gau.Params) {
		for _, lp := range p.Layers {
			clear(lp.GammaQ.Data().([]float32))
		}
	}
	cases := []struct {
		cosscale float64
		lengths  []int
	}{
		{0, []int{2, 16, 100}},
		{8, []int{16, 200}}, // CosScale: q/(|q|+1e-9) stays 0
	}
	for _, c := range cases {
		ck := loadTiny(t, c.cosscale, zeroQ)
		docs := [][]int{randomDoc(50, 1), randomDoc(7, 2)}
		stats, _, err := Entropy(backend.Default(), ck, docs, []string{"softmax", "softmax_plus", "infoscale"}, c.lengths, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if len(stats) != 3*len(c.lengths)*(ck.Config.NumLayers+1) {
			t.Fatalf("%d statistics", len(stats))
		}
		for _, s := range stats {
			if want := math.Log(float64(s.Length)); math.Abs(s.Mean-want) > 1e-5 || s.Std > 1e-5 || s.Rows == 0 {
				t.Errorf("s=%g %s layer %d L=%d: entropy %v ± %v over %d rows, want ln L = %v", c.cosscale, s.Norm, s.Layer, s.Length, s.Mean, s.Std, s.Rows, want)
			}
		}
	}
	// A trained-like (random) model is below the maximum: the test can fail.
	ck := loadTiny(t, 0, nil)
	stats, _, err := Entropy(backend.Default(), ck, [][]int{randomDoc(64, 3)}, []string{"softmax"}, []int{64}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s := stats[len(stats)-1]; s.Mean >= math.Log(64)-1e-3 {
		t.Errorf("random model: entropy %v, want below ln 64 = %v", s.Mean, math.Log(64))
	}
}

// Windowed attention with window w puts all of every row's mass within ±w.
func TestBandMassOfWindowedAttentionIsOne(t *testing.T) {
	ck := loadTiny(t, 0, nil)
	cases := []struct{ L, w int }{{40, 0}, {40, 3}, {130, 16}, {300, 64}}
	for _, c := range cases {
		t.Run(fmt.Sprintf("L=%d,w=%d", c.L, c.w), func(t *testing.T) {
			pol, err := WindowPolicy(ck, "", c.w)
			if err != nil {
				t.Fatal(err)
			}
			f := cpuProbe(t, ck, pol, c.L)
			if err := f.Run(randomDoc(c.L, 4)); err != nil {
				t.Fatal(err)
			}
			for l := 0; l < ck.Config.NumLayers; l++ {
				_, m, err := f.layerRows(l, []int{c.w, max(0, c.w-1)})
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range m[0] {
					if math.Abs(v-1) > 1e-5 {
						t.Fatalf("layer %d row %d: mass %v within ±%d, want 1", l, i, v, c.w)
					}
				}
				// A narrower band misses some mass (w > 0).
				if c.w > 0 && slices.Max(m[1]) > 1-1e-6 && slices.Min(m[1]) > 1-1e-6 {
					t.Errorf("layer %d: all mass within ±%d already", l, c.w-1)
				}
			}
		})
	}
	// Full attention has mass outside a narrow band.
	pol, _ := ck.Config.Policy("")
	f := cpuProbe(t, ck, pol, 100)
	if err := f.Run(randomDoc(100, 5)); err != nil {
		t.Fatal(err)
	}
	_, m, err := f.layerRows(0, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	if mean := meanOf(m[0]); mean > 0.9 {
		t.Errorf("full attention: mean mass %v within ±3 of 100 keys", mean)
	}
}

func meanOf(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// The attention probabilities recomputed pair by pair (for the weighted
// cosine histograms) have the entropy rowStats reports.
func TestAttentionRowMatchesKernel(t *testing.T) {
	cases := []struct {
		cosscale float64
		norm     string
		method   attn.Method
		window   int
	}{
		{0, "softmax", attn.RoPE, 0},
		{8, "infoscale", attn.RoPE, 0},
		{4, "softmax_plus", attn.ALiBi, 0},
		{0, "softmax", attn.Window, 5},
		{2, "infoscale", attn.YaRN, 0},
		{0, "softmax", attn.StreamingLLM, 0},
	}
	const L = 150
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_%s_s%g", c.method, c.norm, c.cosscale), func(t *testing.T) {
			ck := loadTiny(t, c.cosscale, nil)
			pol, err := ck.Config.Policy(c.norm)
			if err != nil {
				t.Fatal(err)
			}
			pol.Method = c.method
			if c.window > 0 {
				pol.Window = c.window
			}
			pol = pol.WithDefaults()
			if !pairAttention(pol) {
				t.Fatalf("%v: no pair attention", c.method)
			}
			f := cpuProbe(t, ck, pol, L)
			if err := f.Run(randomDoc(L, 6)); err != nil {
				t.Fatal(err)
			}
			a, out, err := f.Attention(1)
			if err != nil {
				t.Fatal(err)
			}
			h, _, err := rowStats(a, out, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _, qr, kr, err := a.Vectors()
			if err != nil {
				t.Fatal(err)
			}
			D := ck.Config.KeySize
			qru, qn, _ := unitRows(qr, L, D)
			kru, kn, _ := unitRows(kr, L, D)
			scale, bscale := logitScales(pol, L, D)
			post, p := make([]float64, L), make([]float64, L)
			for i := 0; i < L; i++ {
				for j := 0; j < L; j++ {
					post[j] = dot64(qru[i*D:(i+1)*D], kru[j*D:(j+1)*D])
				}
				attentionRow(p, i, post, qn[i], kn, scale, bscale, pol)
				var ent, sum float64
				for _, v := range p {
					sum += v
					if v > 0 {
						ent -= v * math.Log(v)
					}
				}
				if math.Abs(sum-1) > 1e-9 || math.Abs(ent-h[i]) > 2e-4*math.Max(1, h[i]) {
					t.Fatalf("row %d: entropy %v (sum %v), kernel %v", i, ent, sum, h[i])
				}
			}
		})
	}
	for _, m := range []attn.Method{attn.ReRoPE, attn.LMInfinite} {
		if pairAttention(attn.Policy{Method: m, TrainLen: 16, KeySize: 8}.WithDefaults()) {
			t.Errorf("%v has clamped far pairs; pairAttention says it has none", m)
		}
	}
}

func TestCosineHistograms(t *testing.T) {
	// D = 2: q_i = e1; k_j = (cos θ_j, sin θ_j) with known cosines.
	const L, D = 4, 2
	angles := []float64{0, math.Pi / 3, math.Pi / 2, math.Pi}
	q := make([]float32, L*D)
	k := make([]float32, L*D)
	for i := 0; i < L; i++ {
		q[i*D] = 2
		k[i*D], k[i*D+1] = float32(3*math.Cos(angles[i])), float32(3*math.Sin(angles[i]))
	}
	h := newCosHists()
	pol := attn.Policy{TrainLen: 4, KeySize: D}.WithDefaults()
	addSequence(h, q, k, q, k, L, D, pol)
	if h.Pairs != L*L || h.Skipped != 0 {
		t.Fatalf("pairs %d skipped %d", h.Pairs, h.Skipped)
	}
	// Each query sees cosines 1, 0.5, 0, -1 once: bins 1999, 1500, 1000, 0.
	for _, c := range []struct {
		cos float64
		bin int
	}{{1, 1999}, {0.5, 1500}, {0, 1000}, {-1, 0}, {0.9995, 1999}, {0.9985, 1998}, {-0.9995, 0}, {-0.9985, 1}} {
		if b := cosBin(c.cos); b != c.bin {
			t.Errorf("cosBin(%v) = %d, want %d", c.cos, b, c.bin)
		}
	}
	for _, b := range []int{1999, 1500, 1000, 0} {
		if h.Pre[b] != L || h.Post[b] != L {
			t.Errorf("bin %d: %v pre, %v post, want %d", b, h.Pre[b], h.Post[b], L)
		}
	}
	// Attention weights: logits |q||k|cos/sqrt(2) = 6cos/sqrt(2); each row sums to 1.
	var total float64
	for _, v := range h.PostAttn {
		total += v
	}
	if math.Abs(total-L) > 1e-9 {
		t.Errorf("attention-weighted histogram holds %v, want %d", total, L)
	}
	z := []float64{math.Exp(6 / math.Sqrt2), math.Exp(3 / math.Sqrt2), 1, math.Exp(-6 / math.Sqrt2)}
	sum := z[0] + z[1] + z[2] + z[3]
	if got, want := h.PostAttn[1999], L*z[0]/sum; math.Abs(got-want) > 1e-9 {
		t.Errorf("weight at cos 1: %v, want %v", got, want)
	}
	// A zero key has no cosine.
	clear(k[2*D : 3*D])
	h = newCosHists()
	addSequence(h, q, k, q, k, L, D, pol)
	if h.Skipped != L || h.Pairs != L*(L-1) {
		t.Errorf("zero key: pairs %d skipped %d", h.Pairs, h.Skipped)
	}
}

func TestHistPeak(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	cases := []struct {
		name  string
		draw  func() float64
		sigma float64
		want  float64
		tol   float64
	}{
		{"normal at 0.37", func() float64 { return 0.37 + 0.1*rng.NormFloat64() }, 20, 0.37, 0.01},
		{"normal at -0.5", func() float64 { return -0.5 + 0.05*rng.NormFloat64() }, 10, -0.5, 0.01},
		// A density rising up to 1 (half-normal): its mode is 1, and the
		// estimator has no ceiling below it.
		{"mode at 1", func() float64 { return 1 - math.Abs(0.05*rng.NormFloat64()) }, 5, 1, 0.001},
		{"mode at -1", func() float64 { return -1 + math.Abs(0.05*rng.NormFloat64()) }, 5, -1, 0.001},
		// Peaks closer to 1 than the old 0.01 bins could resolve.
		{"normal at 0.996", func() float64 { return 0.996 + 0.002*rng.NormFloat64() }, 1, 0.996, 0.001},
		{"normal at 0.9915", func() float64 { return 0.9915 + 0.003*rng.NormFloat64() }, 2, 0.9915, 0.001},
		{"two modes, the taller at 0.6", func() float64 {
			if rng.Float64() < 0.3 {
				return -0.4 + 0.05*rng.NormFloat64()
			}
			return 0.6 + 0.05*rng.NormFloat64()
		}, 20, 0.6, 0.01},
	}
	for _, c := range cases {
		h := make([]float64, EtaBins)
		for range 400000 {
			if x := c.draw(); x >= -1 && x <= 1 {
				h[cosBin(x)]++
			}
		}
		s := smoothHist(h, c.sigma)
		if got := histPeak(s); math.Abs(got-c.want) > c.tol {
			t.Errorf("%s: peak %v, want %v ± %v", c.name, got, c.want, c.tol)
		}
		if a, b := sumOf(h), sumOf(s); c.sigma > 0 && math.Abs(a-b) > 0.02*a {
			t.Errorf("%s: smoothing changed the mass %v -> %v", c.name, a, b)
		}
	}
	if !math.IsNaN(histPeak(make([]float64, EtaBins))) {
		t.Error("empty histogram has a peak")
	}
}

// The prediction is the mode of e^(κt)(1-t²)^((d-3)/2): check it against a
// grid search, and its limits.
func TestEtaTheory(t *testing.T) {
	cases := []struct {
		kappa float64
		d     int
	}{{0.5, 64}, {8, 64}, {16, 128}, {128, 128}, {256, 64}, {3, 8}}
	prev := map[int]float64{}
	for _, c := range cases {
		got := EtaTheory(c.kappa, c.d)
		best, bestT := math.Inf(-1), 0.0
		for i := 1; i < 200000; i++ {
			tt := -1 + float64(i)/100000
			if v := c.kappa*tt + float64(c.d-3)/2*math.Log(1-tt*tt); v > best {
				best, bestT = v, tt
			}
		}
		if math.Abs(got-bestT) > 2e-5 {
			t.Errorf("κ=%v d=%d: %v, grid mode %v", c.kappa, c.d, got, bestT)
		}
		if p, ok := prev[c.d]; ok && got <= p {
			t.Errorf("d=%d: not increasing in κ (%v after %v)", c.d, got, p)
		}
		prev[c.d] = got
	}
	if EtaTheory(0, 64) != 0 || EtaTheory(1e9, 64) < 0.9999 || EtaTheory(5, 3) != 1 {
		t.Errorf("limits: %v %v %v", EtaTheory(0, 64), EtaTheory(1e9, 64), EtaTheory(5, 3))
	}
}

// q_i·k_j lands at row i, column j of the matrix.
func TestHeatmapLayout(t *testing.T) {
	const L, D = 5, 2
	q := make([]float32, L*D)
	k := make([]float32, L*D)
	for i := 0; i < L; i++ {
		q[i*D], q[i*D+1] = float32(i), 1 // q_i·k_j = i + 10j with k_j = (1, 10j)
		k[i*D], k[i*D+1] = 1, float32(10*i)
	}
	m := qkMatrix(q, k, L, D)
	for i := 0; i < L; i++ {
		for j := 0; j < L; j++ {
			if got := m[i*L+j]; got != float64(i+10*j) {
				t.Fatalf("M[%d][%d] = %v, want q_%d·k_%d = %d", i, j, got, i, j, i+10*j)
			}
		}
	}
	post := slices.Clone(m)
	for i := range post {
		post[i] *= 2 // max 2·44 = 88
	}
	lo, hi := normalisePair(m, post)
	if lo != 0 || hi != 88 || m[0] != 0 || post[L*L-1] != 1 || math.Abs(m[L*L-1]-0.5) > 1e-12 {
		t.Errorf("normalised by [%v, %v]: m[last] %v post[last] %v", lo, hi, m[L*L-1], post[L*L-1])
	}
	s := statsOf([]float64{1, 2, 3, 4}, 2)
	if s.Min != 1 || s.Max != 4 || s.Mean != 2.5 || s.Diag != 2.5 || s.Near != 2.5 || s.Far != 2.5 {
		t.Errorf("stats %+v", s)
	}
}

func sumOf(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// A model whose activations are not finite is refused with the layer and
// the row named, by every analysis, instead of leaving those rows out:
// before, a NaN weight in layer 0's output projection left layer 1 with no
// rows and made the "all layers" row layer 0's (issue 18).
func TestNonFiniteRefused(t *testing.T) {
	nanOut := func(p *gau.Params) { p.Layers[0].ODense.Data().([]float32)[3] = float32(math.NaN()) }
	nanGain := func(p *gau.Params) { p.Layers[1].GammaK.Data().([]float32)[2] = float32(math.Inf(1)) }
	docs := [][]int{randomDoc(40, 1)}
	for _, c := range []struct {
		name string
		edit func(*gau.Params)
		want string
	}{
		{"NaN in layer 0's output", nanOut, "layer 1: its input (the swish output [u | v | z]) is NaN at row 0"},
		{"infinite gain in layer 1", nanGain, "layer 1: a ScaleOffset gain is +Inf at index 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := tinyModel(t, 0, 5, c.edit)
			be := backend.Default()
			rows, _, err := Entropy(be, m, docs, []string{"softmax"}, []int{16, 32}, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "softmax at length 16: document 0") {
				t.Errorf("entropy: %v (%d rows), want an error with %q", err, len(rows), c.want)
			}
			pol, _ := m.Config.Policy("")
			if _, err := Band(be, m, pol, docs, 32, []int{0, 4}); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("band: %v, want an error with %q", err, c.want)
			}
			if _, err := Eta(be, m, docs, 32); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("eta: %v, want an error with %q", err, c.want)
			}
			if _, err := HeatmapOf(be, m, docs[0], 32, 1); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("heatmap: %v, want an error with %q", err, c.want)
			}
			// Layer 0 is finite and analysed.
			if _, err := HeatmapOf(be, m, docs[0], 32, 0); err != nil {
				t.Errorf("heatmap of layer 0: %v", err)
			}
		})
	}
	// Row statistics that are not finite are refused with the row named
	// (an attention whose logits overflow).
	m := tinyModel(t, 0, 5, nil)
	pol, _ := m.Config.Policy("")
	p := cpuProbe(t, m, pol, 24)
	if err := p.Run(randomDoc(24, 2)); err != nil {
		t.Fatal(err)
	}
	a, out, err := p.Attention(0)
	if err != nil {
		t.Fatal(err)
	}
	out[5*a.OutWidth()+a.E] = float32(math.Inf(1)) // row 5's log-sum-exp
	h, _, err := rowStats(a, out, 0)
	if err != nil || finite(h[5]) || !finite(h[4]) {
		t.Fatalf("row 5's entropy %v, row 4's %v (%v)", h[5], h[4], err)
	}
}

// The pooled row of every analysis counts the rows of every layer: each
// layer has L rows per document, the pool L·layers.
func TestPooledRowsCountEveryLayer(t *testing.T) {
	m := tinyModel(t, 0, 5, nil)
	docs := [][]int{randomDoc(40, 1), randomDoc(30, 2)}
	rows, perDoc, err := Entropy(backend.Default(), m, docs, []string{"softmax"}, []int{20}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		want := 2 * 20
		if r.Layer == study.AllLayers {
			want *= m.Config.NumLayers
		}
		if r.Rows != want {
			t.Errorf("layer %v: %d rows, want %d", r.Layer, r.Rows, want)
		}
	}
	if len(perDoc) != 2 || perDoc[1].Rows != 20*m.Config.NumLayers {
		t.Errorf("per document: %+v", perDoc)
	}
}
