package figures

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/infoscale/gaualpha/analysis"
)

// heatmapPixels caps the resolution of a heat map image: larger matrices
// are averaged over blocks first (a panel is about 150 pixels wide).
const heatmapPixels = 256

// downsample averages an L×L matrix to n×n (n <= L): output cell (r, c)
// is the mean over rows [r·L/n, (r+1)·L/n) and the same columns.
func downsample(m []float64, L, n int) []float64 {
	if n >= L {
		return m
	}
	out := make([]float64, n*n)
	for r := 0; r < n; r++ {
		i0, i1 := r*L/n, (r+1)*L/n
		for c := 0; c < n; c++ {
			j0, j1 := c*L/n, (c+1)*L/n
			var s float64
			for i := i0; i < i1; i++ {
				for j := j0; j < j1; j++ {
					s += m[i*L+j]
				}
			}
			out[r*n+c] = s / float64((i1-i0)*(j1-j0))
		}
	}
	return out
}

// colorLUT samples a colour map at 256 evenly spaced values of [0, 1].
func colorLUT() ([]color.RGBA, error) {
	cm := moreland.ExtendedKindlmann()
	cm.SetMin(0)
	cm.SetMax(1)
	lut := make([]color.RGBA, 256)
	for i := range lut {
		c, err := cm.At(float64(i) / 255)
		if err != nil {
			return nil, fmt.Errorf("colour map: %w", err)
		}
		r, g, b, _ := c.RGBA()
		lut[i] = color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}
	}
	return lut, nil
}

// matrixImage renders an n×n matrix of values in [0, 1] as an image in
// matrix layout: entry (i, j) is the pixel in row i from the top, column j
// from the left.
func matrixImage(m []float64, n int, lut []color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := math.Max(0, math.Min(1, m[i*n+j]))
			img.SetRGBA(j, i, lut[int(math.Round(v*float64(len(lut)-1)))])
		}
	}
	return img
}

// matrixTicks labels an axis of a matrix panel spanning [0, L] with
// indices 0, L/2 and L (reversed: the index L - y, for the vertical axis,
// whose row 0 is at the top).
func matrixTicks(L int, reversed bool) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var ts []plot.Tick
		for _, idx := range []int{0, L / 2, L} {
			v := float64(idx)
			if reversed {
				v = float64(L - idx)
			}
			ts = append(ts, plot.Tick{Value: v, Label: strconv.Itoa(idx)})
		}
		return ts
	})
}

// Heatmaps draws heatmap.png: a grid of heat maps, one column per model,
// before RoPE (top) and after (bottom), and a colour bar. The maps are of
// one length and layer.
func Heatmaps(path string, models []*analysis.Heatmap, dpi int) error {
	if len(models) == 0 {
		return fmt.Errorf("no heat map to draw")
	}
	L, layer := models[0].L, models[0].Layer
	lut, err := colorLUT()
	if err != nil {
		return err
	}
	n := min(L, heatmapPixels)
	grid := [][]*plot.Plot{make([]*plot.Plot, len(models)), make([]*plot.Plot, len(models))}
	for c, m := range models {
		for r, mat := range [][]float64{m.Pre, m.Post} {
			p := plot.New()
			p.Add(plotter.NewImage(matrixImage(downsample(mat, L, n), n, lut), 0, 0, float64(L), float64(L)))
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, float64(L), 0, float64(L)
			p.X.Tick.Marker, p.Y.Tick.Marker = matrixTicks(L, false), matrixTicks(L, true)
			p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = vg.Points(7), vg.Points(7)
			if r == 0 {
				p.Title.Text = m.Model.Label() + "\n" + m.Model.Name()
				p.Title.TextStyle.Font.Size = vg.Points(9)
			} else {
				p.X.Label.Text = "key j"
				p.X.Label.TextStyle.Font.Size = vg.Points(9)
			}
			if c == 0 {
				p.Y.Label.Text = []string{"before RoPE: query i", "after RoPE: query i"}[r]
				p.Y.Label.TextStyle.Font.Size = vg.Points(9)
			}
			grid[r][c] = p
		}
	}
	bar := plot.New()
	cm := moreland.ExtendedKindlmann()
	cm.SetMin(0)
	cm.SetMax(1)
	bar.Add(&plotter.ColorBar{ColorMap: cm, Vertical: true})
	bar.HideX()
	bar.Y.Label.Text = "normalised q·k"
	bar.Y.Label.TextStyle.Font.Size = vg.Points(9)
	bar.Y.Tick.Label.Font.Size = vg.Points(8)
	bar.Title.Text = " "
	w := math.Max(6, 1.7*float64(len(models))+1.1)
	fig := newFigure(w, 4, dpi)
	barW := vg.Inch
	return fig.save(path, func(dc draw.Canvas) {
		left := draw.Crop(dc, 0, -barW, 0, -vg.Points(16))
		drawGrid(left, grid)
		right := draw.Crop(dc, dc.Max.X-dc.Min.X-barW+vg.Points(4), 0, vg.Points(30), -vg.Points(30))
		bar.Draw(right)
		title := fmt.Sprintf("q·k at L = %d, layer %d: before RoPE (top), after RoPE (bottom); each column scaled to [0, 1]", L, layer)
		if len(models) < 3 {
			title = fmt.Sprintf("q·k, L = %d, layer %d", L, layer)
		}
		sty := bar.Title.TextStyle
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		sty.Font.Size = vg.Points(10)
		dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y - vg.Points(2)}, strings.TrimSpace(title))
	})
}
