package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/infoscale/gaualpha/attn"
)

// The cosine histograms: etaBins bins of width 0.001 over [-1, 1]; bin b
// holds [-1 + b·w, -1 + (b+1)·w), the last one including 1. eta_hist.csv
// writes them merged into bins of 0.01 (etaCSVMerge fine bins each).
const (
	etaBins     = 2000
	etaBinWidth = 2.0 / etaBins
	etaCSVMerge = 10
)

// cosHists are histograms of the cosines of all query/key pairs (i, j) of
// sequences: of the vectors before RoPE (Pre) and after (Post), counting
// each pair once, and the same weighted by the pair's attention probability
// p_ij (PreAttn, PostAttn; each query row adds 1 in all).
type cosHists struct {
	Pre, Post, PreAttn, PostAttn []float64
	// Pairs counts the pairs added; Skipped those left out because q_i or
	// k_j is the zero vector (no cosine).
	Pairs, Skipped int
	// Weighted is false when the policy's attention could not be
	// recomputed pair by pair (clamped far rotations): the attention
	// histograms stay empty.
	Weighted bool
}

func newCosHists() *cosHists {
	return &cosHists{Pre: make([]float64, etaBins), Post: make([]float64, etaBins),
		PreAttn: make([]float64, etaBins), PostAttn: make([]float64, etaBins), Weighted: true}
}

func (h *cosHists) merge(o *cosHists) {
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
	b := int(math.Floor((c + 1) / etaBinWidth))
	return max(0, min(etaBins-1, b))
}

