package figures

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/infoscale/gaualpha/study"
)

// colors is a ten-colour qualitative palette (Tableau 10), so that ten
// methods or models stay distinguishable.
var colors = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
	color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255}, color.RGBA{188, 189, 34, 255},
	color.RGBA{23, 190, 207, 255},
}

func colorAt(i int) color.Color { return colors[i%len(colors)] }

// dashes are line dash patterns cycled after the colours run out (and used
// for the normalisations).
var dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)}}

// series is one line of a plot: points (NaN y values are left out), a label
// and a style.
type series struct {
	label  string
	x, y   []float64
	color  color.Color
	dashes []vg.Length
	points bool // draw markers at the points too
	width  vg.Length
}

// add draws s on p and puts it in the legend (when it has a label).
func (s series) add(p *plot.Plot) error {
	var xys plotter.XYs
	for i := range s.x {
		if !math.IsNaN(s.y[i]) && !math.IsInf(s.y[i], 0) && !math.IsNaN(s.x[i]) {
			xys = append(xys, plotter.XY{X: s.x[i], Y: s.y[i]})
		}
	}
	if len(xys) == 0 {
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("plot %q: %w", s.label, err)
	}
	l.Color = s.color
	if l.Color == nil {
		l.Color = color.Black
	}
	l.Dashes = s.dashes
	if s.width > 0 {
		l.Width = s.width
	} else {
		l.Width = vg.Points(1.5)
	}
	p.Add(l)
	var thumbs []plot.Thumbnailer = []plot.Thumbnailer{l}
	if s.points || len(xys) == 1 {
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("plot %q: %w", s.label, err)
		}
		sc.Color = l.Color
		sc.Radius = vg.Points(2.5)
		p.Add(sc)
		thumbs = append(thumbs, sc)
	}
	if s.label != "" {
		p.Legend.Add(s.label, thumbs...)
	}
	return nil
}

// hline is a horizontal reference line over [x0, x1].
func hline(label string, y, x0, x1 float64, c color.Color, d []vg.Length) series {
	return series{label: label, x: []float64{x0, x1}, y: []float64{y, y}, color: c, dashes: d, width: vg.Points(1)}
}

// newPlot returns a plot with a title and axis labels and a legible legend.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.Add(plotter.NewGrid())
	return p
}

// log2Axis makes an axis logarithmic with ticks at the powers of two in its
// range (every other one labelled when there are many).
func log2Axis(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = plot.TickerFunc(log2Ticks)
}

// widenLogRange gives a logarithmic axis holding a single value a range
// around it (the plotting library would widen it by ±1, possibly to 0).
func widenLogRange(a *plot.Axis) {
	if a.Min == a.Max && a.Min > 0 {
		a.Min, a.Max = a.Min/2, a.Max*2
	}
}

func log2Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= 0 || hi < lo {
		return nil
	}
	e0, e1 := int(math.Floor(math.Log2(lo)+1e-9)), int(math.Ceil(math.Log2(hi)-1e-9))
	step := 1
	for (e1-e0)/step > 8 {
		step++
	}
	var ts []plot.Tick
	for e := e0; e <= e1; e++ {
		v := math.Exp2(float64(e))
		if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
			continue
		}
		t := plot.Tick{Value: v}
		if (e-e0)%step == 0 {
			t.Label = strconv.FormatFloat(v, 'g', -1, 64)
		}
		ts = append(ts, t)
	}
	return ts
}

// figure is a PNG of a fixed size in inches.
type figure struct {
	w, h vg.Length
	dpi  int
}

func newFigure(wInch, hInch float64, dpi int) figure {
	return figure{w: vg.Length(wInch) * vg.Inch, h: vg.Length(hInch) * vg.Inch, dpi: dpi}
}

// save draws with drawFn on a white canvas and writes the PNG to path. A
// panic of the plotting library (it panics on some degenerate ranges)
// becomes an error.
func (f figure) save(path string, drawFn func(dc draw.Canvas)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing %s: %v", path, r)
		}
	}()
	c := vgimg.NewWith(vgimg.UseWH(f.w, f.h), vgimg.UseDPI(f.dpi))
	drawFn(draw.New(c))
	return study.WriteFile(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: c}.WriteTo(w)
		return err
	})
}

// savePlot writes one plot.
func (f figure) savePlot(path string, p *plot.Plot) error {
	return f.save(path, p.Draw)
}

// savePlotSideLegend writes one plot with its legend to the right of the
// axes instead of over the data.
func (f figure) savePlotSideLegend(path string, p *plot.Plot) error {
	return f.save(path, func(dc draw.Canvas) {
		leg := p.Legend
		p.Legend = plot.NewLegend()
		defer func() { p.Legend = leg }()
		leg.Top, leg.Left = true, true
		pad := vg.Points(6)
		w := leg.Rectangle(dc).Size().X + 2*pad
		w = min(w, (dc.Max.X-dc.Min.X)/2)
		p.Draw(draw.Crop(dc, 0, -w, 0, 0))
		leg.Draw(draw.Crop(dc, dc.Max.X-dc.Min.X-w+pad, 0, 0, -vg.Points(24)))
	})
}

// saveGrid writes plots laid out in a grid (rows of equal length; a nil
// entry leaves its tile empty).
func (f figure) saveGrid(path string, grid [][]*plot.Plot) error {
	return f.save(path, func(dc draw.Canvas) { drawGrid(dc, grid) })
}

func drawGrid(dc draw.Canvas, grid [][]*plot.Plot) {
	if len(grid) == 0 {
		return
	}
	cols := len(grid[0])
	filled := make([][]*plot.Plot, len(grid))
	for r, row := range grid {
		filled[r] = make([]*plot.Plot, cols)
		for c := range cols {
			if c < len(row) && row[c] != nil {
				filled[r][c] = row[c]
			} else {
				filled[r][c] = plot.New()
				filled[r][c].HideAxes()
			}
		}
	}
	t := draw.Tiles{Rows: len(grid), Cols: cols, PadX: vg.Points(4), PadY: vg.Points(4),
		PadTop: vg.Points(2), PadBottom: vg.Points(2), PadLeft: vg.Points(2), PadRight: vg.Points(2)}
	canvases := plot.Align(filled, t, dc)
	for r := range filled {
		for c := range filled[r] {
			filled[r][c].Draw(canvases[r][c])
		}
	}
}

// legendPlot is an axis-less plot showing only a legend (for the last tile
// of a grid whose panels share one).
func legendPlot(entries []series) (*plot.Plot, error) {
	p := plot.New()
	p.HideAxes()
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	for _, s := range entries {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 0}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes, l.Width = s.color, s.dashes, vg.Points(1.5)
		if l.Color == nil {
			l.Color = color.Black
		}
		p.Legend.Add(s.label, l)
	}
	return p, nil
}

// gridShape returns rows and columns for n panels, at most maxCols wide.
func gridShape(n, maxCols int) (rows, cols int) {
	cols = min(n, maxCols)
	if cols < 1 {
		return 0, 0
	}
	return (n + cols - 1) / cols, cols
}
