package figures

import (
	"fmt"
	"slices"

	"gonum.org/v1/plot"

	"github.com/infoscale/gaualpha/study"
)

// Passkey draws passkey.png: the passkey probe's digit accuracy against
// length, pooled over the rows (seeds and documents), one panel per
// distance class (near, far), one line per configuration of keys (in
// their order), and chance (1/10); the legend in a third panel.
func Passkey(path string, rows []study.PasskeyRow, keys []study.ConfigKey, dpi int) error {
	var panels []*plot.Plot
	for _, class := range []string{"near", "far"} {
		p := newPlot(fmt.Sprintf("passkey, %s keys", class), "length", "digit accuracy")
		log2Axis(&p.X)
		var lengths []int
		for _, r := range rows {
			if r.Class == class && !slices.Contains(lengths, r.Length) {
				lengths = append(lengths, r.Length)
			}
		}
		slices.Sort(lengths)
		if len(lengths) == 0 {
			continue
		}
		for k, key := range keys {
			var xs, ys []float64
			for _, L := range lengths {
				right, n := 0, 0
				for _, r := range rows {
					if r.Key() == key && r.Class == class && r.Length == L {
						right, n = right+r.DigitsRight, n+r.Digits
					}
				}
				if n > 0 {
					xs, ys = append(xs, float64(L)), append(ys, float64(right)/float64(n))
				}
			}
			label := ""
			if class == "near" {
				label = key.Label()
			}
			if err := (series{label: label, x: xs, y: ys, color: colorAt(k), dashes: dashes[(k/len(colors))%len(dashes)], points: true}).add(p); err != nil {
				return err
			}
		}
		lo, hi := float64(lengths[0]), float64(lengths[len(lengths)-1])
		if err := hline("chance (1/10)", 0.1, lo, hi, colorAt(7), dashes[2]).add(p); err != nil {
			return err
		}
		widenLogRange(&p.X)
		p.Y.Min, p.Y.Max = 0, 1
		panels = append(panels, p)
	}
	if len(panels) == 0 {
		return fmt.Errorf("drawing %s: no passkey scores", path)
	}
	// The legend, with the first panel's entries, in a panel of its own.
	leg := plot.New()
	leg.HideAxes()
	leg.Legend = panels[0].Legend
	leg.Legend.Top, leg.Legend.Left = true, true
	for _, p := range panels {
		p.Legend = plot.NewLegend()
	}
	return newFigure(10, 3.6, dpi).saveGrid(path, [][]*plot.Plot{append(panels, leg)})
}
