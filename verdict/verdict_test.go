package verdict

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/study"
)

// suite builds suite rows at one length with per-position scores:
// right[i] says which of the positions (two documents of n each) row i gets
// right; the loss is 0.5 where right, 3 where wrong, plus shift[i].
func suite(L, n int, rows []study.SuiteRow, right [][]bool, shift []float64) ([]study.SuiteRow, Scores) {
	byFile := map[string][]eval.Score{}
	for i := range rows {
		r := &rows[i]
		r.Scores = fmt.Sprintf("%s.%s.%d", r.Method, r.Norm, i)
		var sc []eval.Score
		correct, loss := 0, 0.0
		for k, ok := range right[i] {
			s := eval.Score{Doc: k / n, Pos: k % n, Pred: 1, Correct: ok, Loss: 3 + shift[i]}
			if ok {
				s.Pred, s.Loss = 0, 0.5+shift[i]
				correct++
			}
			loss += s.Loss
			sc = append(sc, s)
		}
		byFile[r.Scores] = sc
		r.Results = []eval.Result{{Length: L, Accuracy: float64(correct) / float64(len(sc)), Loss: loss / float64(len(sc))}}
	}
	return rows, func(r study.SuiteRow, at int) ([]eval.Score, error) {
		sc, ok := byFile[r.Scores]
		if !ok || at != L {
			return nil, fmt.Errorf("%s: no scores at length %d", r.Scores, at)
		}
		return sc, nil
	}
}

func pattern(n int, f func(k int) bool) []bool {
	out := make([]bool, n)
	for k := range out {
		out[k] = f(k)
	}
	return out
}

