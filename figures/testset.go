package figures

import (
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/infoscale/gaualpha/testset"
)

// Testset draws testset.png: the documents on their first two principal
// components, one colour per cluster, the selected ones ringed.
func Testset(path string, info testset.Info, split string, dpi int) error {
	p, err := testsetPlot(info, split)
	if err != nil {
		return err
	}
	return newFigure(8, 4.5, dpi).savePlotSideLegend(path, p)
}

// testsetPlot scatters the documents on their first two principal
// components, one colour per cluster, the selected ones ringed.
func testsetPlot(info testset.Info, split string) (*plot.Plot, error) {
	p := newPlot(fmt.Sprintf("Spectral clusters and the stratified test set (%s split)", split),
		fmt.Sprintf("PC1 (%.0f%% of variance)", 100*info.Explained[0]), fmt.Sprintf("PC2 (%.0f%% of variance)", 100*info.Explained[1]))
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	for cl, size := range info.Sizes {
		var xys plotter.XYs
		for i, l := range info.Labels {
			if l == cl {
				xys = append(xys, plotter.XY{X: info.PCA[i][0], Y: info.PCA[i][1]})
			}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		sc.Color = colorAt(cl)
		sc.Shape = draw.CircleGlyph{}
		sc.Radius = vg.Points(2)
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("cluster %d (%d documents, %d drawn)", cl, size, info.Quotas[cl]), sc)
	}
	var xys plotter.XYs
	for _, i := range info.Selected {
		xys = append(xys, plotter.XY{X: info.PCA[i][0], Y: info.PCA[i][1]})
	}
	if len(xys) > 0 {
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		sc.Color = color.Black
		sc.Shape = draw.RingGlyph{}
		sc.Radius = vg.Points(5)
		p.Add(sc)
		p.Legend.Add(strings.TrimSpace(fmt.Sprintf("selected (%d)", len(xys))), sc)
	}
	return p, nil
}
