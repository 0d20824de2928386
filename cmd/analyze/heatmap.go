package main

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/infoscale/gaualpha/layers"
)

// heatmapPixels caps the resolution of a heat map image: larger matrices
// are averaged over blocks first (a panel is about 150 pixels wide).
const heatmapPixels = 256

// qkMatrix returns the L×L matrix of dot products, row-major, with q_i·k_j
// at row i, column j (M[i·L+j]); q and k are [L, D].
func qkMatrix(q, k []float32, L, D int) []float64 {
	m := make([]float64, L*L)
	for i := 0; i < L; i++ {
		qi := q[i*D : (i+1)*D]
		for j := 0; j < L; j++ {
			kj := k[j*D : (j+1)*D]
			var s float64
			for c := range qi {
				s += float64(qi[c]) * float64(kj[c])
			}
			m[i*L+j] = s
		}
	}
	return m
}

// normalisePair maps the values of a and b, in place, to [0, 1] by their
// common minimum and maximum, which it returns. If all values are equal
// they become 0.
func normalisePair(a, b []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, m := range [][]float64{a, b} {
		for _, v := range m {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, m := range [][]float64{a, b} {
		for i, v := range m {
			if hi > lo {
				m[i] = (v - lo) / (hi - lo)
			} else {
				m[i] = 0
			}
		}
	}
	return lo, hi
}

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

// matrixStats summarises one q·k matrix (raw values).
type matrixStats struct {
	Min, Max, Mean, Std float64
	// Diag is the mean of the diagonal (i = j), Near of 1 <= |i-j| <= 16,
	// Far of |i-j| >= L/4.
	Diag, Near, Far float64
}

func statsOf(m []float64, L int) matrixStats {
	var all, diag, near, far moments
	s := matrixStats{Min: math.Inf(1), Max: math.Inf(-1)}
	for i := 0; i < L; i++ {
		for j := 0; j < L; j++ {
			v := m[i*L+j]
			s.Min, s.Max = math.Min(s.Min, v), math.Max(s.Max, v)
			all.add(v)
			switch d := abs(i - j); {
			case d == 0:
				diag.add(v)
			case d <= 16:
				near.add(v)
			}
			if 4*abs(i-j) >= L {
				far.add(v)
			}
		}
	}
	s.Mean, s.Std, s.Diag, s.Near, s.Far = all.mean, all.std(), diag.mean, near.mean, far.mean
	if near.n == 0 {
		s.Near = math.NaN()
	}
	if far.n == 0 {
		s.Far = math.NaN()
	}
	return s
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// heatmapModel holds one model's two matrices, normalised together.
type heatmapModel struct {
	ck        loadedModel
	pre, post []float64 // normalised, L×L
	statsPre  matrixStats
	statsPost matrixStats
	lo, hi    float64
}

func runHeatmap(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("heatmap", "-ckpt DIR[,DIR...] [flags]",
		"The paper's figure 5: the matrix of q_i·k_j (row i = query, column j = key) of one\n"+
			"layer on one test document, before RoPE (top row) and after RoPE (bottom row), one\n"+
			"column per model ordered by CosScale. The two maps of a column are scaled together\n"+
			"to [0, 1] by their common minimum and maximum. q and k are taken after ScaleOffset\n"+
			"and CosScale, without the logit scale. Writes heatmap.png and heatmap.csv (summary\n"+
			"statistics of each matrix, not the matrices).", stderr)
	ckpt := fs.String("ckpt", "", "comma-separated checkpoint `dirs`; required")
	corpusPath := fs.String("corpus", "embedded", "`path` of the corpus the test documents come from (its validation split)")
	L := fs.Int("L", 1024, "sequence length (the document is tiled or cut to it)")
	layer := fs.Int("layer", 0, "layer whose q and k are shown (0-based: 0 is the first)")
	doc := fs.Int("doc", 0, "which of the 10 test documents to use (0-based)")
	maxMemory := maxMemoryFlag(fs)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *L < 2 {
		return fmt.Errorf("-L %d must be at least 2", *L)
	}
	if *doc < 0 || *doc > 9 {
		return fmt.Errorf("-doc %d outside 0..9", *doc)
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
	var cfgs []layers.Config
	for _, ck := range cks {
		if *layer < 0 || *layer >= ck.Config.NumLayers {
			return fmt.Errorf("-layer %d: %s has %d layers", *layer, ck.dir, ck.Config.NumLayers)
		}
		cfgs = append(cfgs, ck.Config)
	}
	if err := mem.check(fmt.Sprintf("-L %d (two L×L matrices per model, %s)", *L, plural(len(cks), "model")), heatmapBytes(cfgs, *L)); err != nil {
		return err
	}
	progress := c.progress(stderr)
	var models []heatmapModel
	for _, ck := range cks {
		fmt.Fprintf(progress, "heatmap: %s (%s)\n", ck.dir, ck.label())
		toks, ids, err := someTestDocuments(*corpusPath, ck, 10, *L)
		if err != nil {
			return err
		}
		if *doc >= len(toks) {
			return fmt.Errorf("-doc %d: the corpus has only %d test documents", *doc, len(toks))
		}
		fmt.Fprintf(progress, "heatmap: document %s\n", ids[*doc])
		hm, err := heatmapOf(ck, toks[*doc], *L, *layer)
		if err != nil {
			return fmt.Errorf("%s: %w", ck.dir, err)
		}
		models = append(models, hm)
	}
	out := &outputs{dir: c.out}
	if err := writeCSV(out.path("heatmap.csv"), []string{"model", "cosscale", "layer", "length", "rope", "min", "max", "mean", "std",
		"diag_mean", "near_mean", "far_mean", "norm_lo", "norm_hi"}, heatmapCSV(models, *L, *layer)); err != nil {
		return err
	}
	if err := heatmapFigure(models, *L, *layer, c.dpi, out.path("heatmap.png")); err != nil {
		return err
	}
	out.print(stdout)
	return nil
}

// heatmapOf runs one model on doc and returns layer l's q·k matrices before
// and after RoPE, normalised together.
func heatmapOf(ck loadedModel, doc []int, L, l int) (heatmapModel, error) {
	pol, err := ck.Config.Policy("")
	if err != nil {
		return heatmapModel{}, err
	}
	f, err := newForward(ck, pol, L)
	if err != nil {
		return heatmapModel{}, err
	}
	if err := f.run(doc); err != nil {
		return heatmapModel{}, err
	}
	a, err := f.layerAttention(l)
	if err != nil {
		return heatmapModel{}, err
	}
	q, k, qr, kr, err := a.Vectors()
	if err != nil {
		return heatmapModel{}, err
	}
	D := ck.Config.KeySize
	hm := heatmapModel{ck: ck, pre: qkMatrix(q, k, L, D), post: qkMatrix(qr, kr, L, D)}
	hm.statsPre, hm.statsPost = statsOf(hm.pre, L), statsOf(hm.post, L)
	hm.lo, hm.hi = normalisePair(hm.pre, hm.post)
	return hm, nil
}

func heatmapCSV(models []heatmapModel, L, layer int) [][]string {
	var rows [][]string
	for _, m := range models {
		for _, x := range []struct {
			name string
			s    matrixStats
		}{{"before", m.statsPre}, {"after", m.statsPost}} {
			rows = append(rows, []string{m.ck.dir, ff(m.ck.Config.CosScale), strconv.Itoa(layer), strconv.Itoa(L), x.name,
				ff(x.s.Min), ff(x.s.Max), ff(x.s.Mean), ff(x.s.Std), ff(x.s.Diag), ff(x.s.Near), ff(x.s.Far), ff(m.lo), ff(m.hi)})
		}
	}
	return rows
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

// heatmapFigure draws the 2 × models grid of heat maps and a colour bar.
func heatmapFigure(models []heatmapModel, L, layer, dpi int, path string) error {
	lut, err := colorLUT()
	if err != nil {
		return err
	}
	n := min(L, heatmapPixels)
	grid := [][]*plot.Plot{make([]*plot.Plot, len(models)), make([]*plot.Plot, len(models))}
	for c, m := range models {
		for r, mat := range [][]float64{m.pre, m.post} {
			p := plot.New()
			p.Add(plotter.NewImage(matrixImage(downsample(mat, L, n), n, lut), 0, 0, float64(L), float64(L)))
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, float64(L), 0, float64(L)
			p.X.Tick.Marker, p.Y.Tick.Marker = matrixTicks(L, false), matrixTicks(L, true)
			p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = vg.Points(7), vg.Points(7)
			if r == 0 {
				p.Title.Text = m.ck.label() + "\n" + m.ck.name()
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