// Claim 2 from per-position scores: McNemar against each group of
// identical comparators (identical ones counted once), Holm-corrected.
func TestExtrapolationMcNemar(t *testing.T) {
	const n, L = 40, 4096
	all := func(int) bool { return true }
	cases := []struct {
		name    string
		right   [][]bool // ours, ntk, yarn, window
		shift   []float64
		outcome Outcome
		groups  int
	}{
		// Ours right on every position, ntk and yarn identical (right on
		// 1 in 4), window right on 1 in 2: two groups, b = 60 and 40, c = 0.
		{"wins", [][]bool{pattern(2*n, all), pattern(2*n, func(k int) bool { return k%4 == 0 }), pattern(2*n, func(k int) bool { return k%4 == 0 }), pattern(2*n, func(k int) bool { return k%2 == 0 })},
			[]float64{0, 0, 0, 0}, Supported, 2},
		// yarn's losses differ by more than the tolerance: three groups;
		// window is right everywhere and ours on 1 in 2: a loss.
		{"loss", [][]bool{pattern(2*n, func(k int) bool { return k%2 == 0 }), pattern(2*n, func(k int) bool { return k%4 == 0 }), pattern(2*n, func(k int) bool { return k%4 == 0 }), pattern(2*n, all)},
			[]float64{0, 0, 1e-3, 0}, NotSupported, 3},
		// Ours differs from the comparators at two positions only: ties.
		{"ties", [][]bool{pattern(2*n, func(k int) bool { return k%2 == 0 || k == 1 }), pattern(2*n, func(k int) bool { return k%2 == 0 }), pattern(2*n, func(k int) bool { return k%2 == 0 || k == 3 }), pattern(2*n, func(k int) bool { return k%2 == 0 })},
			[]float64{0, 0, 0, 0}, Inconclusive, 2},
	}
	r := Current()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, scores := suite(L, n, []study.SuiteRow{{CosScale: 128, Method: "rope", Norm: "infoscale"}, {Method: "ntk", Norm: "softmax"}, {Method: "yarn", Norm: "softmax"}, {Method: "window", Norm: "softmax"}}, c.right, c.shift)
			x, err := r.JudgeExtrapolation(ExtrapolationInput{Rows: rows, Scores: scores, Headline: 128, Bias: math.NaN()})
			if err != nil {
				t.Fatal(err)
			}
			if x.Outcome != c.outcome || len(x.Ours) != 1 || len(x.Ours[0].Groups) != c.groups {
				t.Errorf("outcome %v with %d groups, want %v with %d: %+v", x.Outcome, len(x.Ours[0].Groups), c.outcome, c.groups, x)
			}
		})
	}
	// One comparator, b = 60, c = 0: p = 2·0.5^60 (Holm over one
	// comparison leaves it); a gap below the bias bound is marked.
	rows, scores := suite(L, n, []study.SuiteRow{{CosScale: 128, Method: "rope", Norm: "infoscale"}, {Method: "ntk", Norm: "softmax"}},
		[][]bool{pattern(2*n, all), pattern(2*n, func(k int) bool { return k%4 == 0 })}, []float64{0, 0})
	x, err := r.JudgeExtrapolation(ExtrapolationInput{Rows: rows, Scores: scores, Headline: 128, Bias: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	g := x.Ours[0].Groups[0]
	if want := 2 * math.Pow(0.5, 60); g.Paired.B != 60 || g.Paired.C != 0 || math.Abs(g.AdjP-want) > 1e-30 || !g.InBias || x.Ours[0].InBias != 1 {
		t.Errorf("b = %d, c = %d, p = %v (want 60, 0, %v), in the bias: %v", g.Paired.B, g.Paired.C, g.AdjP, want, g.InBias)
	}
	// Without per-position scores nothing is judged.
	none := func(study.SuiteRow, int) ([]eval.Score, error) { return nil, errors.New("no scores") }
	if _, err := r.JudgeExtrapolation(ExtrapolationInput{Rows: rows, Scores: none, Headline: 128, Bias: math.NaN()}); !errors.As(err, new(Missing)) {
		t.Errorf("without scores: %v, want Missing", err)
	}
	// An excluded headline base makes the claim inconclusive.
	ex := Exclusions{{Role: study.HeadlineBase, CosScale: 128}: "failed"}
	if x, err := r.JudgeExtrapolation(ExtrapolationInput{Rows: rows, Scores: scores, Headline: 128, Excluded: ex, Bias: math.NaN()}); err != nil || x.Outcome != Inconclusive || !x.Ours[0].Excluded {
		t.Errorf("excluded headline: %+v, %v", x, err)
	}
	// The previous rules rank by accuracy: ours is the most accurate.
	prev, _ := Version(1)
	if x, err := prev.JudgeExtrapolation(ExtrapolationInput{Rows: rows}); err != nil || x.Outcome != Supported || x.Rank != 1 {
		t.Errorf("rank rule: %+v, %v", x, err)
	}
}

// The exclusion rule on the models of a study: the sweep's median, the
// plain model and the fine-tunes' base models as references, and a run
// without a recorded validation loss kept out of the verdicts.
func TestExclude(t *testing.T) {
	m := func(role study.Role, s float64, method string, loss float64) study.TrainedModel {
		return study.TrainedModel{Model: study.Model{Role: role, CosScale: s, Method: method}, Loss: loss, HasLoss: loss > 0}
	}
	models := []study.TrainedModel{
		m(study.Sweep, 8, "", 4.0), m(study.Sweep, 16, "", 4.2), // median of 4.0, 4.2, 5.1: 4.2; 1.2 × 4.2 = 5.04
		m(study.Sweep, 32, "", 5.1), m(study.Sweep, 64, "", 0), // no validation loss
		m(study.Plain, 0, "", 3.0), m(study.BestBase, 0, "", 3.5), // 3.5 <= 3.6
		m(study.HeadlineBase, 128, "", 3.61), // > 1.2 × 3.0
		m(study.FineTune, 0, "pi", 3.5), m(study.FineTune, 0, "alibi", 3.7),
		m(study.FineTune, 32, "pose", 4.3), // no base-cos32: base-cosbest's 3.5
	}
	got := Current().Exclude(models)
	want := map[string]string{
		"cos32":               "validation loss 5.1000 > 1.2 × the sweep median 4.2000",
		"cos64":               "no validation loss recorded",
		"base-cos128":         "validation loss 3.6100 > 1.2 × the plain model's 3.0000",
		"suite/cos0/ft-alibi": "validation loss 3.7000 > 1.2 × base-cos0's 3.0000",
		"suite/cos32/ft-pose": "validation loss 4.3000 > 1.2 × base-cosbest's 3.5000",
	}
	if len(got) != len(want) {
		t.Errorf("excluded %v, want the %d of %v", got, len(want), want)
	}
	for model, reason := range got {
		if !strings.HasPrefix(reason, want[model.Name()]) || want[model.Name()] == "" {
			t.Errorf("%s: reason %q, want it to start with %q", model.Name(), reason, want[model.Name()])
		}
	}
	// The previous rules exclude nothing.
	if prev, _ := Version(1); len(prev.Exclude(models)) != 0 {
		t.Error("the rules of version 1 exclude models")
	}
	// The rule on the sweep losses of the 2026-11-27 report: only the
	// s = 256 model (5.778) is more than 20% above the median 4.0224.
	var sweep []study.TrainedModel
	for i, l := range []float64{3.9351, 3.9420, 3.9266, 4.0506, 4.0224, 4.0715, 5.7780} {
		sweep = append(sweep, m(study.Sweep, float64(i+1), "", l))
	}
	if ex := Current().Exclude(sweep); len(ex) != 1 || !ex.Excluded(study.Model{Role: study.Sweep, CosScale: 7}) {
		t.Errorf("2026-11-27 sweep: excluded %v, want the 5.778 model", ex)
	}
}

// Every rule of claims 1, 3 and 4 at its thresholds.
func TestRuleThresholds(t *testing.T) {
	r := Current()
	// Claim 1 from the intervals: the entropy rule on constructed documents
	// whose growths are exactly proportional.
	docs := func(gs, gi float64) []study.EntropyDocRow {
		var rows []study.EntropyDocRow
		for d := range 4 {
			jitter := 0.01 * float64(d)
			rows = append(rows, study.EntropyDocRow{Norm: "softmax", Length: 64, Doc: d, Mean: 1},
				study.EntropyDocRow{Norm: "softmax", Length: 4096, Doc: d, Mean: 1 + gs + jitter},
				study.EntropyDocRow{Norm: "infoscale", Length: 64, Doc: d, Mean: 1},
				study.EntropyDocRow{Norm: "infoscale", Length: 4096, Doc: d, Mean: 1 + gi*(1+jitter/gs)})
		}
		return rows
	}
	for _, c := range []struct {
		gs, gi float64
		want   Outcome
	}{{1, 0.3, Supported}, {1, 0.7, PartlySupported}, {1, 1, NotSupported}, {-1, -0.3, Inconclusive}} {
		e, err := r.JudgeEntropy(EntropyInput{PerDoc: docs(c.gs, c.gi)})
		if err != nil || e.Outcome != c.want {
			t.Errorf("growths %v, %v: %v (r = %+v), want %v (%v)", c.gs, c.gi, e.Outcome, e.Ratio, c.want, err)
		}
	}
	// Claim 3: seven models rising steadily are supported; four are too
	// few; saturated peaks cannot be ordered.
	eta := func(vals ...float64) []study.EtaPeakRow {
		var rows []study.EtaPeakRow
		for i, v := range vals {
			rows = append(rows, study.EtaPeakRow{CosScale: float64(int(8) << i), Layer: study.AllLayers, PreAttn: v},
				study.EtaPeakRow{CosScale: float64(int(8) << i), Layer: 0, PreAttn: -1})
		}
		return rows
	}
	for _, c := range []struct {
		rows []study.EtaPeakRow
		want Outcome
	}{
		{eta(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7), Supported},
		{eta(0.1, 0.2, 0.3, 0.4), Inconclusive},
		{eta(0.1, 0.2, 0.3, 0.9995, 0.9996, 0.9997, 0.9998), Inconclusive},
		{eta(0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1), NotSupported},
		{eta(0.2, 0.1, 0.4, 0.3, 0.6, 0.5, 0.15), PartlySupported}, // ρ = 0.57, p ≈ 0.1
	} {
		tr, err := r.JudgeEta(c.rows, nil)
		if err != nil || tr.Outcome != c.want {
			t.Errorf("η1* %v: %v (ρ %.2f, p %.3g), want %v (%v)", tr.Value, tr.Outcome, tr.Rho, tr.P, c.want, err)
		}
	}
	// An excluded sweep model drops out.
	ex := Exclusions{{Role: study.Sweep, CosScale: 8}: "failed"}
	if tr, _ := r.JudgeEta(eta(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7), ex); len(tr.Value) != 6 {
		t.Errorf("excluded model kept: %v", tr.CosScale)
	}
	// Claim 4: the mass of the largest CosScale decides with the trend.
	band := func(top float64) []study.BandRow {
		rows := []study.BandRow{{CosScale: math.NaN(), Window: true, Layer: study.AllLayers, W: 64, Mass: 1}}
		for i := range 6 {
			rows = append(rows, study.BandRow{CosScale: float64(i * 8), Layer: study.AllLayers, W: 64, Mass: 0.5 + 0.05*float64(i)},
				study.BandRow{CosScale: float64(i * 8), Layer: study.AllLayers, W: 32, Mass: 0})
		}
		rows[len(rows)-2].Mass = top
		return rows
	}
	for _, c := range []struct {
		top  float64
		want Outcome
	}{{0.97, Supported}, {0.8, PartlySupported}} {
		tr, err := r.JudgeWindow(band(c.top), nil)
		if err != nil || tr.Outcome != c.want || len(tr.Value) != 6 {
			t.Errorf("top mass %v: %v over %d models, want %v (%v)", c.top, tr.Outcome, len(tr.Value), c.want, err)
		}
	}
}

// Every version of the rules names the commit that fixed it; the versions
// are numbered in order and the current one is the last.
func TestRuleSets(t *testing.T) {
	rs := RuleSets()
	for i, r := range rs {
		if r.Version != i+1 || len(r.Commit) < 7 || r.Date == "" || r.Description == "" {
			t.Errorf("rule set %d: %+v", i, r)
		}
	}
	if Current().Version != len(rs) {
		t.Errorf("current rules are version %d of %d", Current().Version, len(rs))
	}
	if _, err := Version(99); err == nil {
		t.Error("version 99 found")
	}
	// Changing a returned rule set does not change the rules.
	rs[0].Eta.PartlyRho = 0
	if again := RuleSets(); again[0].Eta.PartlyRho != 0.4 {
		t.Error("rule sets share state")
	}
	if Supported.String() != "supported" || Inconclusive.String() != "inconclusive" || Win.String() != "win" {
		t.Error("names")
	}
}
