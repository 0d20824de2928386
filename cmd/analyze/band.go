package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"

	"github.com/infoscale/gaualpha/attn"
)

// bandStat is the attention mass within ±W of the diagonal of one model
// (or the windowed reference) and layer (-1: all), averaged over the valid
// query rows of every test document.
type bandStat struct {
	Model    string
	CosScale float64
	Window   bool // the windowed-attention reference
	Layer    int
	W        int
	Mass     float64
	Std      float64
	Rows     int
}

func runBand(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("band", "-ckpt DIR[,DIR...] [flags]",
		"The share of each query row's attention mass on keys within ±w of it (|i-j| <= w),\n"+
			"averaged over rows, layers and test documents, against CosScale (band.png), and\n"+
			"against w for each model (band_w.png). The reference is windowed attention with\n"+
			"window -w, run on the first checkpoint (mass 1 by definition at that w). Writes\n"+
			"band.png, band_w.png and band.csv.", stderr)
	ckpt := fs.String("ckpt", "", "comma-separated checkpoint `dirs`; required")
	corpusPath := fs.String("corpus", "embedded", "`path` of the corpus the test documents come from (its validation split)")
	L := fs.Int("L", 1024, "sequence length (documents tiled or cut to it)")
	w := fs.Int("w", 64, "half-width of the band, below -L (the windowed reference keeps |i-j| <= w; 0: the diagonal only)")
	ws := fs.String("ws", "", "comma-separated half-widths below -L for band_w.png (default 0, 1, 2, 4, ..., L/2 and -w; 0: the diagonal only)")
	docs := fs.Int("docs", 10, "number of test documents")
	norm := fs.String("norm", "", "normalisation to run the models with: softmax, softmax_plus or infoscale (default: each model's own)")
	maxMemory := maxMemoryFlag(fs)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *L < 2 {
		return fmt.Errorf("-L %d must be at least 2", *L)
	}
	if *w < 0 || *w >= *L {
		return fmt.Errorf("-w %d outside 0..%d (-L %d: a half-width of L-1 already holds every key)", *w, *L-1, *L)
	}
	if err := checkDocs(*docs); err != nil {
		return err
	}
	widths := defaultWidths(*L)
	if *ws != "" {
		var err error
		if widths, err = parseInts(*ws, "ws", 0); err != nil {
			return err
		}
		for _, x := range widths {
			if x >= *L {
				return fmt.Errorf("-ws: half-width %d outside 0..%d (-L %d: a half-width of L-1 already holds every key)", x, *L-1, *L)
			}
		}
	}
	widths = append(widths, *w)
	slices.Sort(widths)
	widths = slices.Compact(widths)
	if *norm != "" {
		if _, err := attn.ParseNorm(*norm); err != nil {
			return fmt.Errorf("-norm: %w", err)
		}
	}
	mem, err := newBudget(*maxMemory)
	if err != nil {
		return err
	}
	cks, err := loadCheckpoints(*ckpt)
	if err != nil {
		return err
	}
	byCosScale(cks)
	need := 0.0
	for _, ck := range cks { // one model at a time
		need = max(need, bandBytes(ck.Config, *L, len(widths)))
	}
	if err := mem.check(fmt.Sprintf("-L %d", *L), need); err != nil {
		return err
	}
	progress := c.progress(stderr)
	var stats []bandStat
	for _, ck := range cks {
		pol, err := ck.Config.Policy(*norm)
		if err != nil {
			return err
		}
		fmt.Fprintf(progress, "band: %s (%s)\n", ck.dir, ck.label())
		st, err := bandStudy(ck, pol, *corpusPath, *docs, *L, widths)
		if err != nil {
			return fmt.Errorf("%s: %w", ck.dir, err)
		}
		stats = append(stats, st...)
	}
	ref := cks[0]
	wpol, err := windowPolicy(ref, *norm, *w)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "band: windowed attention (w = %d) on %s\n", *w, ref.dir)
	st, err := bandStudy(ref, wpol, *corpusPath, *docs, *L, widths)
	if err != nil {
		return fmt.Errorf("windowed reference: %w", err)
	}
	for i := range st {
		st[i].Window, st[i].CosScale = true, math.NaN()
	}
	stats = append(stats, st...)

	out := &outputs{dir: c.out}
	if err := writeCSV(out.path("band.csv"), []string{"model", "cosscale", "windowed_reference", "layer", "w", "mass", "std", "rows"}, bandCSV(stats)); err != nil {
		return err
	}
	p, err := bandPlot(stats, cks, *w, *L)
	if err != nil {
		return err
	}
	if err := newFigure(8, 4, c.dpi).savePlotSideLegend(out.path("band.png"), p); err != nil {
		return err
	}
	p, err = bandWidthPlot(stats, cks, *w, *L)
	if err != nil {
		return err
	}
	if err := newFigure(8, 4, c.dpi).savePlotSideLegend(out.path("band_w.png"), p); err != nil {
		return err
	}
	fmt.Fprint(stdout, bandTable(stats, cks, *w))
	out.print(stdout)
	return nil
}

