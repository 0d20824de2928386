package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/layers"
)

func loadTiny(t *testing.T, cosscale float64, edit func(*layers.Params)) loadedModel {
	t.Helper()
	dir := writeCheckpoint(t, t.TempDir(), cosscale, 5, edit)
	ck, err := checkpoint.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return loadedModel{dir: dir, Checkpoint: ck}
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
	zeroQ := func(p *layers.Params) {
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
		stats, err := entropyStudy(ck, docs, []string{"softmax", "softmax_plus", "infoscale"}, c.lengths, io.Discard)
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
	stats, err := entropyStudy(ck, [][]int{randomDoc(64, 3)}, []string{"softmax"}, []int{64}, io.Discard)
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
			pol, err := windowPolicy(ck, "", c.w)
			if err != nil {
				t.Fatal(err)
			}
			f, err := newForward(ck, pol, c.L)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.run(randomDoc(c.L, 4)); err != nil {
				t.Fatal(err)
			}
			for l := 0; l < ck.Config.NumLayers; l++ {
				m, err := layerBandMass(f, l, []int{c.w, max(0, c.w-1)})
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
	f, err := newForward(ck, pol, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.run(randomDoc(100, 5)); err != nil {
		t.Fatal(err)
	}
	m, err := layerBandMass(f, 0, []int{3})
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
			f, err := newForward(ck, pol, L)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.run(randomDoc(L, 6)); err != nil {
				t.Fatal(err)
			}
			a, out, err := f.attention(1)
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
		h := make([]float64, etaBins)
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
	if !math.IsNaN(histPeak(make([]float64, etaBins))) {
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
		got := etaTheory(c.kappa, c.d)
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
	if etaTheory(0, 64) != 0 || etaTheory(1e9, 64) < 0.9999 || etaTheory(5, 3) != 1 {
		t.Errorf("limits: %v %v %v", etaTheory(0, 64), etaTheory(1e9, 64), etaTheory(5, 3))
	}
}

// q_i·k_j lands at row i, column j, both in the matrix and in the image
// (row i from the top, column j from the left).
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
	lut := make([]color.RGBA, 256)
	for i := range lut {
		lut[i] = color.RGBA{uint8(i), 0, 0, 255}
	}
	img := matrixImage(m, L, lut)
	for i := 0; i < L; i++ {
		for j := 0; j < L; j++ {
			want := uint8(math.Round(float64(i+10*j) / 88 * 255))
			if got := img.RGBAAt(j, i).R; got != want {
				t.Errorf("pixel x=%d y=%d: %d, want %d (entry row %d column %d)", j, i, got, want, i, j)
			}
		}
	}
	// Block averages keep the layout.
	big := make([]float64, 16)
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			big[i*4+j] = float64(10*i + j)
		}
	}
	if got, want := downsample(big, 4, 2), []float64{5.5, 7.5, 25.5, 27.5}; !slices.Equal(got, want) {
		t.Errorf("downsample = %v, want %v", got, want)
	}
	s := statsOf([]float64{1, 2, 3, 4}, 2)
	if s.Min != 1 || s.Max != 4 || s.Mean != 2.5 || s.Diag != 2.5 || s.Near != 2.5 || s.Far != 2.5 {
		t.Errorf("stats %+v", s)
	}
}

func TestLog2Ticks(t *testing.T) {
	cases := []struct {
		lo, hi float64
		want   []float64
	}{
		{64, 4096, []float64{64, 128, 256, 512, 1024, 2048, 4096}},
		{5, 300, []float64{8, 16, 32, 64, 128, 256}},
		{0.5, 1, []float64{0.5, 1}},
	}
	for _, c := range cases {
		var got []float64
		for _, tk := range log2Ticks(c.lo, c.hi) {
			got = append(got, tk.Value)
			if tk.Label == "" {
				t.Errorf("[%v, %v]: unlabelled tick %v", c.lo, c.hi, tk.Value)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("log2Ticks(%v, %v) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
	// Many octaves: every third tick labelled (at most 8 steps).
	ts := log2Ticks(1, 1<<20)
	if len(ts) != 21 || ts[1].Label != "" || ts[3].Label != "8" {
		t.Errorf("wide range ticks %v", ts)
	}
}
