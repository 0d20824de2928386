package analysis

import (
	"fmt"
	"io"
	"math"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/study"
)

// Documents returns the test documents of a model, tokenised with its
// vocabulary, and their ids.
type Documents func(m Model) ([][]int, []string, error)

// EtaModels runs Eta on every model at length L (each on its documents)
// and returns the results with their rows of eta_hist.csv and eta_peak.csv
// (peaks smoothed by sigma bins). progress receives a line per model.
func EtaModels(be backend.Backend, ms []Model, docs Documents, L int, sigma float64, progress io.Writer) ([]EtaResult, []study.EtaHistRow, []study.EtaPeakRow, error) {
	var results []EtaResult
	var hist []study.EtaHistRow
	var peak []study.EtaPeakRow
	for _, m := range ms {
		fmt.Fprintf(progress, "eta: %s (%s)\n", m.Dir, m.Label())
		toks, _, err := docs(m)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", m.Dir, err)
		}
		r, err := Eta(be, m, toks, L)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", m.Dir, err)
		}
		h, p := r.Rows(sigma)
		results, hist, peak = append(results, r), append(hist, h...), append(peak, p...)
	}
	return results, hist, peak, nil
}

// BandModels runs Band on every model at length L under its own policy
// (or normalisation norm), then on the first model with windowed attention
// of half-width w as the reference (its rows marked Window, CosScale NaN):
// the rows of band.csv. progress receives a line per run.
func BandModels(be backend.Backend, ms []Model, docs Documents, norm string, L, w int, widths []int, progress io.Writer) ([]study.BandRow, error) {
	var rows []study.BandRow
	for i, m := range append(ms, ms[0]) {
		pol, err := m.Config.Policy(norm)
		what := fmt.Sprintf("%s (%s)", m.Dir, m.Label())
		if i == len(ms) {
			pol, err = WindowPolicy(m, norm, w)
			what = fmt.Sprintf("windowed attention (w = %d) on %s", w, m.Dir)
		}
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "band: %s\n", what)
		toks, _, err := docs(m)
		if err != nil {
			return nil, err
		}
		st, err := Band(be, m, pol, toks, L, widths)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		for k := range st {
			if st[k].Window = i == len(ms); st[k].Window {
				st[k].CosScale = math.NaN()
			}
		}
		rows = append(rows, st...)
	}
	return rows, nil
}

// HeatmapModels runs HeatmapOf on every model's document number doc of
// its documents at length L, layer l, and returns the maps with their rows
// of heatmap.csv. progress receives the model and the document of each.
func HeatmapModels(be backend.Backend, ms []Model, docs Documents, doc, L, l int, progress io.Writer) ([]*Heatmap, []study.HeatmapRow, error) {
	var maps []*Heatmap
	var rows []study.HeatmapRow
	for _, m := range ms {
		fmt.Fprintf(progress, "heatmap: %s (%s)\n", m.Dir, m.Label())
		toks, ids, err := docs(m)
		if err != nil {
			return nil, nil, err
		}
		if doc >= len(toks) {
			return nil, nil, fmt.Errorf("-doc %d: the corpus has only %d test documents", doc, len(toks))
		}
		fmt.Fprintf(progress, "heatmap: document %s\n", ids[doc])
		hm, err := HeatmapOf(be, m, toks[doc], L, l)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", m.Dir, err)
		}
		maps, rows = append(maps, hm), append(rows, hm.Rows()...)
	}
	return maps, rows, nil
}
