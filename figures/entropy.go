package figures

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/infoscale/gaualpha/study"
)

// Entropy draws entropy.png: the mean entropy pooled over layers against
// length, one line per normalisation, and ln n.
func Entropy(path string, rows []study.EntropyRow, norms []string, lengths []int, title string, dpi int) error {
	p, err := entropyPlot(rows, norms, lengths, study.AllLayers, title, true)
	if err != nil {
		return err
	}
	return newFigure(6, 4, dpi).savePlot(path, p)
}

// EntropyLayers draws entropy_layers.png: Entropy's plot for each of the
// model's layers layers.
func EntropyLayers(path string, rows []study.EntropyRow, norms []string, lengths []int, layers, dpi int) error {
	nr, nc := gridShape(layers, 3)
	grid := make([][]*plot.Plot, nr)
	for l := range layers {
		p, err := entropyPlot(rows, norms, lengths, study.Layer(l), fmt.Sprintf("layer %d", l), l == 0)
		if err != nil {
			return err
		}
		grid[l/nc] = append(grid[l/nc], p)
	}
	return newFigure(3.3*float64(nc), 2.8*float64(nr), dpi).saveGrid(path, grid)
}

// entropyPlot draws mean entropy vs length for one layer, one line per
// normalisation, and ln n.
func entropyPlot(rows []study.EntropyRow, norms []string, lengths []int, layer study.Layer, title string, legend bool) (*plot.Plot, error) {
	p := newPlot(title, "sequence length n", "entropy (nats)")
	p.Legend.Left = true
	log2Axis(&p.X)
	xs := make([]float64, len(lengths))
	lnN := make([]float64, len(lengths))
	for i, L := range lengths {
		xs[i], lnN[i] = float64(L), math.Log(float64(L))
	}
	for k, norm := range norms {
		ys := make([]float64, len(lengths))
		for i, L := range lengths {
			ys[i] = math.NaN()
			for _, s := range rows {
				if s.Norm == norm && s.Layer == layer && s.Length == L {
					ys[i] = s.Mean
				}
			}
		}
		if err := (series{label: norm, x: xs, y: ys, color: colorAt(k), points: true}).add(p); err != nil {
			return nil, err
		}
	}
	ref := series{label: "ln n (uniform)", x: xs, y: lnN, color: colorAt(7), dashes: dashes[1], width: vg.Points(1)}
	if err := ref.add(p); err != nil {
		return nil, err
	}
	widenLogRange(&p.X)
	p.Y.Min = 0
	if !legend {
		p.Legend = plot.NewLegend()
	}
	return p, nil
}
