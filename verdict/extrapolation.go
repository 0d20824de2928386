package verdict

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/stats"
	"github.com/infoscale/gaualpha/study"
)

// Scores returns the per-position scores of a suite row at a length
// (study.ScoreReader.At).
type Scores func(r study.SuiteRow, L int) ([]eval.Score, error)

// ExtrapolationInput is claim 2's evidence: the suite's rows and their
// per-position scores, the models that failed to train, the headline
// CosScale, and the fast protocol's bias bound (NaN when not calibrated).
type ExtrapolationInput struct {
	Rows     []study.SuiteRow
	Scores   Scores
	Excluded Exclusions
	Headline float64
	Bias     float64
}

// Extrapolation is claim 2's verdict at the longest length L.
type Extrapolation struct {
	Outcome Outcome
	L       int
	// Ours are the paired comparisons of RoPE + InfoScale on the headline
	// CosScale base (first) and on the sweep's best CosScale base
	// (Secondary), those in the suite (Paired rules).
	Ours []Ours
	// Rank is the rank of ours by accuracy among all configurations and
	// Beaten the number of the Others other methods whose best
	// configuration it beats (rules without Paired).
	Rank, Beaten, Others int
}

// Ours is one "ours" configuration compared with the comparator groups.
type Ours struct {
	Secondary bool
	Row       study.SuiteRow
	// Excluded: its base model failed to train; nothing below is set.
	Excluded bool
	// Methods are the comparator methods (a fine-tuned one marked " (ft)"),
	// sorted; Groups partition them into identical predictions.
	Methods []string
	Groups  []Group
	// Positions and Docs count the scored positions and test documents;
	// DiffPred counts the positions where members of a group predict
	// different tokens.
	Positions, Docs, DiffPred int
	Wins, Losses, Ties        int
	// InBias counts the groups whose accuracy gap is smaller than the
	// fast protocol's bias bound.
	InBias  int
	Outcome Outcome
}

// Group is a group of comparators with identical predictions, compared
// with ours once.
type Group struct {
	Members []string
	// Best is the first member's best configuration.
	Best   study.SuiteRow
	Paired stats.Paired
	// AdjP is McNemar's p after Holm's correction.
	AdjP   float64
	Result Result
	InBias bool
}

// JudgeExtrapolation judges claim 2.
func (r Rules) JudgeExtrapolation(in ExtrapolationInput) (Extrapolation, error) {
	if len(in.Rows) == 0 || len(in.Rows[0].Results) == 0 {
		return Extrapolation{}, Missing{"suite/suite.json"}
	}
	if !r.Extrap.Paired {
		return r.extrapolationRank(in.Rows), nil
	}
	rows := in.Rows
	l := len(rows[0].Results) - 1
	L := rows[0].Results[l].Length
	usable := func(row study.SuiteRow) bool {
		if row.FineTune && in.Excluded.Excluded(study.Model{Role: study.FineTune, CosScale: row.CosScale, Method: row.Method}) {
			return false
		}
		return !(row.CosScale == in.Headline && in.Excluded.Excluded(study.Model{Role: study.HeadlineBase, CosScale: in.Headline}))
	}
	e := Extrapolation{L: L}
	found := false
	for k, target := range []float64{in.Headline, -1} {
		var ours *study.SuiteRow
		for i, row := range rows {
			isBest := target < 0 && row.CosScale > 0 && row.CosScale != in.Headline
			if row.Method == "rope" && row.Norm == "infoscale" && (row.CosScale == target || isBest) {
				ours = &rows[i]
				break
			}
		}
		if ours == nil {
			continue
		}
		o := Ours{Secondary: k == 1, Row: *ours}
		if !usable(*ours) {
			o.Excluded = true
			e.Ours = append(e.Ours, o)
			if k == 0 {
				e.Outcome, found = Inconclusive, true
			}
			continue
		}
		if err := r.compareOurs(&o, rows, l, usable, in); err != nil {
			return Extrapolation{}, err
		}
		e.Ours = append(e.Ours, o)
		if k == 0 {
			e.Outcome, found = o.Outcome, true
		}
	}
	if !found {
		return Extrapolation{}, Missing{"the headline configuration's row"}
	}
	return e, nil
}

