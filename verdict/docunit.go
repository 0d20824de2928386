package verdict

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/stats"
	"github.com/infoscale/gaualpha/study"
)

// SeedScores are the test evaluation of one seed's models: its suite rows
// and their per-position scores.
type SeedScores struct {
	Seed   int
	Rows   []study.SuiteRow
	Scores Scores
	// Documents are the test documents' ids (suite.json's), checked to be
	// the same in every seed when given.
	Documents []string
}

// row returns the seed's row of a configuration.
func (s SeedScores) row(k study.ConfigKey) (study.SuiteRow, bool) {
	for _, r := range s.Rows {
		if r.Key() == k {
			return r, true
		}
	}
	return study.SuiteRow{}, false
}

// Selected is a comparator method's configuration chosen on the
// development documents.
type Selected struct {
	Label  string
	Key    study.ConfigKey
	DevAcc float64
}

// OursKey is "ours" on the base of a CosScale: RoPE + InfoScale.
func OursKey(cosScale float64) study.ConfigKey {
	return study.ConfigKey{CosScale: cosScale, Method: "rope", Norm: "infoscale"}
}

// SelectComparators chooses each comparator method's configuration on the
// development evaluation dev: for every method (marked fine-tuned or not)
// but ours (RoPE + InfoScale, on any base), its usable configuration of
// highest accuracy at the longest length (the first of equal ones), sorted
// by method.
func SelectComparators(dev []study.SuiteRow, usable func(study.ConfigKey) bool) []Selected {
	best := map[string]Selected{}
	var labels []string
	for _, row := range dev {
		k := row.Key()
		if k.Method == "rope" && k.Norm == "infoscale" || len(row.Results) == 0 || !usable(k) {
			continue
		}
		acc := row.Results[len(row.Results)-1].Accuracy
		cur, ok := best[k.MethodLabel()]
		if !ok {
			labels = append(labels, k.MethodLabel())
		}
		if !ok || acc > cur.DevAcc {
			best[k.MethodLabel()] = Selected{Label: k.MethodLabel(), Key: k, DevAcc: acc}
		}
	}
	sort.Strings(labels)
	out := make([]Selected, len(labels))
	for i, l := range labels {
		out[i] = best[l]
	}
	return out
}

// Usable returns whether a configuration's models trained in every seed
// (none excluded): its base model, or its fine-tune, of each seed.
func Usable(ex Exclusions, seeds []int, headline float64) func(study.ConfigKey) bool {
	return func(k study.ConfigKey) bool {
		for _, s := range seeds {
			var m study.Model
			switch {
			case k.FineTune:
				m = study.Model{Role: study.FineTune, CosScale: k.CosScale, Method: k.Method, Seed: s}
			case k.CosScale == 0:
				m = study.Model{Role: study.Plain, Seed: s}
			case k.CosScale == headline:
				m = study.Model{Role: study.HeadlineBase, CosScale: headline, Seed: s}
			default:
				m = study.Model{Role: study.BestBase, Seed: s}
			}
			if ex.Excluded(m) {
				return false
			}
		}
		return true
	}
}

// TestConfigs are the configurations the test evaluation needs under the
// rules: ours on the headline and the best base, the comparators chosen on
// the development documents, and the relatives' cells (RelativesRule) with
// InfoScale, every relative and softmax, on the plain and headline bases.
func (r Rules) TestConfigs(dev []study.SuiteRow, usable func(study.ConfigKey) bool, headline, best float64) ([]study.ConfigKey, error) {
	out := []study.ConfigKey{OursKey(headline)}
	if best > 0 && best != headline {
		out = append(out, OursKey(best))
	}
	for _, s := range SelectComparators(dev, usable) {
		out = append(out, s.Key)
	}
	cells, err := r.relativeCells(headline)
	if err != nil {
		return nil, err
	}
	for _, c := range cells {
		for _, n := range append([]string{"infoscale", "softmax"}, r.Relatives.Relatives...) {
			k := c
			k.Norm = n
			out = append(out, k)
		}
	}
	var uniq []study.ConfigKey
	for _, k := range out {
		if !slices.Contains(uniq, k) {
			uniq = append(uniq, k)
		}
	}
	return uniq, nil
}

