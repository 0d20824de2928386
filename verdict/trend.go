package verdict

import (
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/stats"
	"github.com/infoscale/gaualpha/study"
)

// Trend is the verdict of claim 3 or 4: a quantity of the models against
// their CosScale.
type Trend struct {
	Outcome Outcome
	// CosScale and Value are the usable models' CosScale and quantity, in
	// the table's order.
	CosScale, Value []float64
	// Rho is Spearman's ρ and P its one-sided exact permutation p
	// (Permutation rules; NaN otherwise).
	Rho, P float64
	// Saturated counts the η1* at or above the rule's Saturation.
	Saturated int
	// Top is the index of the largest CosScale (the first of equal ones),
	// Bottom of the smallest.
	Top, Bottom int
}

// JudgeEta judges claim 3 from eta_peak.csv: the pooled peak of every
// CosScale model that did not fail to train.
func (r Rules) JudgeEta(rows []study.EtaPeakRow, ex Exclusions) (Trend, error) {
	rule := r.Eta
	if rows == nil {
		return Trend{}, Missing{"analysis/eta_peak.csv"}
	}
	var t Trend
	for _, row := range rows {
		if row.Layer != study.AllLayers {
			continue
		}
		if row.CosScale == 0 || ex.Excluded(study.Model{Role: study.Sweep, CosScale: row.CosScale}) {
			continue
		}
		v := row.Pre
		if rule.Weighted {
			v = row.PreAttn
		}
		t.CosScale, t.Value = append(t.CosScale, row.CosScale), append(t.Value, v)
	}
	t.Top, t.Bottom = argmax(t.CosScale), argmin(t.CosScale)
	if !rule.Permutation {
		if len(t.CosScale) < rule.MinModels {
			return Trend{}, Missing{fmt.Sprintf("η1* for at least %s CosScale values", count(rule.MinModels))}
		}
		t.Rho, t.P = stats.Spearman(t.CosScale, t.Value), math.NaN()
		t.Outcome = NotSupported
		switch {
		case t.Rho >= rule.SupportedRho && t.Value[t.Top] > t.Value[t.Bottom]:
			t.Outcome = Supported
		case t.Rho >= rule.PartlyRho:
			t.Outcome = PartlySupported
		}
		return t, nil
	}
	if len(t.CosScale) < 2 {
		return Trend{}, Missing{"analysis/eta_peak.csv"}
	}
	var err error
	if t.Rho, t.P, err = stats.SpearmanTest(t.CosScale, t.Value); err != nil {
		return Trend{}, Missing{"a Spearman test of η1*"}
	}
	for _, e := range t.Value {
		if e >= rule.Saturation {
			t.Saturated++
		}
	}
	n := len(t.CosScale)
	switch {
	case n < rule.MinModels || 2*t.Saturated > n:
		t.Outcome = Inconclusive
	case t.Rho > 0 && t.P < rule.SupportedP:
		t.Outcome = Supported
	case t.Rho > 0 && t.P < rule.PartlyP:
		t.Outcome = PartlySupported
	default:
		t.Outcome = NotSupported
	}
	return t, nil
}

// JudgeWindow judges claim 4 from band.csv: the pooled mass within ±64 of
// the plain model and of every sweep model that did not fail to train.
func (r Rules) JudgeWindow(rows []study.BandRow, ex Exclusions) (Trend, error) {
	rule := r.Window
	if rows == nil {
		return Trend{}, Missing{"analysis/band.csv"}
	}
	var t Trend
	for _, row := range BandSummary(rows) {
		if row.CosScale > 0 && ex.Excluded(study.Model{Role: study.Sweep, CosScale: row.CosScale}) {
			continue
		}
		t.CosScale, t.Value = append(t.CosScale, row.CosScale), append(t.Value, row.Mass)
	}
	t.Top, t.Bottom = argmax(t.CosScale), argmin(t.CosScale)
	if !rule.Permutation {
		if len(t.CosScale) < rule.MinModels {
			return Trend{}, Missing{fmt.Sprintf("band mass for at least %s models", count(rule.MinModels))}
		}
		t.Rho, t.P = stats.Spearman(t.CosScale, t.Value), math.NaN()
		top := t.Value[t.Top]
		t.Outcome = NotSupported
		switch {
		case t.Rho >= rule.SupportedRho && top >= rule.SupportedMass:
			t.Outcome = Supported
		case t.Rho >= rule.PartlyRho || top >= rule.PartlyMass:
			t.Outcome = PartlySupported
		}
		return t, nil
	}
	if len(t.CosScale) < 2 {
		return Trend{}, Missing{"analysis/band.csv"}
	}
	var err error
	if t.Rho, t.P, err = stats.SpearmanTest(t.CosScale, t.Value); err != nil {
		return Trend{}, Missing{"a Spearman test of the band mass"}
	}
	sig := t.Rho > 0 && t.P < rule.P
	top := t.Value[t.Top]
	switch {
	case len(t.CosScale) < rule.MinModels:
		t.Outcome = Inconclusive
	case sig && top >= rule.SupportedMass:
		t.Outcome = Supported
	case sig || top >= rule.PartlyMass:
		t.Outcome = PartlySupported
	default:
		t.Outcome = NotSupported
	}
	return t, nil
}

// BandSummary returns the rows of band.csv that are a model's mass within
// ±64 pooled over layers (not a per-layer row, another w, or the windowed
// attention reference).
func BandSummary(rows []study.BandRow) []study.BandRow {
	var out []study.BandRow
	for _, r := range rows {
		if r.Layer == study.AllLayers && r.W == 64 && !r.Window {
			out = append(out, r)
		}
	}
	return out
}

// count spells small counts as words.
func count(n int) string {
	if n >= 0 && n < 10 {
		return [...]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}[n]
	}
	return fmt.Sprint(n)
}

func argmax(x []float64) int {
	b := 0
	for i := range x {
		if x[i] > x[b] {
			b = i
		}
	}
	return b
}

func argmin(x []float64) int {
	b := 0
	for i := range x {
		if x[i] < x[b] {
			b = i
		}
	}
	return b
}