// compareOurs compares o.Row with the best configuration of every other
// method at length index l.
func (r Rules) compareOurs(o *Ours, rows []study.SuiteRow, l int, usable func(study.SuiteRow) bool, in ExtrapolationInput) error {
	L := rows[0].Results[l].Length
	oursSc, err := in.Scores(o.Row, L)
	if err != nil {
		return Missing{fmt.Sprintf("per-position scores (%v)", err)}
	}
	// The best configuration of each other method, then groups of
	// identical predictions among them.
	bestOf := map[string]study.SuiteRow{}
	for _, row := range rows {
		if !usable(row) || (row.Method == "rope" && row.Norm == "infoscale") {
			continue
		}
		key := row.MethodLabel()
		cur, ok := bestOf[key]
		if !ok {
			o.Methods = append(o.Methods, key)
		}
		if !ok || row.Results[l].Accuracy > cur.Results[l].Accuracy {
			bestOf[key] = row
		}
	}
	sort.Strings(o.Methods)
	sc := make([][]eval.Score, len(o.Methods))
	out := make([]stats.Scores, len(o.Methods))
	for i, key := range o.Methods {
		if sc[i], err = in.Scores(bestOf[key], L); err != nil {
			return Missing{fmt.Sprintf("per-position scores (%v)", err)}
		}
		if !samePositions(oursSc, sc[i]) {
			return Missing{fmt.Sprintf("scores of %s at the positions of ours", bestOf[key].Label())}
		}
		out[i], _ = outcomes(sc[i])
	}
	groups := stats.Groups(out, r.Extrap.IdenticalTol)
	ps := make([]float64, len(groups))
	o.Groups = make([]Group, len(groups))
	for g, members := range groups {
		c, err := r.comparePositions(oursSc, sc[members[0]])
		if err != nil {
			return Missing{fmt.Sprintf("a paired comparison (%v)", err)}
		}
		o.Groups[g] = Group{Best: bestOf[o.Methods[members[0]]], Paired: c}
		ps[g] = c.P
	}
	adj := stats.Holm(ps)
	var results []Result
	for g, members := range groups {
		grp := &o.Groups[g]
		grp.AdjP = adj[g]
		grp.Result = r.judge(adj[g], grp.Paired.AccDiff.Est)
		results = append(results, grp.Result)
		for _, m := range members {
			grp.Members = append(grp.Members, o.Methods[m])
			o.DiffPred += predDiffs(sc[members[0]], sc[m])
		}
		if !math.IsNaN(in.Bias) && math.Abs(grp.Paired.AccDiff.Est) < in.Bias {
			grp.InBias = true
			o.InBias++
		}
		switch grp.Result {
		case Win:
			o.Wins++
		case Loss:
			o.Losses++
		default:
			o.Ties++
		}
	}
	o.Outcome = comparisons(results)
	o.Positions, o.Docs = len(oursSc), oursSc[len(oursSc)-1].Doc+1
	return nil
}

// judge turns a McNemar comparison (adjusted p-value, ours' accuracy minus
// the comparator's) into a win, a loss or a tie at level Alpha.
func (r Rules) judge(adjP, accDiff float64) Result {
	switch {
	case adjP >= r.Extrap.Alpha || accDiff == 0:
		return Tie
	case accDiff > 0:
		return Win
	}
	return Loss
}

// comparisons is the outcome of a set of comparisons: supported when every
// one is a win, not supported when any is a loss, partly supported with at
// least one win and no loss, inconclusive when all are ties (or there are
// none).
func comparisons(rs []Result) Outcome {
	wins, losses := 0, 0
	for _, r := range rs {
		switch r {
		case Win:
			wins++
		case Loss:
			losses++
		}
	}
	switch {
	case len(rs) == 0:
		return Inconclusive
	case losses > 0:
		return NotSupported
	case wins == len(rs):
		return Supported
	case wins > 0:
		return PartlySupported
	}
	return Inconclusive
}

