package figures

import (
	"fmt"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/infoscale/gaualpha/study"
	"github.com/infoscale/gaualpha/train"
)

// LossRun is one training run of a loss figure: its panel, its line label
// and its metrics log's training and validation lines.
type LossRun struct {
	Panel, Label string
	Train        []train.StepMetrics
	Val          []train.ValMetrics
}

// TrainLoss draws path: training loss against epoch (a moving average over
// smooth logged steps) and validation losses as points, one panel per
// Panel, one colour per Label. One panel carries its own legend beside the
// axes; several share one in a tile of its own.
func TrainLoss(path string, runs []LossRun, title string, smooth, dpi int) error {
	var panels, labels []string
	for _, r := range runs {
		if !slices.Contains(panels, r.Panel) {
			panels = append(panels, r.Panel)
		}
		if !slices.Contains(labels, r.Label) {
			labels = append(labels, r.Label)
		}
	}
	legendLabel := func(l string) string {
		if len(panels) == 1 {
			return l
		}
		return ""
	}
	nr, nc := gridShape(len(panels), 3)
	grid := make([][]*plot.Plot, nr)
	for k, panel := range panels {
		t := title
		if panel != "" {
			t += ": " + panel
		}
		p := newPlot(t, "epoch", "masked-LM loss")
		p.Title.TextStyle.Font.Size = vg.Points(9)
		for _, r := range runs {
			if r.Panel != panel {
				continue
			}
			col := colorAt(slices.Index(labels, r.Label))
			var xs, ys []float64
			for _, q := range movingAverage(r.Train, smooth) {
				xs, ys = append(xs, q.Epoch), append(ys, q.Loss)
			}
			if err := (series{label: legendLabel(r.Label + " (train)"), x: xs, y: ys, color: col}).add(p); err != nil {
				return err
			}
			xs, ys = nil, nil
			for _, q := range r.Val {
				xs, ys = append(xs, q.Epoch), append(ys, q.ValLoss)
			}
			if err := (series{label: legendLabel(r.Label + " (validation)"), x: xs, y: ys, color: col, points: true, dashes: dashes[1]}).add(p); err != nil {
				return err
			}
		}
		grid[k/nc] = append(grid[k/nc], p)
	}
	if len(panels) == 1 {
		return newFigure(6.7, 3.4, dpi).savePlotSideLegend(path, grid[0][0])
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
	return newFigure(4.5*float64(nc)+2.2, 3.4*float64(nr), dpi).saveGrid(path, grid)
}

// movingAverage smooths the training losses over w consecutive logged steps
// (trailing window; the first points average what there is).
func movingAverage(ps []train.StepMetrics, w int) []train.StepMetrics {
	out := make([]train.StepMetrics, len(ps))
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

// ReadLossRuns reads the runs of a comma-separated list of
// [PANEL:]LABEL=DIR (DIR a run folder or one of its checkpoints): each
// run's metrics log, and its lines as trainloss rows. A malformed entry, a
// label twice in one panel or an empty list is an error.
func ReadLossRuns(list string) ([]LossRun, []study.TrainLossRow, error) {
	var runs []LossRun
	var rows []study.TrainLossRow
	for _, e := range strings.Split(list, ",") {
		if e = strings.TrimSpace(e); e == "" {
			continue
		}
		lbl, dir, ok := strings.Cut(e, "=")
		panel, line, hasPanel := strings.Cut(lbl, ":")
		if !hasPanel {
			panel, line = "", lbl
		}
		switch {
		case !ok || lbl == "" || dir == "":
			return nil, nil, fmt.Errorf("%q is not [PANEL:]LABEL=DIR", e)
		case line == "":
			return nil, nil, fmt.Errorf("%q has an empty LABEL (want [PANEL:]LABEL=DIR)", e)
		}
		for _, r := range runs {
			if r.Panel == panel && r.Label == line {
				return nil, nil, fmt.Errorf("label %q appears twice in panel %q", line, panel)
			}
		}
		r := LossRun{Panel: panel, Label: line}
		var err error
		if r.Train, r.Val, err = study.ReadMetrics(dir); err != nil {
			return nil, nil, err
		}
		runs, rows = append(runs, r), append(rows, study.TrainLossRows(panel, line, dir, r.Train, r.Val)...)
	}
	if len(runs) == 0 {
		return nil, nil, fmt.Errorf("no run given")
	}
	return runs, rows, nil
}
