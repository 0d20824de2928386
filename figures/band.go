package figures

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"

	"github.com/infoscale/gaualpha/analysis"
	"github.com/infoscale/gaualpha/study"
)

// Band draws band.png: the band mass at w against CosScale, with the
// windowed reference and the models without CosScale as horizontal lines,
// and band_w.png: the band mass against the half-width for each model and
// the windowed reference.
func Band(bandPath, widthsPath string, rows []study.BandRow, ms []analysis.Model, w, L, dpi int) error {
	p, err := bandPlot(rows, ms, w, L)
	if err != nil {
		return err
	}
	if err := newFigure(8, 4, dpi).savePlotSideLegend(bandPath, p); err != nil {
		return err
	}
	if p, err = bandWidthPlot(rows, ms, w, L); err != nil {
		return err
	}
	return newFigure(8, 4, dpi).savePlotSideLegend(widthsPath, p)
}

func bandPlot(stats []study.BandRow, cks []analysis.Model, w, L int) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Attention mass within ±%d of the diagonal (L = %d)", w, L), "CosScale s", "share of attention mass")
	p.Legend.Left = true
	var xs, ys []float64
	for _, ck := range cks {
		if s, ok := analysis.BandRow(stats, ck.Dir, false, w); ok && ck.Config.CosScale > 0 {
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
	if s, ok := analysis.BandRow(stats, "", true, w); ok {
		if err := hline(fmt.Sprintf("windowed attention, w = %d (%.3f)", w, s.Mass), s.Mass, lo, hi, colorAt(7), dashes[1]).add(p); err != nil {
			return nil, err
		}
	}
	for i, ck := range cks {
		if ck.Config.CosScale > 0 {
			continue
		}
		if s, ok := analysis.BandRow(stats, ck.Dir, false, w); ok {
			if err := hline("no CosScale: "+ck.Name(), s.Mass, lo, hi, colorAt(3+i), dashes[2]).add(p); err != nil {
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
func bandWidthPlot(stats []study.BandRow, cks []analysis.Model, w, L int) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Attention mass within ±w of the diagonal (L = %d; w = 0 drawn at 0.5)", L), "half-width w", "share of attention mass")
	p.Legend.Left = true
	log2Axis(&p.X)
	curve := func(model string, window bool) (xs, ys []float64) {
		for _, s := range stats {
			if s.Layer == study.AllLayers && s.Window == window && (window || s.Model == model) {
				xs, ys = append(xs, math.Max(0.5, float64(s.W))), append(ys, s.Mass)
			}
		}
		return xs, ys
	}
	for i, ck := range cks {
		xs, ys := curve(ck.Dir, false)
		if err := (series{label: ck.Label() + " (" + ck.Name() + ")", x: xs, y: ys, color: colorAt(i), points: true}).add(p); err != nil {
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