// defaultWidths is 0 and the powers of two up to L/2.
func defaultWidths(L int) []int {
	ws := []int{0}
	for w := 1; w <= L/2; w *= 2 {
		ws = append(ws, w)
	}
	return ws
}

// windowPolicy is the model's policy with windowed attention of half-width
// w (|i-j| <= w kept).
func windowPolicy(ck loadedModel, norm string, w int) (attn.Policy, error) {
	pol, err := ck.Config.Policy(norm)
	if err != nil {
		return attn.Policy{}, err
	}
	// The policy has its defaults already; Window 0 (only the diagonal)
	// stays 0.
	pol.Method, pol.Window = attn.Window, w
	if err := pol.Validate(); err != nil {
		return attn.Policy{}, err
	}
	return pol, nil
}

// bandStudy runs one model under pol on the test documents at length L and
// returns the mean band mass for every half-width, per layer and pooled.
func bandStudy(ck loadedModel, pol attn.Policy, corpusPath string, ndocs, L int, widths []int) ([]bandStat, error) {
	toks, _, err := testDocuments(corpusPath, ck, ndocs, L)
	if err != nil {
		return nil, err
	}
	f, err := newForward(ck, pol, L)
	if err != nil {
		return nil, err
	}
	nl := ck.Config.NumLayers
	acc := make([][]moments, nl+1)
	for l := range acc {
		acc[l] = make([]moments, len(widths))
	}
	for _, doc := range toks {
		if err := f.run(doc); err != nil {
			return nil, err
		}
		for l := 0; l < nl; l++ {
			masses, err := layerBandMass(f, l, widths)
			if err != nil {
				return nil, err
			}
			for k, m := range masses {
				acc[l][k].addAll(m)
				acc[nl][k].addAll(m)
			}
		}
	}
	var out []bandStat
	for l := range acc {
		layer := l
		if l == nl {
			layer = -1
		}
		for k, w := range widths {
			m := acc[l][k]
			out = append(out, bandStat{Model: ck.dir, CosScale: ck.Config.CosScale, Layer: layer, W: w, Mass: m.mean, Std: m.std(), Rows: m.n})
		}
	}
	return out, nil
}

// layerBandMass returns, for each half-width, every query row's attention
// mass within it (NaN for padding rows), from layer l of the last run.
func layerBandMass(f *forward, l int, widths []int) ([][]float64, error) {
	a, out, err := f.attention(l)
	if err != nil {
		return nil, err
	}
	res := make([][]float64, len(widths))
	for k, w := range widths {
		_, mass, err := rowStats(a, out, w)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		res[k] = mass
	}
	return res, nil
}

func bandCSV(stats []bandStat) [][]string {
	var rows [][]string
	for _, s := range stats {
		rows = append(rows, []string{s.Model, ff(s.CosScale), strconv.FormatBool(s.Window), layerName(s.Layer),
			strconv.Itoa(s.W), ff(s.Mass), ff(s.Std), strconv.Itoa(s.Rows)})
	}
	return rows
}

