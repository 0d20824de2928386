package analysis

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/study"
)

// The cosine histograms: EtaBins bins of width 0.001 over [-1, 1]; bin b
// holds [-1 + b·w, -1 + (b+1)·w), the last one including 1. eta_hist.csv
// writes them merged into bins of 0.01 (etaCSVMerge fine bins each).
const (
	EtaBins     = 2000
	EtaBinWidth = 2.0 / EtaBins
	etaCSVMerge = 10
)

// CosHists are histograms of the cosines of all query/key pairs (i, j) of
// sequences: of the vectors before RoPE (Pre) and after (Post), counting
// each pair once, and the same weighted by the pair's attention probability
// p_ij (PreAttn, PostAttn; each query row adds 1 in all).
type CosHists struct {
	Pre, Post, PreAttn, PostAttn []float64
	// Pairs counts the pairs added; Skipped those left out because q_i or
	// k_j is the zero vector (no cosine).
	Pairs, Skipped int
	// Weighted is false when the policy's attention could not be
	// recomputed pair by pair (clamped far rotations): the attention
	// histograms stay empty.
	Weighted bool
}

func newCosHists() *CosHists {
	return &CosHists{Pre: make([]float64, EtaBins), Post: make([]float64, EtaBins),
		PreAttn: make([]float64, EtaBins), PostAttn: make([]float64, EtaBins), Weighted: true}
}

func (h *CosHists) merge(o *CosHists) {
	for b := range h.Pre {
		h.Pre[b] += o.Pre[b]
		h.Post[b] += o.Post[b]
		h.PreAttn[b] += o.PreAttn[b]
		h.PostAttn[b] += o.PostAttn[b]
	}
	h.Pairs += o.Pairs
	h.Skipped += o.Skipped
	h.Weighted = h.Weighted && o.Weighted
}

// cosBin returns the bin of a cosine (values beyond ±1 by rounding are
// clamped).
func cosBin(c float64) int {
	b := int(math.Floor((c + 1) / EtaBinWidth))
	return max(0, min(EtaBins-1, b))
}

// BinCentre returns the centre of bin b.
func BinCentre(b float64) float64 { return -1 + (b+0.5)*EtaBinWidth }

// unitRows returns the rows of x ([n, d]) scaled to unit length in float64,
// their norms, and whether each row is non-zero.
func unitRows(x []float32, n, d int) (u []float64, norms []float64, ok []bool) {
	u = make([]float64, n*d)
	norms = make([]float64, n)
	ok = make([]bool, n)
	for r := 0; r < n; r++ {
		var s float64
		for _, v := range x[r*d : (r+1)*d] {
			s += float64(v) * float64(v)
		}
		norms[r] = math.Sqrt(s)
		if s > 0 {
			ok[r] = true
			for c, v := range x[r*d : (r+1)*d] {
				u[r*d+c] = float64(v) / norms[r]
			}
		}
	}
	return u, norms, ok
}