// docTally is one configuration's tally in one test document at one
// length.
type docTally struct {
	n, correct int
	loss       float64
}

func (t docTally) acc() float64  { return float64(t.correct) / float64(t.n) }
func (t docTally) mean() float64 { return t.loss / float64(t.n) }

// tallies sums scores per document (nDocs documents).
func tallies(sc []eval.Score, nDocs int) ([]docTally, error) {
	out := make([]docTally, nDocs)
	for _, s := range sc {
		if s.Doc < 0 || s.Doc >= nDocs {
			return nil, fmt.Errorf("a score of document %d outside the %d test documents", s.Doc, nDocs)
		}
		out[s.Doc].n++
		out[s.Doc].loss += s.Loss
		if s.Correct {
			out[s.Doc].correct++
		}
	}
	for d, t := range out {
		if t.n == 0 {
			return nil, fmt.Errorf("no score in test document %d", d)
		}
	}
	return out, nil
}

// cfgScores are a configuration's scores in every seed at the longest and
// the shortest length.
type cfgScores struct {
	key         study.ConfigKey
	row         []study.SuiteRow // per seed
	long, short [][]eval.Score   // per seed
	tl, ts      [][]docTally     // per seed, per document
}

// loadConfig reads a configuration's scores in every seed.
func loadConfig(seeds []SeedScores, k study.ConfigKey, L, L2, nDocs int) (*cfgScores, error) {
	c := &cfgScores{key: k}
	for _, s := range seeds {
		row, ok := s.row(k)
		if !ok {
			return nil, Missing{fmt.Sprintf("the test evaluation of %s (seed %d)", k.Label(), s.Seed)}
		}
		long, err := s.Scores(row, L)
		if err != nil {
			return nil, Missing{fmt.Sprintf("per-position scores (%v)", err)}
		}
		short, err := s.Scores(row, L2)
		if err != nil {
			return nil, Missing{fmt.Sprintf("per-position scores (%v)", err)}
		}
		tl, err := tallies(long, nDocs)
		if err != nil {
			return nil, fmt.Errorf("%s, seed %d, length %d: %w", k.Label(), s.Seed, L, err)
		}
		ts, err := tallies(short, nDocs)
		if err != nil {
			return nil, fmt.Errorf("%s, seed %d, length %d: %w", k.Label(), s.Seed, L2, err)
		}
		c.row, c.long, c.short, c.tl, c.ts = append(c.row, row), append(c.long, long), append(c.short, short), append(c.tl, tl), append(c.ts, ts)
	}
	return c, nil
}

// seedMean is, per document, the mean over seeds of f(seed, document).
func seedMean(seeds, nDocs int, f func(s, d int) float64) []float64 {
	out := make([]float64, nDocs)
	for d := range out {
		for s := range seeds {
			out[d] += f(s, d)
		}
		out[d] /= float64(seeds)
	}
	return out
}

// pooled is Σ correct / Σ n (acc) and Σ loss / Σ n over the seeds and the
// documents, each document counted w[d] times.
func pooled(t [][]docTally, w []int) (acc, loss float64) {
	var n, c, l float64
	for _, seed := range t {
		for d, x := range seed {
			f := float64(w[d])
			n += f * float64(x.n)
			c += f * float64(x.correct)
			l += f * x.loss
		}
	}
	return c / n, l / n
}