// find returns the pooled statistic of a model (or of the reference) at
// half-width w.
func find(stats []bandStat, model string, window bool, w int) (bandStat, bool) {
	for _, s := range stats {
		if s.Layer == -1 && s.W == w && s.Window == window && (window || s.Model == model) {
			return s, true
		}
	}
	return bandStat{}, false
}

// bandPlot draws the band mass at w against CosScale, with the windowed
// reference and the models without CosScale as horizontal lines.
func bandPlot(stats []bandStat, cks []loadedModel, w, L int) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Attention mass within ±%d of the diagonal (L = %d)", w, L), "CosScale s", "share of attention mass")
	p.Legend.Left = true
	var xs, ys []float64
	for _, ck := range cks {
		if s, ok := find(stats, ck.dir, false, w); ok && ck.Config.CosScale > 0 {
			xs, ys = append(xs, ck.Config.CosScale), append(ys, s.Mass)
		}
	}
	lo, hi := 4.0, 512.0
	if len(xs) > 0 {
		lo, hi = xs[0]/1.5, xs[len(xs)-1]*1.5
	}
	log2Axis(&p.X)
	if err := (series{label: "CosScale models", x: xs, y: ys, color: colorAt(0), points: true}).add(p); err != nil {
		return nil, err
	}
	if s, ok := find(stats, "", true, w); ok {
		if err := hline(fmt.Sprintf("windowed attention, w = %d (%.3f)", w, s.Mass), s.Mass, lo, hi, colorAt(7), dashes[1]).add(p); err != nil {
			return nil, err
		}
	}
	for i, ck := range cks {
		if ck.Config.CosScale > 0 {
			continue
		}
		if s, ok := find(stats, ck.dir, false, w); ok {
			if err := hline("no CosScale: "+ck.name(), s.Mass, lo, hi, colorAt(3+i), dashes[2]).add(p); err != nil {
				return nil, err
			}
		}
	}
	if len(xs) == 0 {
		p.X.Min, p.X.Max = lo, hi
	}
	widenLogRange(&p.X)
	p.Y.Min, p.Y.Max = 0, 1.05
	return p, nil
}

// bandWidthPlot draws the band mass against the half-width for each model
// and the windowed reference. Width 0 is drawn at 0.5 on the log axis.
func bandWidthPlot(stats []bandStat, cks []loadedModel, w, L int) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Attention mass within ±w of the diagonal (L = %d; w = 0 drawn at 0.5)", L), "half-width w", "share of attention mass")
	p.Legend.Left = true
	log2Axis(&p.X)
	curve := func(model string, window bool) (xs, ys []float64) {
		for _, s := range stats {
			if s.Layer == -1 && s.Window == window && (window || s.Model == model) {
				xs, ys = append(xs, math.Max(0.5, float64(s.W))), append(ys, s.Mass)
			}
		}
		return xs, ys
	}
	for i, ck := range cks {
		xs, ys := curve(ck.dir, false)
		if err := (series{label: ck.label() + " (" + ck.name() + ")", x: xs, y: ys, color: colorAt(i), points: true}).add(p); err != nil {
			return nil, err
		}
	}
	xs, ys := curve("", true)
	if err := (series{label: fmt.Sprintf("windowed attention, w = %d", w), x: xs, y: ys, color: colorAt(7), dashes: dashes[1]}).add(p); err != nil {
		return nil, err
	}
	widenLogRange(&p.X)
	p.Y.Min, p.Y.Max = 0, 1.05
	return p, nil
}

func bandTable(stats []bandStat, cks []loadedModel, w int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Attention mass within ±%d (mean over rows, layers, documents):\n\n| model | CosScale | mass |\n|---|---:|---:|\n", w)
	for _, ck := range cks {
		if s, ok := find(stats, ck.dir, false, w); ok {
			fmt.Fprintf(&sb, "| %s | %g | %.4f |\n", ck.name(), ck.Config.CosScale, s.Mass)
		}
	}
	if s, ok := find(stats, "", true, w); ok {
		fmt.Fprintf(&sb, "| windowed attention (w = %d) | | %.4f |\n", w, s.Mass)
	}
	sb.WriteString("\n")
	return sb.String()
}