func dot64(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// pairAttention reports whether p_ij can be recomputed from the rotated
// vectors alone: every pair's logit is c(n)·(m·q̃_i·k̃_j + bias_ij)/sqrt(d)
// unless the policy has clamped far rotations (ReRoPE, LM-Infinite).
func pairAttention(pol attn.Policy) bool {
	_, far := pol.FarWindow()
	return !far
}

// addSequence adds every pair (i, j) of one sequence of length L: q, k
// before RoPE and qr, kr after, each [L, D] as returned by
// cpu.Attention.Vectors, under attention policy pol (all L keys valid).
func addSequence(h *CosHists, q, k, qr, kr []float32, L, D int, pol attn.Policy) {
	qu, qn, qok := unitRows(q, L, D)
	ku, kn, kok := unitRows(k, L, D)
	qru, _, _ := unitRows(qr, L, D)
	kru, _, _ := unitRows(kr, L, D)
	weighted := pairAttention(pol)
	scale, bscale := logitScales(pol, L, D)
	workers := max(1, min(runtime.GOMAXPROCS(0), L))
	parts := make([]*CosHists, workers)
	var wg sync.WaitGroup
	for w := range workers {
		parts[w] = newCosHists()
		wg.Add(1)
		go func(part *CosHists) {
			defer wg.Done()
			pre, post, logit := make([]float64, L), make([]float64, L), make([]float64, L)
			for i := w; i < L; i += workers {
				for j := 0; j < L; j++ {
					pre[j], post[j] = math.NaN(), math.NaN()
					if qok[i] && kok[j] {
						pre[j] = dot64(qu[i*D:(i+1)*D], ku[j*D:(j+1)*D])
						post[j] = dot64(qru[i*D:(i+1)*D], kru[j*D:(j+1)*D])
					}
				}
				if weighted {
					// |q̃_i| = |q_i| and |k̃_j| = |k_j|: rotations keep norms.
					attentionRow(logit, i, post, qn[i], kn, scale, bscale, pol)
				}
				for j := 0; j < L; j++ {
					if math.IsNaN(pre[j]) {
						part.Skipped++
						continue
					}
					part.Pairs++
					bp, bq := cosBin(pre[j]), cosBin(post[j])
					part.Pre[bp]++
					part.Post[bq]++
					if weighted {
						part.PreAttn[bp] += logit[j]
						part.PostAttn[bq] += logit[j]
					}
				}
			}
		}(parts[w])
	}
	wg.Wait()
	for _, p := range parts {
		h.merge(p)
	}
	h.Weighted = h.Weighted && weighted
}

// logitScales returns the factors of a pair's logit, as the kernel applies
// them to a sequence of L valid keys: c(n)·m/sqrt(d) on q̃·k̃ and
// c(n)/sqrt(d) on the bias.
func logitScales(pol attn.Policy, L, D int) (scale, bscale float64) {
	c := pol.Factor(L)
	return c * pol.LogitMultiplier(L) / math.Sqrt(float64(D)), c / math.Sqrt(float64(D))
}

// attentionRow writes into p the attention probabilities of query row i:
// logit_ij = scale·|q_i|·|k_j|·post_ij + bscale·bias_ij for the pairs the
// policy keeps (post_ij the cosine after rotation; NaN counts as 0 for a
// zero vector), softmax over j.
func attentionRow(p []float64, i int, post []float64, qNorm float64, kNorms []float64, scale, bscale float64, pol attn.Policy) {
	mx := math.Inf(-1)
	for j := range p {
		if !pol.Keep(i, j) {
			p[j] = math.Inf(-1)
			continue
		}
		c := post[j]
		if math.IsNaN(c) {
			c = 0
		}
		p[j] = scale*qNorm*kNorms[j]*c + bscale*pol.Bias(i, j)
		mx = math.Max(mx, p[j])
	}
	var sum float64
	for j := range p {
		p[j] = math.Exp(p[j] - mx)
		sum += p[j]
	}
	for j := range p {
		p[j] /= sum
	}
}

// smoothHist convolves counts with a Gaussian of standard deviation sigma
// bins, truncated at 3σ, with the histogram reflected at both edges (bin
// −1−k mirrors bin k, bin N+k mirrors bin N−1−k), so that mass piled
// against ±1 is not pulled inward; sigma <= 0 returns a copy.
func smoothHist(counts []float64, sigma float64) []float64 {
	out := make([]float64, len(counts))
	if sigma <= 0 {
		copy(out, counts)
		return out
	}
	r := int(math.Ceil(3 * sigma))
	kern := make([]float64, 2*r+1)
	for o := -r; o <= r; o++ {
		kern[o+r] = math.Exp(-0.5 * float64(o*o) / (sigma * sigma))
	}
	n := len(counts)
	var w float64
	for _, k := range kern {
		w += k
	}
	for b := range counts {
		var s float64
		for o := -r; o <= r; o++ {
			c := b + o
			for c < 0 || c >= n { // reflect (repeatedly, for a kernel wider than the histogram)
				if c < 0 {
					c = -1 - c
				} else {
					c = 2*n - 1 - c
				}
			}
			s += kern[o+r] * counts[c]
		}
		out[b] = s / w
	}
	return out
}

// histPeak returns the mode of a histogram over [-1, 1]: the centre of its
// highest bin (the first of equal ones), moved by the vertex of the parabola
// through that bin and its neighbours (at most half a bin). At an edge bin
// the missing neighbour is the edge bin itself (the histogram reflected at
// the edge), so a density rising up to ±1 has its mode at ±1 exactly: the
// estimate has no ceiling below 1. Its resolution is the bin width. NaN when
// the histogram is empty.
func histPeak(h []float64) float64 {
	m := 0
	for b := range h {
		if h[b] > h[m] {
			m = b
		}
	}
	if h[m] <= 0 {
		return math.NaN()
	}
	off := 0.0
	y0, y1, y2 := h[max(m-1, 0)], h[m], h[min(m+1, len(h)-1)]
	if den := y0 - 2*y1 + y2; den < 0 {
		off = math.Max(-0.5, math.Min(0.5, 0.5*(y0-y2)/den))
	}
	return BinCentre(float64(m) + off)
}

// EtaTheory is the mode of the density of t = cos(q, k) when the keys a
// query attends to are the uniform distribution on the sphere S^(d-1)
// tilted by the attention weight e^(κt): f(t) ∝ e^(κt)(1-t²)^((d-3)/2),
// whose mode solves κt² + (d-3)t - κ = 0 (docs/analysis.md). It rises from
// 0 at κ = 0 toward 1 as κ grows.
func EtaTheory(kappa float64, d int) float64 {
	if kappa <= 0 {
		return 0
	}
	if d <= 3 {
		return 1
	}
	a := float64(d - 3)
	return (math.Sqrt(a*a+4*kappa*kappa) - a) / (2 * kappa)
}

// Eta runs m on the documents at length L under its own attention policy
// and collects the cosine histograms of every layer, then pooled.
func Eta(be backend.Backend, m Model, docs [][]int, L int) (EtaResult, error) {
	pol, err := m.Config.Policy("")
	if err != nil {
		return EtaResult{}, err
	}
	p, err := NewProbe(be, m, pol, L)
	if err != nil {
		return EtaResult{}, err
	}
	defer p.Close()
	nl := p.Layers()
	// κ = s·c(L)·m(L): the logit of a pair is κ·cos (0 without CosScale).
	r := EtaResult{Model: m, Kappa: m.Config.CosScale * pol.Factor(L) * pol.LogitMultiplier(L)}
	for range nl + 1 {
		r.Layers = append(r.Layers, newCosHists())
	}
	for d, doc := range docs {
		if err := p.Run(doc); err != nil {
			return EtaResult{}, fmt.Errorf("document %d: %w", d, err)
		}
		for l := range nl {
			a, err := p.Layer(l)
			if err != nil {
				return EtaResult{}, fmt.Errorf("document %d: %w", d, err)
			}
			q, k, qr, kr, err := a.Vectors()
			if err != nil {
				return EtaResult{}, fmt.Errorf("document %d, layer %d: %w", d, l, err)
			}
			addSequence(r.Layers[l], q, k, qr, kr, L, m.Config.KeySize, pol)
		}
	}
	for l := range nl {
		if r.Layers[l].Pairs == 0 {
			return EtaResult{}, fmt.Errorf("layer %d has no query/key pair with a cosine", l)
		}
		r.Layers[nl].merge(r.Layers[l])
	}
	return r, nil
}

// EtaResult holds one model's cosine histograms, per layer and pooled
// (last), and its concentration κ.
type EtaResult struct {
	Model  Model
	Kappa  float64
	Layers []*CosHists
}

// Density turns counts into a density over [-1, 1] (integral 1).
func Density(h []float64) []float64 { return densityWidth(h, EtaBinWidth) }

// densityWidth is count/(total·width) per bin of the given width.
func densityWidth(h []float64, width float64) []float64 {
	var s float64
	for _, v := range h {
		s += v
	}
	out := make([]float64, len(h))
	for b, v := range h {
		if s > 0 {
			out[b] = v / (s * width)
		} else {
			out[b] = math.NaN()
		}
	}
	return out
}

// Peaks returns η1* of the four histograms, Pre, Post, PreAttn and
// PostAttn, smoothed by a Gaussian of sigma bins (NaN for the
// attention-weighted ones when they could not be computed).
func (h *CosHists) Peaks(sigma float64) [4]float64 {
	out := [4]float64{histPeak(smoothHist(h.Pre, sigma)), histPeak(smoothHist(h.Post, sigma)), math.NaN(), math.NaN()}
	if h.Weighted {
		out[2], out[3] = histPeak(smoothHist(h.PreAttn, sigma)), histPeak(smoothHist(h.PostAttn, sigma))
	}
	return out
}

// Theory is the vMF prediction of η1* at the model's κ (NaN without
// CosScale).
func (r EtaResult) Theory() float64 {
	if r.Kappa <= 0 {
		return math.NaN()
	}
	return EtaTheory(r.Kappa, r.Model.Config.KeySize)
}

// Rows returns the model's rows of eta_hist.csv (densities in bins of
// 0.01) and eta_peak.csv (peaks smoothed by sigma bins of 0.001).
func (r EtaResult) Rows(sigma float64) (hist []study.EtaHistRow, peak []study.EtaPeakRow) {
	nl := len(r.Layers) - 1
	s := r.Model.Config.CosScale
	for l, h := range r.Layers {
		layer := study.Layer(l)
		if l == nl {
			layer = study.AllLayers
		}
		cw := EtaBinWidth * etaCSVMerge
		d := [4][]float64{densityWidth(merge(h.Pre), cw), densityWidth(merge(h.Post), cw), densityWidth(merge(h.PreAttn), cw), densityWidth(merge(h.PostAttn), cw)}
		if !h.Weighted {
			for b := range d[2] {
				d[2][b], d[3][b] = math.NaN(), math.NaN()
			}
		}
		for b := 0; b < EtaBins/etaCSVMerge; b++ {
			hist = append(hist, study.EtaHistRow{Model: r.Model.Dir, CosScale: s, Layer: layer,
				BinLo: -1 + float64(b)*cw, BinHi: -1 + float64(b+1)*cw, Pre: d[0][b], Post: d[1][b], PreAttn: d[2][b], PostAttn: d[3][b]})
		}
		pk := h.Peaks(sigma)
		peak = append(peak, study.EtaPeakRow{Model: r.Model.Dir, CosScale: s, Layer: layer, Pre: pk[0], Post: pk[1], PreAttn: pk[2], PostAttn: pk[3],
			Kappa: r.Kappa, Theory: r.Theory(), Pairs: h.Pairs, Skipped: h.Skipped})
	}
	return hist, peak
}

// merge sums the fine bins of h in groups of etaCSVMerge.
func merge(h []float64) []float64 {
	out := make([]float64, len(h)/etaCSVMerge)
	for b, v := range h {
		out[b/etaCSVMerge] += v
	}
	return out
}

// EtaTable renders the pooled peaks per model as a Markdown table.
func EtaTable(results []EtaResult, sigma float64) string {
	var sb strings.Builder
	sb.WriteString("Peak η1* of cos(q, k), pooled layers:\n\n| model | CosScale | before RoPE | after RoPE | before, attention-weighted | after, attention-weighted | vMF prediction |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		pk := r.Layers[len(r.Layers)-1].Peaks(sigma)
		fmt.Fprintf(&sb, "| %s | %g | %.3f | %.3f | %.3f | %.3f | %.3f |\n", r.Model.Name(), r.Model.Config.CosScale, pk[0], pk[1], pk[2], pk[3], r.Theory())
	}
	sb.WriteString("\n")
	return sb.String()
}
