package figures

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/infoscale/gaualpha/analysis"
)

// EtaHists draws the pooled histograms of every model (before RoPE, all
// pairs; after RoPE, attention-weighted) into histPath (eta_hist.png) and
// the per-layer pre-RoPE ones into layersPath (eta_layers.png).
func EtaHists(histPath, layersPath string, results []analysis.EtaResult, dpi int) error {
	xs := make([]float64, analysis.EtaBins)
	for b := range xs {
		xs[b] = analysis.BinCentre(float64(b))
	}
	panel := func(title, ylabel string, pick func(h *analysis.CosHists) []float64, layer int, legend bool) (*plot.Plot, error) {
		p := newPlot(title, "cos(q_i, k_j)", ylabel)
		p.Legend.Left = true
		lo := 1.0
		for i, r := range results {
			l := layer
			if l < 0 {
				l = len(r.Layers) - 1
			}
			if l >= len(r.Layers)-1 && layer >= 0 {
				continue // a shallower model has no such layer
			}
			h := r.Layers[l]
			if err := (series{label: r.Model.Label(), x: xs, y: analysis.Density(pick(h)), color: colorAt(i)}).add(p); err != nil {
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
	pre, err := panel("before RoPE, all pairs (pooled layers)", "density", func(h *analysis.CosHists) []float64 { return h.Pre }, -1, true)
	if err != nil {
		return err
	}
	post, err := panel("after RoPE, weighted by attention p_ij", "density", func(h *analysis.CosHists) []float64 {
		if !h.Weighted {
			return make([]float64, analysis.EtaBins)
		}
		return h.PostAttn
	}, -1, false)
	if err != nil {
		return err
	}
	if err := newFigure(10, 4, dpi).saveGrid(histPath, [][]*plot.Plot{{pre, post}}); err != nil {
		return err
	}
	nl := 0
	for _, r := range results {
		nl = max(nl, len(r.Layers)-1)
	}
	rows, cols := gridShape(nl, 3)
	grid := make([][]*plot.Plot, rows)
	for l := 0; l < nl; l++ {
		p, err := panel(fmt.Sprintf("layer %d, before RoPE", l), "density", func(h *analysis.CosHists) []float64 { return h.Pre }, l, l == 0)
		if err != nil {
			return err
		}
		grid[l/cols] = append(grid[l/cols], p)
	}
	return newFigure(3.3*float64(cols), 2.8*float64(rows), dpi).saveGrid(layersPath, grid)
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
			return -1 + float64(b)*analysis.EtaBinWidth
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

// EtaPeak draws eta_peak.png: η1* against CosScale, measured before RoPE
// (all pairs and weighted by attention), measured after RoPE weighted by
// attention, and the vMF-tilt prediction as a curve. Models without
// CosScale appear as horizontal dashed lines.
func EtaPeak(path string, results []analysis.EtaResult, sigma float64, L, dpi int) error {
	p, err := etaPeakPlot(results, sigma, L)
	if err != nil {
		return err
	}
	return newFigure(8, 4, dpi).savePlotSideLegend(path, p)
}

func etaPeakPlot(results []analysis.EtaResult, sigma float64, L int) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Peak η1* of the cos(q, k) distribution vs CosScale (L = %d)", L), "CosScale s", "η1*")
	p.Legend.Left = true
	var xs, pre, preAttn, postAttn []float64
	var ref *analysis.EtaResult
	for i, r := range results {
		if r.Model.Config.CosScale <= 0 {
			continue
		}
		pk := r.Layers[len(r.Layers)-1].Peaks(sigma)
		xs = append(xs, r.Model.Config.CosScale)
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
		perS := ref.Kappa / ref.Model.Config.CosScale
		for t := 0; t <= 100; t++ {
			s := lo * math.Pow(hi/lo, float64(t)/100)
			tx = append(tx, s)
			ty = append(ty, analysis.EtaTheory(s*perS, ref.Model.Config.KeySize))
		}
		lbl := fmt.Sprintf("prediction for isotropic keys (d=%d, κ=%.3g·s)", ref.Model.Config.KeySize, perS)
		if err := (series{label: lbl, x: tx, y: ty, color: colorAt(3), width: vg.Points(1)}).add(p); err != nil {
			return nil, err
		}
	}
	for i, r := range results {
		if r.Model.Config.CosScale > 0 {
			continue
		}
		pk := r.Layers[len(r.Layers)-1].Peaks(sigma)
		lbl := fmt.Sprintf("no CosScale (%s), before RoPE", r.Model.Name())
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
