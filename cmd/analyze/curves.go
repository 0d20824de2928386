package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// suiteFile is the part of cmd/suite's suite.json that the curves use.
type suiteFile struct {
	Protocol string     `json:"protocol"`
	TrainLen int        `json:"train_length"`
	Rows     []suiteRow `json:"rows"`
}

type suiteRow struct {
	Base      string  `json:"base"`
	CosScale  float64 `json:"cosscale"`
	Method    string  `json:"method"`
	Norm      string  `json:"norm"`
	FineTuned bool    `json:"fine_tuned"`
	Results   []struct {
		Length   int     `json:"length"`
		Accuracy float64 `json:"accuracy"`
		Loss     float64 `json:"loss"`
	} `json:"results"`
}

// readSuite reads and checks a suite.json.
func readSuite(path string) (*suiteFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s suiteFile
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(s.Rows) == 0 {
		return nil, fmt.Errorf("%s: no rows (is it cmd/suite's suite.json?)", path)
	}
	for i, r := range s.Rows {
		if r.Method == "" || r.Norm == "" || len(r.Results) == 0 {
			return nil, fmt.Errorf("%s: row %d lacks a method, a normalisation or results", path, i)
		}
		for _, res := range r.Results {
			if res.Length < 1 {
				return nil, fmt.Errorf("%s: row %d has a result at length %d", path, i, res.Length)
			}
		}
	}
	return &s, nil
}

func runCurves(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("curves", "-suite FILE [flags]",
		"Accuracy and loss against evaluation length from cmd/suite's suite.json: a grid with\n"+
			"one row per normalisation and one column per base model (CosScale), one line per\n"+
			"method ((ft) = fine-tuned). Writes curves_accuracy.png, curves_loss.png and curves.csv.", stderr)
	path := fs.String("suite", "runs/suite/suite.json", "`file` written by cmd/suite")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	s, err := readSuite(*path)
	if err != nil {
		return err
	}
	out := &outputs{dir: c.out}
	var rows [][]string
	for _, r := range s.Rows {
		for _, res := range r.Results {
			rows = append(rows, []string{r.Base, ff(r.CosScale), r.Method, strconv.FormatBool(r.FineTuned), r.Norm,
				strconv.Itoa(res.Length), ff(res.Accuracy), ff(res.Loss)})
		}
	}
	if err := writeCSV(out.path("curves.csv"), []string{"base", "cosscale", "method", "fine_tuned", "norm", "length", "accuracy", "loss"}, rows); err != nil {
		return err
	}
	for _, metric := range []string{"accuracy", "loss"} {
		grid, err := curvesGrid(s, metric)
		if err != nil {
			return err
		}
		nr, nc := len(grid), len(grid[0])
		fig := newFigure(3*float64(nc-1)+1.9, 2.6*float64(nr)+0.2, c.dpi)
		if err := fig.saveGrid(out.path("curves_"+metric+".png"), grid); err != nil {
			return err
		}
	}
	out.print(stdout)
	return nil
}

// curvesGrid builds the panels of one metric: rows are normalisations (in
// order of appearance), columns base models (by CosScale), and a last
// column holding the legend.
func curvesGrid(s *suiteFile, metric string) ([][]*plot.Plot, error) {
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
		if m := methodLabel(r); !slices.Contains(methods, m) {
			methods = append(methods, m)
		}
	}
	slices.SortStableFunc(bases, func(a, b base) int { return cmp.Compare(a.s, b.s) })
	grid := make([][]*plot.Plot, len(norms))
	for i, norm := range norms {
		for _, b := range bases {
			title := fmt.Sprintf("%s, CosScale %g (%s)", norm, b.s, shortName(b.name))
			if b.s == 0 {
				title = fmt.Sprintf("%s, no CosScale (%s)", norm, shortName(b.name))
			}
			p := newPlot(title, "length", metric)
			p.Title.TextStyle.Font.Size = vg.Points(9)
			log2Axis(&p.X)
			for _, r := range s.Rows {
				if r.Base != b.name || r.Norm != norm {
					continue
				}
				var xs, ys []float64
				for _, res := range r.Results {
					xs = append(xs, float64(res.Length))
					if metric == "accuracy" {
						ys = append(ys, res.Accuracy)
					} else {
						ys = append(ys, res.Loss)
					}
				}
				k := slices.Index(methods, methodLabel(r))
				if err := (series{x: xs, y: ys, color: colorAt(k), dashes: dashes[(k/len(colors))%len(dashes)], points: true}).add(p); err != nil {
					return nil, err
				}
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

func methodLabel(r suiteRow) string {
	if r.FineTuned {
		return r.Method + " (ft)"
	}
	return r.Method
}
