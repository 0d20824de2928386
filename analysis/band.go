package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/study"
)

// HalfWidths returns the half-widths of the band analysis at length L:
// widths (0 and the powers of two up to L/2 when nil) and w, sorted and
// without repeats. A half-width outside 0..L-1 is an error naming -w or
// -ws.
func HalfWidths(L, w int, widths []int) ([]int, error) {
	if w < 0 || w >= L {
		return nil, fmt.Errorf("-w %d outside 0..%d (-L %d: a half-width of L-1 already holds every key)", w, L-1, L)
	}
	ws := slices.Clone(widths)
	if len(ws) == 0 {
		ws = []int{0}
		for x := 1; x <= L/2; x *= 2 {
			ws = append(ws, x)
		}
	}
	for _, x := range ws {
		if x < 0 || x >= L {
			return nil, fmt.Errorf("-ws: half-width %d outside 0..%d (-L %d: a half-width of L-1 already holds every key)", x, L-1, L)
		}
	}
	ws = append(ws, w)
	slices.Sort(ws)
	return slices.Compact(ws), nil
}

// WindowPolicy is the model's policy under a normalisation ("" for its
// own) with windowed attention of half-width w (|i-j| <= w kept).
func WindowPolicy(m Model, norm string, w int) (attn.Policy, error) {
	pol, err := m.Config.Policy(norm)
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

// Band runs m under pol on the documents at length L and returns the mean
// attention mass within each half-width of widths, per layer and pooled
// over layers: the rows of band.csv (the caller marks those of the
// windowed-attention reference).
func Band(be backend.Backend, m Model, pol attn.Policy, docs [][]int, L int, widths []int) ([]study.BandRow, error) {
	p, err := NewProbe(be, m, pol, L)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	nl := p.Layers()
	acc := make([][]moments, nl+1)
	for l := range acc {
		acc[l] = make([]moments, len(widths))
	}
	for d, doc := range docs {
		if err := p.Run(doc); err != nil {
			return nil, fmt.Errorf("document %d: %w", d, err)
		}
		for l := range nl {
			_, masses, err := p.layerRows(l, widths)
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", d, err)
			}
			for k, ms := range masses {
				for _, x := range ms {
					acc[l][k].add(x)
					acc[nl][k].add(x)
				}
			}
		}
	}
	var out []study.BandRow
	for l := range acc {
		layer := study.Layer(l)
		if l == nl {
			layer = study.AllLayers
		}
		for k, w := range widths {
			a := acc[l][k]
			if a.n == 0 {
				return nil, fmt.Errorf("layer %d has no attention rows", l)
			}
			out = append(out, study.BandRow{Model: m.Dir, CosScale: m.Config.CosScale, Layer: layer, W: w, Mass: a.mean, Std: a.std(), Rows: a.n})
		}
	}
	return out, nil
}

// BandRow returns the pooled row of a model (or of the windowed reference)
// at half-width w.
func BandRow(rows []study.BandRow, model string, window bool, w int) (study.BandRow, bool) {
	for _, s := range rows {
		if s.Layer == study.AllLayers && s.W == w && s.Window == window && (window || s.Model == model) {
			return s, true
		}
	}
	return study.BandRow{}, false
}

// BandTable renders the pooled mass within ±w per model and of the
// windowed reference as a Markdown table.
func BandTable(rows []study.BandRow, ms []Model, w int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Attention mass within ±%d (mean over rows, layers, documents):\n\n| model | CosScale | mass |\n|---|---:|---:|\n", w)
	for _, m := range ms {
		if s, ok := BandRow(rows, m.Dir, false, w); ok {
			fmt.Fprintf(&sb, "| %s | %g | %.4f |\n", m.Name(), m.Config.CosScale, s.Mass)
		}
	}
	if s, ok := BandRow(rows, "", true, w); ok {
		fmt.Fprintf(&sb, "| windowed attention (w = %d) | | %.4f |\n", w, s.Mass)
	}
	sb.WriteString("\n")
	return sb.String()
}
