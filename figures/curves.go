package figures

import (
	"cmp"
	"fmt"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/infoscale/gaualpha/analysis"
	"github.com/infoscale/gaualpha/study"
)

// Curves draws path (curves_accuracy.png or curves_loss.png): metric
// ("accuracy" or "loss") against length, one panel per normalisation (rows)
// and base model (columns, by CosScale), one line per method, the legend
// in a last column.
func Curves(path string, s *study.Suite, metric string, dpi int) error {
	grid, err := curvesGrid(s, metric)
	if err != nil {
		return err
	}
	nr, nc := len(grid), len(grid[0])
	return newFigure(3*float64(nc-1)+1.9, 2.6*float64(nr)+0.2, dpi).saveGrid(path, grid)
}

// curvesGrid builds the panels of one metric: rows are normalisations (in
// order of appearance), columns base models (by CosScale), and a last
// column holding the legend.
func curvesGrid(s *study.Suite, metric string) ([][]*plot.Plot, error) {
	type base struct {
		name string
		s    float64
	}
	var bases []base
	var norms, methods []string
	for _, r := range s.Rows {
		if !slices.ContainsFunc(bases, func(b base) bool { return b.name == r.Base }) {
			bases = append(bases, base{r.Base, r.CosScale})
		}
		if !slices.Contains(norms, r.Norm) {
			norms = append(norms, r.Norm)
		}
		if m := r.MethodLabel(); !slices.Contains(methods, m) {
			methods = append(methods, m)
		}
	}
	slices.SortStableFunc(bases, func(a, b base) int { return cmp.Compare(a.s, b.s) })
	grid := make([][]*plot.Plot, len(norms))
	for i, norm := range norms {
		for _, b := range bases {
			title := fmt.Sprintf("%s, CosScale %g (%s)", norm, b.s, analysis.ShortName(b.name))
			if b.s == 0 {
				title = fmt.Sprintf("%s, no CosScale (%s)", norm, analysis.ShortName(b.name))
			}
			p := newPlot(title, "length", metric)
			p.Title.TextStyle.Font.Size = vg.Points(9)
			log2Axis(&p.X)
			lines := 0
			for _, r := range s.Rows {
				if r.Base != b.name || r.Norm != norm {
					continue
				}
				lines++
				var xs, ys []float64
				for _, res := range r.Results {
					xs = append(xs, float64(res.Length))
					if metric == "accuracy" {
						ys = append(ys, res.Accuracy)
					} else {
						ys = append(ys, res.Loss)
					}
				}
				k := slices.Index(methods, r.MethodLabel())
				if err := (series{x: xs, y: ys, color: colorAt(k), dashes: dashes[(k/len(colors))%len(dashes)], points: true}).add(p); err != nil {
					return nil, err
				}
			}
			if lines == 0 { // a suite of chosen configurations: no such panel
				grid[i] = append(grid[i], nil)
				continue
			}
			widenLogRange(&p.X)
			grid[i] = append(grid[i], p)
		}
		grid[i] = append(grid[i], nil)
	}
	var entries []series
	for k, m := range methods {
		entries = append(entries, series{label: m, color: colorAt(k), dashes: dashes[(k/len(colors))%len(dashes)]})
	}
	leg, err := legendPlot(entries)
	if err != nil {
		return nil, err
	}
	grid[0][len(grid[0])-1] = leg
	return grid, nil
}
