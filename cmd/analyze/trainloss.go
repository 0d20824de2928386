package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/infoscale/gaualpha/study"
	"github.com/infoscale/gaualpha/train"
)

// lossRun is one training run to draw: its panel, its line label and its
// metrics.
type lossRun struct {
	panel, label, dir string
	train, val        []train.Metrics
}

// parseRuns parses -runs: comma-separated [PANEL:]LABEL=DIR entries.
func parseRuns(s string) ([]lossRun, error) {
	var runs []lossRun
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		lbl, dir, ok := strings.Cut(e, "=")
		if !ok || lbl == "" || dir == "" {
			return nil, fmt.Errorf("-runs: %q is not [PANEL:]LABEL=DIR", e)
		}
		panel, line, ok := strings.Cut(lbl, ":")
		if !ok {
			panel, line = "", lbl
		}
		if line == "" {
			return nil, fmt.Errorf("-runs: %q has an empty LABEL (want [PANEL:]LABEL=DIR)", e)
		}
		for _, r := range runs {
			if r.panel == panel && r.label == line {
				return nil, fmt.Errorf("-runs: label %q appears twice in panel %q (%s and %s)", line, panel, r.dir, dir)
			}
		}
		runs = append(runs, lossRun{panel: panel, label: line, dir: dir})
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("-runs: no run given")
	}
	return runs, nil
}

func runTrainLoss(args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("trainloss", "-runs [PANEL:]LABEL=DIR,... [flags]",
		"Training loss against epoch from the metrics.jsonl of training runs (the paper's\n"+
			"figures 2 and 3): one panel per PANEL, one line per LABEL (the same colour in every\n"+
			"panel), validation losses as points. Writes NAME.png and NAME.csv.", stderr)
	runsFlag := fs.String("runs", "", "comma-separated `[PANEL:]LABEL=DIR` (DIR: a run directory or one of its checkpoints)")
	name := fs.String("name", "trainloss", "base `name` of the output files")
	title := fs.String("title", "Training loss", "plot title (one panel) or title prefix")
	smooth := fs.Int("smooth", 5, "moving average over this many logged steps (1: none)")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *smooth < 1 {
		return fmt.Errorf("-smooth %d must be at least 1", *smooth)
	}
	if *name == "" || strings.ContainsAny(*name, "/\\") {
		return fmt.Errorf("-name %q must be a plain file name", *name)
	}
	runs, err := parseRuns(*runsFlag)
	if err != nil {
		return err
	}
	var panels, labels []string
	var rows []study.TrainLossRow
	for i := range runs {
		r := &runs[i]
		if r.train, r.val, err = study.ReadMetrics(r.dir); err != nil {
			return fmt.Errorf("-runs: %w", err)
		}
		if !slices.Contains(panels, r.panel) {
			panels = append(panels, r.panel)
		}
		if !slices.Contains(labels, r.label) {
			labels = append(labels, r.label)
		}
		for _, p := range r.train {
			rows = append(rows, study.TrainLossRow{Panel: r.panel, Run: r.label, Dir: r.dir, Step: p.Step, Epoch: p.Epoch, TrainLoss: &p.Loss})
		}
		for _, p := range r.val {
			rows = append(rows, study.TrainLossRow{Panel: r.panel, Run: r.label, Dir: r.dir, Step: p.Step, Epoch: p.Epoch, ValLoss: &p.ValLoss})
		}
	}
	out := &outputs{dir: c.out}
	if err := study.TrainLoss.Write(out.path(*name+".csv"), rows); err != nil {
		return err
	}
	// One panel carries its own legend (drawn beside the axes); several
	// panels share one in a tile of its own.
	legendLabel := func(l string) string {
		if len(panels) == 1 {
			return l
		}
		return ""
	}
	var grid [][]*plot.Plot
	nr, nc := gridShape(len(panels), 3)
	grid = make([][]*plot.Plot, nr)
	for k, panel := range panels {
		t := *title
		if panel != "" {
			t += ": " + panel
		}
		p := newPlot(t, "epoch", "masked-LM loss")
		p.Title.TextStyle.Font.Size = vg.Points(9)
		for _, r := range runs {
			if r.panel != panel {
				continue
			}
			col := colorAt(slices.Index(labels, r.label))
			var xs, ys []float64
			for _, q := range movingAverage(r.train, *smooth) {
				xs, ys = append(xs, q.Epoch), append(ys, q.Loss)
			}
			if err := (series{label: legendLabel(r.label + " (train)"), x: xs, y: ys, color: col}).add(p); err != nil {
				return err
			}
			xs, ys = nil, nil
			for _, q := range r.val {
				xs, ys = append(xs, q.Epoch), append(ys, q.ValLoss)
			}
			if err := (series{label: legendLabel(r.label + " (validation)"), x: xs, y: ys, color: col, points: true, dashes: dashes[1]}).add(p); err != nil {
				return err
			}
		}
		grid[k/nc] = append(grid[k/nc], p)
	}
	if len(panels) == 1 {
		if err := newFigure(6.7, 3.4, c.dpi).savePlotSideLegend(out.path(*name+".png"), grid[0][0]); err != nil {
			return err
		}
		out.print(stdout)
		return nil
	}
	// One legend for all panels, in a tile of its own beside the first row,
	// so that it covers no curve.
	var entries []series
	for i, l := range labels {
		entries = append(entries, series{label: l + " (train)", color: colorAt(i)},
			series{label: l + " (validation)", color: colorAt(i), dashes: dashes[1]})
	}
	leg, err := legendPlot(entries)
	if err != nil {
		return err
	}
	for r := range grid {
		for len(grid[r]) < nc {
			grid[r] = append(grid[r], nil)
		}
		grid[r] = append(grid[r], nil)
	}
	grid[0][nc] = leg
	fig := newFigure(4.5*float64(nc)+2.2, 3.4*float64(nr), c.dpi)
	if err := fig.saveGrid(out.path(*name+".png"), grid); err != nil {
		return err
	}
	out.print(stdout)
	return nil
}

// movingAverage smooths the training losses over w consecutive logged steps
// (trailing window; the first points average what there is).
func movingAverage(ps []train.Metrics, w int) []train.Metrics {
	out := make([]train.Metrics, len(ps))
	var s float64
	for i, p := range ps {
		s += p.Loss
		if i >= w {
			s -= ps[i-w].Loss
		}
		out[i] = p
		out[i].Loss = s / float64(min(i+1, w))
	}
	return out
}