func ones(n int) []int {
	w := make([]int, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// Retention is a configuration's accuracy and loss at the longest length
// against the shortest (2x n0), pooled over the seeds and the test
// documents, with bootstrap intervals over the documents.
type Retention struct {
	AccShort, AccLong   float64
	LossShort, LossLong float64
	// Ratio is AccLong/AccShort, LossIncrease LossLong − LossShort.
	Ratio, LossIncrease stats.Interval
}

// retention computes c's Retention.
func (r Rules) retention(c *cfgScores, nDocs int) (Retention, error) {
	var ret Retention
	w := ones(nDocs)
	ret.AccShort, ret.LossShort = pooled(c.ts, w)
	ret.AccLong, ret.LossLong = pooled(c.tl, w)
	bs := r.Bootstrap
	var err1, err2 error
	ret.Ratio, err1 = stats.Bootstrap(nDocs, func(w []int) float64 {
		a, _ := pooled(c.tl, w)
		b, _ := pooled(c.ts, w)
		if b == 0 {
			return math.NaN()
		}
		return a / b
	}, bs.Resamples, bs.Seed, bs.Level)
	ret.LossIncrease, err2 = stats.Bootstrap(nDocs, func(w []int) float64 {
		_, a := pooled(c.tl, w)
		_, b := pooled(c.ts, w)
		return a - b
	}, bs.Resamples, bs.Seed, bs.Level)
	if err1 != nil || err2 != nil {
		return ret, fmt.Errorf("retention of %s: %v", c.key.Label(), firstErr(err1, err2))
	}
	return ret, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// DocTest is a paired test over the test documents of a per-document
// difference (ours − the comparator, averaged over the seeds).
type DocTest struct {
	// Diff is the mean over the documents with its bootstrap interval.
	Diff stats.Interval
	// P is the sign-flip test's two-sided p, AdjP after Holm's correction.
	P, AdjP float64
	// Better and Worse count the documents where ours is ahead and behind.
	Better, Worse int
	Result        Result
}

// docTest runs the sign-flip test and the bootstrap of the mean of the
// per-document differences.
func (r Rules) docTest(diffs []float64) (DocTest, error) {
	p, err := stats.SignFlip(diffs, r.Extrap.SignFlipResamples, r.Extrap.SignFlipSeed)
	if err != nil {
		return DocTest{}, err
	}
	bs := r.Bootstrap
	iv, err := stats.Bootstrap(len(diffs), func(w []int) float64 {
		var s, n float64
		for i, x := range diffs {
			s += float64(w[i]) * x
			n += float64(w[i])
		}
		return s / n
	}, bs.Resamples, bs.Seed, bs.Level)
	if err != nil {
		return DocTest{}, err
	}
	t := DocTest{Diff: iv, P: p}
	for _, x := range diffs {
		switch {
		case x > 0:
			t.Better++
		case x < 0:
			t.Worse++
		}
	}
	return t, nil
}

// holm applies Holm's correction to the tests and judges each at alpha.
func (r Rules) holm(tests []*DocTest, alpha float64) []Result {
	ps := make([]float64, len(tests))
	for i, t := range tests {
		ps[i] = t.P
	}
	adj := stats.Holm(ps)
	out := make([]Result, len(tests))
	for i, t := range tests {
		t.AdjP = adj[i]
		switch {
		case adj[i] >= alpha || t.Diff.Est == 0:
			t.Result = Tie
		case t.Diff.Est > 0:
			t.Result = Win
		default:
			t.Result = Loss
		}
		out[i] = t.Result
	}
	return out
}

// DocGroup is a group of comparators with identical predictions in every
// seed, compared with ours by documents.
type DocGroup struct {
	Members []Selected
	// Acc and Loss are the first member's, pooled over seeds and documents
	// at the longest length.
	Acc, Loss float64
	// Accuracy compares the accuracies at the longest length, LossDiff is
	// the bootstrap interval of the per-document loss difference (ours −
	// it), McNemar the secondary test over the positions of every seed.
	Accuracy DocTest
	LossDiff stats.Interval
	B, C     int
	McNemarP float64
	// Retention is the member's, RetentionTest compares the accuracy lost
	// from the shortest length (positive: ours loses less).
	Retention     Retention
	RetentionTest DocTest
	InBias        bool
}

// DocOurs is one "ours" configuration against the comparator groups under
// rules with DocUnit.
type DocOurs struct {
	Secondary bool
	Key       study.ConfigKey
	Excluded  bool
	Acc, Loss float64
	Retention Retention
	Groups    []DocGroup
	// Docs and Seeds count the test documents and seeds, Positions the
	// scored positions per seed at the longest length.
	Docs, Seeds, Positions int
	// DiffPred counts the positions (all seeds) where members of a group
	// predict different tokens.
	DiffPred                    int
	Wins, Losses, Ties          int
	InBias                      int
	Outcome                     Outcome
	RetentionOutcome            Outcome
	RetWins, RetLosses, RetTies int
}

// DocExtrapolation is claim 2's verdict under rules with DocUnit.
type DocExtrapolation struct {
	Outcome, RetentionOutcome Outcome
	// L and Short are the longest and the shortest test lengths.
	L, Short int
	Ours     []DocOurs
	Selected []Selected
}

// DocInput is claim 2's evidence under rules with DocUnit: the development
// evaluation (the seed whose models it used), the test evaluation of every
// seed, the models that failed to train, the headline and the best
// CosScale, and the fast protocol's bias bound (NaN when not calibrated).
type DocInput struct {
	Dev      []study.SuiteRow
	Test     []SeedScores
	Excluded Exclusions
	Headline float64
	Best     float64
	Bias     float64
}

// seedsOf lists the seeds of the test evaluations.
func seedsOf(test []SeedScores) []int {
	var out []int
	for _, s := range test {
		out = append(out, s.Seed)
	}
	return out
}

// lengths returns the longest and the shortest length of the test
// evaluations and the number of test documents, checking that every seed
// evaluated the same lengths and documents.
func testShape(test []SeedScores) (L, short, nDocs int, err error) {
	if len(test) == 0 || len(test[0].Rows) == 0 || len(test[0].Rows[0].Results) == 0 {
		return 0, 0, 0, Missing{"the test evaluation (seeds/sSEED/suite/suite.json)"}
	}
	res := test[0].Rows[0].Results
	L, short = res[len(res)-1].Length, res[0].Length
	for _, s := range test {
		if len(s.Rows) == 0 {
			return 0, 0, 0, Missing{fmt.Sprintf("the test evaluation of seed %d", s.Seed)}
		}
		r := s.Rows[0].Results
		if r[0].Length != short || r[len(r)-1].Length != L {
			return 0, 0, 0, fmt.Errorf("seed %d was evaluated at lengths %d..%d, seed %d at %d..%d", s.Seed, r[0].Length, r[len(r)-1].Length, test[0].Seed, short, L)
		}
		if len(s.Documents) > 0 && len(test[0].Documents) > 0 && !slices.Equal(s.Documents, test[0].Documents) {
			return 0, 0, 0, fmt.Errorf("seed %d was evaluated on other test documents than seed %d", s.Seed, test[0].Seed)
		}
	}
	row := test[0].Rows[0]
	sc, err := test[0].Scores(row, L)
	if err != nil {
		return 0, 0, 0, Missing{fmt.Sprintf("per-position scores (%v)", err)}
	}
	for _, x := range sc {
		nDocs = max(nDocs, x.Doc+1)
	}
	return L, short, nDocs, nil
}

// JudgeDocExtrapolation judges claim 2 (and its retention) under rules
// with DocUnit.
func (r Rules) JudgeDocExtrapolation(in DocInput) (DocExtrapolation, error) {
	if !r.Extrap.DocUnit {
		return DocExtrapolation{}, fmt.Errorf("rules version %d do not judge claim 2 by documents", r.Version)
	}
	if len(in.Dev) == 0 {
		return DocExtrapolation{}, Missing{"the development evaluation (dev/suite.json)"}
	}
	L, short, nDocs, err := testShape(in.Test)
	if err != nil {
		return DocExtrapolation{}, err
	}
	seeds := seedsOf(in.Test)
	usable := Usable(in.Excluded, seeds, in.Headline)
	x := DocExtrapolation{L: L, Short: short, Selected: SelectComparators(in.Dev, usable)}
	comps := make([]*cfgScores, len(x.Selected))
	for i, s := range x.Selected {
		if comps[i], err = loadConfig(in.Test, s.Key, L, short, nDocs); err != nil {
			return DocExtrapolation{}, err
		}
	}
	targets := []float64{in.Headline}
	if in.Best > 0 && in.Best != in.Headline {
		targets = append(targets, in.Best)
	}
	for k, cos := range targets {
		o := DocOurs{Secondary: k > 0, Key: OursKey(cos), Docs: nDocs, Seeds: len(seeds)}
		if !usable(o.Key) {
			o.Excluded = true
			x.Ours = append(x.Ours, o)
			if k == 0 {
				x.Outcome, x.RetentionOutcome = Inconclusive, Inconclusive
			}
			continue
		}
		if err := r.compareDocs(&o, comps, x.Selected, in, L, short, nDocs); err != nil {
			return DocExtrapolation{}, err
		}
		if k == 0 {
			x.Outcome, x.RetentionOutcome = o.Outcome, o.RetentionOutcome
		}
		x.Ours = append(x.Ours, o)
	}
	return x, nil
}

// compareDocs compares o with every comparator group.
func (r Rules) compareDocs(o *DocOurs, comps []*cfgScores, sel []Selected, in DocInput, L, short, nDocs int) error {
	ours, err := loadConfig(in.Test, o.Key, L, short, nDocs)
	if err != nil {
		return err
	}
	if o.Retention, err = r.retention(ours, nDocs); err != nil {
		return err
	}
	o.Acc, o.Loss = pooled(ours.tl, ones(nDocs))
	o.Positions = len(ours.long[0])
	nSeeds := len(in.Test)
	// Groups of identical predictions in every seed.
	out := make([]stats.Scores, len(comps))
	for i, c := range comps {
		for s := range nSeeds {
			if !samePositions(ours.long[s], c.long[s]) || !samePositions(ours.short[s], c.short[s]) {
				return Missing{fmt.Sprintf("scores of %s at the positions of ours (seed %d)", c.key.Label(), in.Test[s].Seed)}
			}
			so, _ := outcomes(c.long[s])
			out[i].Correct = append(out[i].Correct, so.Correct...)
			out[i].Loss = append(out[i].Loss, so.Loss...)
		}
	}
	groups := stats.Groups(out, r.Extrap.IdenticalTol)
	o.Groups = make([]DocGroup, len(groups))
	acc := make([]*DocTest, len(groups))
	ret := make([]*DocTest, len(groups))
	var oursOut stats.Scores
	for s := range nSeeds {
		so, _ := outcomes(ours.long[s])
		oursOut.Correct = append(oursOut.Correct, so.Correct...)
	}
	for g, members := range groups {
		c := comps[members[0]]
		grp := &o.Groups[g]
		for _, m := range members {
			grp.Members = append(grp.Members, sel[m])
			for s := range nSeeds {
				o.DiffPred += predDiffs(c.long[s], comps[m].long[s])
			}
		}
		grp.Acc, grp.Loss = pooled(c.tl, ones(nDocs))
		accDiff := seedMean(nSeeds, nDocs, func(s, d int) float64 { return ours.tl[s][d].acc() - c.tl[s][d].acc() })
		lossDiff := seedMean(nSeeds, nDocs, func(s, d int) float64 { return ours.tl[s][d].mean() - c.tl[s][d].mean() })
		dropDiff := seedMean(nSeeds, nDocs, func(s, d int) float64 {
			return (c.ts[s][d].acc() - c.tl[s][d].acc()) - (ours.ts[s][d].acc() - ours.tl[s][d].acc())
		})
		if grp.Accuracy, err = r.docTest(accDiff); err != nil {
			return err
		}
		lt, err := r.docTest(lossDiff)
		if err != nil {
			return err
		}
		grp.LossDiff = lt.Diff
		if grp.RetentionTest, err = r.docTest(dropDiff); err != nil {
			return err
		}
		if grp.Retention, err = r.retention(c, nDocs); err != nil {
			return err
		}
		grp.B, grp.C, _ = stats.Discordant(oursOut.Correct, out[members[0]].Correct)
		grp.McNemarP, _ = stats.McNemar(grp.B, grp.C)
		if !math.IsNaN(in.Bias) && math.Abs(grp.Accuracy.Diff.Est) < in.Bias {
			grp.InBias = true
			o.InBias++
		}
		acc[g], ret[g] = &grp.Accuracy, &grp.RetentionTest
	}
	results := r.holm(acc, r.Extrap.Alpha)
	retResults := r.holm(ret, r.Extrap.Alpha)
	for i := range results {
		switch results[i] {
		case Win:
			o.Wins++
		case Loss:
			o.Losses++
		default:
			o.Ties++
		}
		switch retResults[i] {
		case Win:
			o.RetWins++
		case Loss:
			o.RetLosses++
		default:
			o.RetTies++
		}
	}
	o.Outcome = comparisons(results)
	o.RetentionOutcome = comparisons(retResults)
	return nil
}