// binCentre returns the centre of bin b.
func binCentre(b float64) float64 { return -1 + (b+0.5)*etaBinWidth }

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
func addSequence(h *cosHists, q, k, qr, kr []float32, L, D int, pol attn.Policy) {
	qu, qn, qok := unitRows(q, L, D)
	ku, kn, kok := unitRows(k, L, D)
	qru, _, _ := unitRows(qr, L, D)
	kru, _, _ := unitRows(kr, L, D)
	weighted := pairAttention(pol)
	scale, bscale := logitScales(pol, L, D)
	workers := max(1, min(runtime.GOMAXPROCS(0), L))
	parts := make([]*cosHists, workers)
	var wg sync.WaitGroup
	for w := range workers {
		parts[w] = newCosHists()
		wg.Add(1)
		go func(part *cosHists) {
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
	return binCentre(float64(m) + off)
}

// etaTheory is the mode of the density of t = cos(q, k) when the keys a
// query attends to are the uniform distribution on the sphere S^(d-1)
// tilted by the attention weight e^(κt): f(t) ∝ e^(κt)(1-t²)^((d-3)/2),
// whose mode solves κt² + (d-3)t - κ = 0 (docs/analysis.md). It rises from
// 0 at κ = 0 toward 1 as κ grows.
func etaTheory(kappa float64, d int) float64 {
	if kappa <= 0 {
		return 0
	}
	if d <= 3 {
		return 1
	}
	a := float64(d - 3)
	return (math.Sqrt(a*a+4*kappa*kappa) - a) / (2 * kappa)
}

// etaKappa is the concentration κ of a CosScale model at length L: the
// logit of a pair is κ·cos, κ = s·c(L)·m(L). 0 without CosScale.
func etaKappa(ck loadedModel, pol attn.Policy, L int) float64 {
	return ck.Config.CosScale * pol.Factor(L) * pol.LogitMultiplier(L)
}

// etaResult holds one model's histograms, per layer and pooled (last).
type etaResult struct {
	ck     loadedModel
	kappa  float64
	layers []*cosHists // per layer, then pooled
}

func runEta(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("eta", "-ckpt DIR[,DIR...] [flags]",
		"For models trained with different CosScale values s (read from each config.json):\n"+
			"the histogram of cos(q_i, k_j) over all query/key pairs before RoPE (bins of 0.01\n"+
			"on [-1, 1]), per layer and pooled, and its peak η1* (the mode of the histogram\n"+
			"smoothed by a Gaussian of -smooth bins, refined by a parabola). Also the same\n"+
			"after RoPE and weighted by the attention probability p_ij, and the prediction\n"+
			"of the von Mises-Fisher tilt argument, η* = (sqrt((d-3)² + 4κ²) - (d-3)) / (2κ)\n"+
			"with κ = s·c(L)·m. Writes eta_hist.png, eta_layers.png, eta_peak.png, eta_hist.csv\n"+
			"and eta_peak.csv.", stderr)
	ckpt := fs.String("ckpt", "", "comma-separated checkpoint `dirs` (one per CosScale value); required")
	corpusPath := fs.String("corpus", "embedded", "`path` of the corpus the test documents come from (its validation split)")
	L := fs.Int("L", 1024, "sequence length (documents tiled or cut to it)")
	docs := fs.Int("docs", 10, "number of test documents")
	sigma := fs.Float64("smooth", 5, "standard deviation of the Gaussian smoothing before taking the mode, in bins of 0.001 (0: none)")
	maxMemory := maxMemoryFlag(fs)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *L < 2 {
		return fmt.Errorf("-L %d must be at least 2", *L)
	}
	if !(*sigma >= 0 && *sigma <= 500) {
		return fmt.Errorf("-smooth %v outside [0, 500]", *sigma)
	}
	if err := checkDocs(*docs); err != nil {
		return err
	}
	mem, err := newBudget(*maxMemory)
	if err != nil {
		return err
	}
	cks, err := loadCheckpoints(*ckpt)
	if err != nil {
		return err
	}
	need := 0.0
	for _, ck := range cks { // one model at a time
		need = max(need, etaBytes(ck.Config, *L))
	}
	if err := mem.check(fmt.Sprintf("-L %d", *L), need); err != nil {
		return err
	}
	byCosScale(cks)
	progress := c.progress(stderr)
	var results []etaResult
	for _, ck := range cks {
		fmt.Fprintf(progress, "eta: %s (%s)\n", ck.dir, ck.label())
		r, err := etaStudy(ck, *corpusPath, *docs, *L)
		if err != nil {
			return fmt.Errorf("%s: %w", ck.dir, err)
		}
		results = append(results, r)
	}
	out := &outputs{dir: c.out}
	histRows, peakRows := etaCSV(results, *sigma)
	if err := writeCSV(out.path("eta_hist.csv"), []string{"model", "cosscale", "layer", "bin_lo", "bin_hi",
		"density_pre", "density_post", "density_pre_attn", "density_post_attn"}, histRows); err != nil {
		return err
	}
	if err := writeCSV(out.path("eta_peak.csv"), []string{"model", "cosscale", "layer", "eta1_pre", "eta1_post",
		"eta1_pre_attn", "eta1_post_attn", "kappa", "eta_theory", "pairs", "skipped"}, peakRows); err != nil {
		return err
	}
	if err := etaHistPlots(results, out, c.dpi); err != nil {
		return err
	}
	p, err := etaPeakPlot(results, *sigma, *L)
	if err != nil {
		return err
	}
	if err := newFigure(8, 4, c.dpi).savePlotSideLegend(out.path("eta_peak.png"), p); err != nil {
		return err
	}
	fmt.Fprint(stdout, etaTable(results, *sigma))
	out.print(stdout)
	return nil
}

// etaStudy runs one model on the test documents at length L and collects
// the cosine histograms of every layer.
func etaStudy(ck loadedModel, corpusPath string, ndocs, L int) (etaResult, error) {
	toks, _, err := testDocuments(corpusPath, ck, ndocs, L)
	if err != nil {
		return etaResult{}, err
	}
	pol, err := ck.Config.Policy("")
	if err != nil {
		return etaResult{}, err
	}
	f, err := newForward(ck, pol, L)
	if err != nil {
		return etaResult{}, err
	}
	nl := ck.Config.NumLayers
	r := etaResult{ck: ck, kappa: etaKappa(ck, pol, L)}
	for range nl + 1 {
		r.layers = append(r.layers, newCosHists())
	}
	for _, doc := range toks {
		if err := f.run(doc); err != nil {
			return etaResult{}, err
		}
		for l := 0; l < nl; l++ {
			a, err := f.layerAttention(l)
			if err != nil {
				return etaResult{}, err
			}
			q, k, qr, kr, err := a.Vectors()
			if err != nil {
				return etaResult{}, fmt.Errorf("layer %d: %w", l, err)
			}
			addSequence(r.layers[l], q, k, qr, kr, L, ck.Config.KeySize, pol)
		}
	}
	for l := 0; l < nl; l++ {
		r.layers[nl].merge(r.layers[l])
	}
	return r, nil
}

// density turns counts into a density over [-1, 1] (integral 1).
func density(h []float64) []float64 { return densityWidth(h, etaBinWidth) }

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

// peaks returns η1* of the four histograms (NaN for the attention-weighted
// ones when they could not be computed).
func (h *cosHists) peaks(sigma float64) [4]float64 {
	out := [4]float64{histPeak(smoothHist(h.Pre, sigma)), histPeak(smoothHist(h.Post, sigma)), math.NaN(), math.NaN()}
	if h.Weighted {
		out[2], out[3] = histPeak(smoothHist(h.PreAttn, sigma)), histPeak(smoothHist(h.PostAttn, sigma))
	}
	return out
}

func (r etaResult) theory() float64 {
	if r.kappa <= 0 {
		return math.NaN()
	}
	return etaTheory(r.kappa, r.ck.Config.KeySize)
}

func etaCSV(results []etaResult, sigma float64) (hist, peak [][]string) {
	for _, r := range results {
		nl := len(r.layers) - 1
		for l, h := range r.layers {
			layer := layerName(l)
			if l == nl {
				layer = "all"
			}
			cw := etaBinWidth * etaCSVMerge
			d := [4][]float64{densityWidth(merge(h.Pre), cw), densityWidth(merge(h.Post), cw), densityWidth(merge(h.PreAttn), cw), densityWidth(merge(h.PostAttn), cw)}
			if !h.Weighted {
				for b := range d[2] {
					d[2][b], d[3][b] = math.NaN(), math.NaN()
				}
			}
			for b := 0; b < etaBins/etaCSVMerge; b++ {
				hist = append(hist, []string{r.ck.dir, ff(r.ck.Config.CosScale), layer,
					ff(-1 + float64(b)*cw), ff(-1 + float64(b+1)*cw),
					ff(d[0][b]), ff(d[1][b]), ff(d[2][b]), ff(d[3][b])})
			}
			pk := h.peaks(sigma)
			peak = append(peak, []string{r.ck.dir, ff(r.ck.Config.CosScale), layer, ff(pk[0]), ff(pk[1]), ff(pk[2]), ff(pk[3]),
				ff(r.kappa), ff(r.theory()), strconv.Itoa(h.Pairs), strconv.Itoa(h.Skipped)})
		}
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

// etaHistPlots draws the pooled histograms of every model (before RoPE, all
// pairs; after RoPE, attention-weighted) and the per-layer pre-RoPE ones.
func etaHistPlots(results []etaResult, out *outputs, dpi int) error {
	xs := make([]float64, etaBins)
	for b := range xs {
		xs[b] = binCentre(float64(b))
	}
	panel := func(title, ylabel string, pick func(h *cosHists) []float64, layer int, legend bool) (*plot.Plot, error) {
		p := newPlot(title, "cos(q_i, k_j)", ylabel)
		p.Legend.Left = true
		lo := 1.0
		for i, r := range results {
			l := layer
			if l < 0 {
				l = len(r.layers) - 1
			}
			if l >= len(r.layers)-1 && layer >= 0 {
				continue // a shallower model has no such layer
			}
			h := r.layers[l]
			if err := (series{label: r.ck.label(), x: xs, y: density(pick(h)), color: colorAt(i)}).add(p); err != nil {
				return nil, err
			}
			lo = math.Min(lo, lowerTail(pick(h), 0.001))
		}
		// Zoom in on the occupied range (below it lies less than 0.1% of
		// every histogram), in steps of 0.1.
		p.X.Min, p.X.Max = math.Max(-1, math.Floor(10*(lo-0.05))/10), 1
		if !legend {
			p.Legend = plot.NewLegend()
		}
		return p, nil
	}
	pre, err := panel("before RoPE, all pairs (pooled layers)", "density", func(h *cosHists) []float64 { return h.Pre }, -1, true)
	if err != nil {
		return err
	}
	post, err := panel("after RoPE, weighted by attention p_ij", "density", func(h *cosHists) []float64 {
		if !h.Weighted {
			return make([]float64, etaBins)
		}
		return h.PostAttn
	}, -1, false)
	if err != nil {
		return err
	}
	if err := newFigure(10, 4, dpi).saveGrid(out.path("eta_hist.png"), [][]*plot.Plot{{pre, post}}); err != nil {
		return err
	}
	nl := 0
	for _, r := range results {
		nl = max(nl, len(r.layers)-1)
	}
	rows, cols := gridShape(nl, 3)
	grid := make([][]*plot.Plot, rows)
	for l := 0; l < nl; l++ {
		p, err := panel(fmt.Sprintf("layer %d, before RoPE", l), "density", func(h *cosHists) []float64 { return h.Pre }, l, l == 0)
		if err != nil {
			return err
		}
		grid[l/cols] = append(grid[l/cols], p)
	}
	return newFigure(3.3*float64(cols), 2.8*float64(rows), dpi).saveGrid(out.path("eta_layers.png"), grid)
}

// lowerTail returns the lower edge of the first bin at which the cumulative
// share of the histogram reaches q (1 for an empty histogram).
func lowerTail(h []float64, q float64) float64 {
	total := sumOf(h)
	if total <= 0 {
		return 1
	}
	var cum float64
	for b, v := range h {
		if cum += v; cum >= q*total {
			return -1 + float64(b)*etaBinWidth
		}
	}
	return 1
}

func sumOf(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// etaPeakPlot draws η1* against CosScale: measured before RoPE (all pairs),
// measured after RoPE weighted by attention, and the vMF-tilt prediction as
// a curve. Models without CosScale appear as horizontal dashed lines.
func etaPeakPlot(results []etaResult, sigma float64, L int) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Peak η1* of the cos(q, k) distribution vs CosScale (L = %d)", L), "CosScale s", "η1*")
	p.Legend.Left = true
	var xs, pre, preAttn, postAttn []float64
	var ref *etaResult
	for i, r := range results {
		if r.ck.Config.CosScale <= 0 {
			continue
		}
		pk := r.layers[len(r.layers)-1].peaks(sigma)
		xs = append(xs, r.ck.Config.CosScale)
		pre = append(pre, pk[0])
		preAttn = append(preAttn, pk[2])
		postAttn = append(postAttn, pk[3])
		if ref == nil {
			ref = &results[i]
		}
	}
	lo, hi := 4.0, 512.0
	if len(xs) > 0 {
		lo, hi = xs[0]/1.5, xs[len(xs)-1]*1.5
	}
	log2Axis(&p.X)
	if err := (series{label: "measured: before RoPE, attention-weighted (the theory's)", x: xs, y: preAttn, color: colorAt(2), points: true, width: vg.Points(2)}).add(p); err != nil {
		return nil, err
	}
	if err := (series{label: "measured: before RoPE, all pairs", x: xs, y: pre, color: colorAt(0), points: true, dashes: dashes[1]}).add(p); err != nil {
		return nil, err
	}
	if err := (series{label: "measured: after RoPE, attention-weighted", x: xs, y: postAttn, color: colorAt(1), points: true, dashes: dashes[2]}).add(p); err != nil {
		return nil, err
	}
	if ref != nil {
		// The prediction for the first model's d and normalisation factor.
		var tx, ty []float64
		perS := ref.kappa / ref.ck.Config.CosScale
		for t := 0; t <= 100; t++ {
			s := lo * math.Pow(hi/lo, float64(t)/100)
			tx = append(tx, s)
			ty = append(ty, etaTheory(s*perS, ref.ck.Config.KeySize))
		}
		lbl := fmt.Sprintf("prediction for isotropic keys (d=%d, κ=%.3g·s)", ref.ck.Config.KeySize, perS)
		if err := (series{label: lbl, x: tx, y: ty, color: colorAt(3), width: vg.Points(1)}).add(p); err != nil {
			return nil, err
		}
	}
	for i, r := range results {
		if r.ck.Config.CosScale > 0 {
			continue
		}
		pk := r.layers[len(r.layers)-1].peaks(sigma)
		lbl := fmt.Sprintf("no CosScale (%s), before RoPE", r.ck.name())
		if err := hline(lbl, pk[0], lo, hi, colorAt(4+i), dashes[1]).add(p); err != nil {
			return nil, err
		}
	}
	if len(xs) == 0 {
		p.X.Min, p.X.Max = lo, hi
	}
	widenLogRange(&p.X)
	p.Y.Min, p.Y.Max = math.Min(0, p.Y.Min), 1
	return p, nil
}

// etaTable renders the pooled peaks per model.
func etaTable(results []etaResult, sigma float64) string {
	var sb strings.Builder
	sb.WriteString("Peak η1* of cos(q, k), pooled layers:\n\n| model | CosScale | before RoPE | after RoPE | before, attention-weighted | after, attention-weighted | vMF prediction |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		pk := r.layers[len(r.layers)-1].peaks(sigma)
		fmt.Fprintf(&sb, "| %s | %g | %.3f | %.3f | %.3f | %.3f | %.3f |\n", r.ck.name(), r.ck.Config.CosScale, pk[0], pk[1], pk[2], pk[3], r.theory())
	}
	sb.WriteString("\n")
	return sb.String()
}
