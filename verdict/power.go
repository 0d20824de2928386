package verdict

import (
	"fmt"
	"math"
	"sort"

	"github.com/infoscale/gaualpha/stats"
	"github.com/infoscale/gaualpha/study"
)

// PowerRow is the power analysis of one comparison of ours with a
// comparator: the mean and the standard deviation over documents of the
// per-document accuracy difference, and the smallest true mean difference
// the sign-flip test detects at each number of documents.
type PowerRow struct {
	Label      string
	Config     string
	Docs       int
	Mean, SD   float64
	Close      bool
	Detectable []float64
}

// Power is a power analysis of claim 2's test by documents.
type Power struct {
	// Comparisons is the number of comparisons Holm corrects over, Alpha
	// the level of its first (strictest) step, Alpha/Comparisons.
	Comparisons int
	Alpha       float64
	Power       float64
	// N are the numbers of documents, MinUnits the fewest whose exact
	// sign-flip test can reach p < Alpha at all.
	N        []int
	MinUnits int
	Rows     []PowerRow
	// MedianSD and MaxSD are over the close comparisons (|Mean| < Close),
	// Detectable the smallest detectable difference at MedianSD.
	Close         float64
	MedianSD      float64
	MaxSD         float64
	Detectable    []float64
	DetectableMax []float64
}

// PowerAnalysis computes the power of claim 2's test by documents from an
// evaluation with one seed (such as the committed 2026-12-06 run's): ours
// (RoPE + InfoScale on the headline base) against the configuration of
// highest accuracy at the longest length of every other method (as rules 2
// chose them: only the spread of the differences is used, not their
// sign), the per-document accuracy differences at the longest length,
// their standard deviation, and the smallest detectable difference
// (stats.MinDetectable) at Holm's first step over the comparisons, for
// each number of documents in ns. A comparison is close when |mean| <
// close: the ones whose outcome the test's power decides.
func (r Rules) PowerAnalysis(rows []study.SuiteRow, scores Scores, headline float64, ns []int, power, close float64) (Power, error) {
	if len(rows) == 0 || len(rows[0].Results) == 0 {
		return Power{}, Missing{"suite.json"}
	}
	L := rows[0].Results[len(rows[0].Results)-1].Length
	last := len(rows[0].Results) - 1
	var ours *study.SuiteRow
	best := map[string]study.SuiteRow{}
	var labels []string
	for i, row := range rows {
		if row.Key() == OursKey(headline) {
			ours = &rows[i]
		}
		if row.Method == "rope" && row.Norm == "infoscale" {
			continue
		}
		cur, ok := best[row.MethodLabel()]
		if !ok {
			labels = append(labels, row.MethodLabel())
		}
		if !ok || row.Results[last].Accuracy > cur.Results[last].Accuracy {
			best[row.MethodLabel()] = row
		}
	}
	if ours == nil {
		return Power{}, Missing{fmt.Sprintf("the row of %s", OursKey(headline).Label())}
	}
	sort.Strings(labels)
	oursSc, err := scores(*ours, L)
	if err != nil {
		return Power{}, Missing{fmt.Sprintf("per-position scores (%v)", err)}
	}
	nDocs := 0
	for _, s := range oursSc {
		nDocs = max(nDocs, s.Doc+1)
	}
	ot, err := tallies(oursSc, nDocs)
	if err != nil {
		return Power{}, err
	}
	p := Power{Comparisons: len(labels), Power: power, N: ns, Close: close}
	p.Alpha = r.Extrap.Alpha / float64(p.Comparisons)
	p.MinUnits = stats.MinUnits(p.Alpha)
	var closeSD []float64
	for _, l := range labels {
		row := best[l]
		sc, err := scores(row, L)
		if err != nil {
			return Power{}, Missing{fmt.Sprintf("per-position scores (%v)", err)}
		}
		ct, err := tallies(sc, nDocs)
		if err != nil {
			return Power{}, err
		}
		d := make([]float64, nDocs)
		for i := range d {
			d[i] = ot[i].acc() - ct[i].acc()
		}
		mean, sd := meanSD(d)
		pr := PowerRow{Label: l, Config: row.Label(), Docs: nDocs, Mean: mean, SD: sd, Close: math.Abs(mean) < close}
		for _, n := range ns {
			pr.Detectable = append(pr.Detectable, stats.MinDetectable(sd, n, p.Alpha, power))
		}
		if pr.Close {
			closeSD = append(closeSD, sd)
			p.MaxSD = math.Max(p.MaxSD, sd)
		}
		p.Rows = append(p.Rows, pr)
	}
	p.MedianSD = stats.Median(closeSD)
	for _, n := range ns {
		p.Detectable = append(p.Detectable, stats.MinDetectable(p.MedianSD, n, p.Alpha, power))
		p.DetectableMax = append(p.DetectableMax, stats.MinDetectable(p.MaxSD, n, p.Alpha, power))
	}
	return p, nil
}

// meanSD is the mean and the sample standard deviation (n − 1).
func meanSD(x []float64) (mean, sd float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, math.NaN()
	}
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(x)-1))
}

// Table is the analysis as power.csv's rows: a row per comparison and
// number of documents.
func (p Power) Table() []study.PowerRow {
	var rows []study.PowerRow
	for _, row := range p.Rows {
		for i, n := range p.N {
			rows = append(rows, study.PowerRow{Comparator: row.Label, Config: row.Config, Mean: row.Mean, SD: row.SD, Close: row.Close, Docs: n, Detectable: row.Detectable[i]})
		}
	}
	return rows
}