// extrapolationRank judges claim 2 by the accuracies at the longest length.
func (r Rules) extrapolationRank(in []study.SuiteRow) Extrapolation {
	last := len(in[0].Results) - 1
	rows := append([]study.SuiteRow(nil), in...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Results[last].Accuracy > rows[j].Results[last].Accuracy })
	ours := func(row study.SuiteRow) bool {
		return row.Method == "rope" && row.Norm == "infoscale" && row.CosScale > 0
	}
	e := Extrapolation{L: rows[0].Results[last].Length, Outcome: NotSupported}
	var oursRow *study.SuiteRow
	for i, row := range rows {
		if ours(row) {
			e.Rank, oursRow = i+1, &rows[i]
			break
		}
	}
	// The best of each other method (any normalisation, any base).
	bestOf := map[string]study.SuiteRow{}
	for _, row := range rows {
		if row.Method == "rope" {
			continue
		}
		if cur, ok := bestOf[row.Method]; !ok || row.Results[last].Accuracy > cur.Results[last].Accuracy {
			bestOf[row.Method] = row
		}
	}
	for _, row := range bestOf {
		e.Others++
		if oursRow != nil && oursRow.Results[last].Accuracy > row.Results[last].Accuracy {
			e.Beaten++
		}
	}
	switch {
	case e.Rank == 1:
		e.Outcome = Supported
	case e.Others > 0 && float64(e.Beaten) >= r.Extrap.BeatShare*float64(e.Others):
		e.Outcome = PartlySupported
	}
	return e
}

// Calibration compares the fast and the paper protocol on the same
// configurations, lengths and positions.
type Calibration struct {
	Rows []CalibrationRow
	// Bound is the fast protocol's bias bound: the largest |Δacc|.
	Bound float64
}

// CalibrationRow is one configuration at one length under both protocols
// (A: fast, B: paper).
type CalibrationRow struct {
	Row    study.SuiteRow
	Length int
	Paired stats.Paired
}

// Calibrate compares the rows of the fast protocol's suite with the same
// rows of the paper protocol's, position by position.
func (r Rules) Calibrate(fast, paper []study.SuiteRow, fastScores, paperScores Scores) (Calibration, error) {
	var c Calibration
	for i := range fast {
		f, p := fast[i], paper[i]
		if f.Label() != p.Label() || len(f.Results) != len(p.Results) {
			return Calibration{}, fmt.Errorf("the two calibration suites do not list the same configurations (%s against %s)", f.Label(), p.Label())
		}
		for l := range f.Results {
			L := f.Results[l].Length
			a, err1 := fastScores(f, L)
			b, err2 := paperScores(p, L)
			if err1 != nil || err2 != nil {
				return Calibration{}, fmt.Errorf("per-position scores missing: %v", errors.Join(err1, err2))
			}
			cmp, err := r.comparePositions(a, b)
			if err != nil {
				return Calibration{}, fmt.Errorf("comparing %s at %d: %v", f.Label(), L, err)
			}
			c.Bound = math.Max(c.Bound, math.Abs(cmp.AccDiff.Est))
			c.Rows = append(c.Rows, CalibrationRow{Row: f, Length: L, Paired: cmp})
		}
	}
	return c, nil
}

// outcomes are scores as package stats takes them, with the document of
// each position.
func outcomes(sc []eval.Score) (stats.Scores, []int) {
	s := stats.Scores{Correct: make([]bool, len(sc)), Loss: make([]float64, len(sc))}
	doc := make([]int, len(sc))
	for i, x := range sc {
		s.Correct[i], s.Loss[i], doc[i] = x.Correct, x.Loss, x.Doc
	}
	return s, doc
}

// samePositions reports whether two score lists are of the same documents
// and positions in the same order.
func samePositions(a, b []eval.Score) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Doc != b[i].Doc || a[i].Pos != b[i].Pos {
			return false
		}
	}
	return true
}

// comparePositions is stats.Compare of two rows' scores at the same
// positions (McNemar on accuracy, bootstrap intervals over documents).
func (r Rules) comparePositions(a, b []eval.Score) (stats.Paired, error) {
	if !samePositions(a, b) {
		return stats.Paired{}, fmt.Errorf("the two configurations were not scored at the same positions")
	}
	sa, doc := outcomes(a)
	sb, _ := outcomes(b)
	return stats.Compare(sa, sb, doc, r.Bootstrap.Resamples, r.Bootstrap.Seed)
}

// predDiffs counts the positions at which two score lists predict
// different tokens.
func predDiffs(a, b []eval.Score) int {
	n := 0
	for i := range a {
		if i < len(b) && a[i].Pred != b[i].Pred {
			n++
		}
	}
	return n
}
