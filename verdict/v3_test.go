package verdict

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/stats"
	"github.com/infoscale/gaualpha/study"
)

// docSuite builds one seed's test evaluation at lengths short and long:
// for each configuration, per document, the positions right at each length
// (of n positions per document); a position's loss is 1 when right, 3 when
// wrong.
type docCfg struct {
	key         study.ConfigKey
	short, long []int // right per document
}

func docSuite(seed, short, long, n int, cfgs []docCfg) SeedScores {
	byFile := map[string]map[int][]eval.Score{}
	var rows []study.SuiteRow
	for i, c := range cfgs {
		row := study.SuiteRow{CosScale: c.key.CosScale, Method: c.key.Method, FineTune: c.key.FineTune, Norm: c.key.Norm,
			Scores: fmt.Sprintf("%d.%d", seed, i)}
		byFile[row.Scores] = map[int][]eval.Score{}
		for _, L := range []struct {
			len   int
			right []int
		}{{short, c.short}, {long, c.long}} {
			var sc []eval.Score
			correct := 0
			for d, k := range L.right {
				for p := range n {
					s := eval.Score{Doc: d, Pos: p, Pred: 1, Loss: 3}
					if p < k {
						s.Correct, s.Pred, s.Loss = true, 0, 1
						correct++
					}
					sc = append(sc, s)
				}
			}
			byFile[row.Scores][L.len] = sc
			row.Results = append(row.Results, eval.Result{Length: L.len, Accuracy: float64(correct) / float64(len(sc))})
		}
		rows = append(rows, row)
	}
	return SeedScores{Seed: seed, Rows: rows, Scores: func(r study.SuiteRow, L int) ([]eval.Score, error) {
		sc, ok := byFile[r.Scores][L]
		if !ok {
			return nil, fmt.Errorf("%s: no scores at %d", r.Scores, L)
		}
		return sc, nil
	}}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func key(cos float64, method, norm string) study.ConfigKey {
	return study.ConfigKey{CosScale: cos, Method: method, Norm: norm}
}

// The development set chooses each method's configuration (ours left out,
// excluded models left out), and the test by documents judges: 8
// documents, 10 positions each, two seeds.
func TestDocExtrapolation(t *testing.T) {
	r := Current()
	dev := []study.SuiteRow{
		{CosScale: 128, Method: "rope", Norm: "infoscale", Results: []eval.Result{{Length: 256, Accuracy: 0.9}}},
		{CosScale: 0, Method: "rope", Norm: "infoscale", Results: []eval.Result{{Length: 256, Accuracy: 0.95}}}, // ours elsewhere: never a comparator
		{CosScale: 0, Method: "ntk", Norm: "softmax", Results: []eval.Result{{Length: 256, Accuracy: 0.3}}},
		{CosScale: 0, Method: "ntk", Norm: "infoscale", Results: []eval.Result{{Length: 256, Accuracy: 0.4}}},
		{CosScale: 0, Method: "window", Norm: "softmax", Results: []eval.Result{{Length: 256, Accuracy: 0.5}}},
		{CosScale: 0, Method: "yarn", Norm: "softmax", Results: []eval.Result{{Length: 256, Accuracy: 0.2}}},
		{CosScale: 0, Method: "lminfinite", Norm: "softmax", Results: []eval.Result{{Length: 256, Accuracy: 0.2}}},
		{CosScale: 0, Method: "pose", FineTune: true, Norm: "softmax", Results: []eval.Result{{Length: 256, Accuracy: 0.99}}}, // excluded below
	}
	ex := Exclusions{{Role: study.FineTune, Method: "pose", Seed: 43}: "failed"}
	sel := SelectComparators(dev, Usable(ex, []int{42, 43}, 128))
	wantSel := []string{"lminfinite + softmax, CosScale 0", "ntk + infoscale, CosScale 0", "window + softmax, CosScale 0", "yarn + softmax, CosScale 0"}
	if len(sel) != len(wantSel) {
		t.Fatalf("selected %+v", sel)
	}
	for i := range sel {
		if sel[i].Key.Label() != wantSel[i] {
			t.Errorf("selected %d: %s, want %s", i, sel[i].Key.Label(), wantSel[i])
		}
	}
	// Ours: 6 of 10 right in every document at 256 in both seeds, 8 at 128.
	// ntk: 4 of 10 at 256 (a win in every document: p = 2/2^8), 8 at 128
	// (ours loses 2 from 128, ntk 4: retention a win too).
	// window: 7 at 256 in seed 42, 9 in seed 43 (a loss in every document),
	// 9 at 128 (it loses 1 on average: ours loses more, a retention loss).
	// yarn and lminfinite: identical, right in 6 of 10 except one
	// document each way per seed: a tie and one group.
	const n, docs = 10, 8
	ours := docCfg{key(128, "rope", "infoscale"), repeat(8, docs), repeat(6, docs)}
	ntk := docCfg{key(0, "ntk", "infoscale"), repeat(8, docs), repeat(4, docs)}
	mixed := []int{7, 5, 6, 6, 6, 6, 6, 6}
	seeds := []SeedScores{
		docSuite(42, 128, 256, n, []docCfg{ours, ntk, {key(0, "window", "softmax"), repeat(9, docs), repeat(7, docs)},
			{key(0, "yarn", "softmax"), repeat(6, docs), mixed}, {key(0, "lminfinite", "softmax"), repeat(6, docs), mixed}}),
		docSuite(43, 128, 256, n, []docCfg{ours, ntk, {key(0, "window", "softmax"), repeat(9, docs), repeat(9, docs)},
			{key(0, "yarn", "softmax"), repeat(6, docs), mixed}, {key(0, "lminfinite", "softmax"), repeat(6, docs), mixed}}),
	}
	x, err := r.JudgeDocExtrapolation(DocInput{Dev: dev, Test: seeds, Excluded: ex, Headline: 128, Bias: math.NaN()})
	if err != nil {
		t.Fatal(err)
	}
	if x.L != 256 || x.Short != 128 || len(x.Ours) != 1 {
		t.Fatalf("lengths %d, %d; %d ours", x.L, x.Short, len(x.Ours))
	}
	o := x.Ours[0]
	if len(o.Groups) != 3 || o.Docs != docs || o.Seeds != 2 || o.Positions != n*docs {
		t.Fatalf("%d groups (want 3), %d documents, %d seeds, %d positions", len(o.Groups), o.Docs, o.Seeds, o.Positions)
	}
	// Groups in the order of the selection: lminfinite (with yarn), ntk,
	// window.
	g := map[string]DocGroup{}
	for _, grp := range o.Groups {
		g[grp.Members[0].Label] = grp
	}
	if m := g["lminfinite"].Members; len(m) != 2 || m[1].Label != "yarn" {
		t.Errorf("identical group %+v", m)
	}
	p8 := 2.0 / 256 // every document one way: the two extreme assignments of 2^8
	type want struct {
		diff, p, adj float64
		res          Result
	}
	for label, w := range map[string]want{
		"ntk":        {0.2, p8, 3 * p8, Win},
		"window":     {-0.2, p8, 3 * p8, Loss}, // (−0.1 − 0.3)/2; Holm keeps the adjusted p monotone
		"lminfinite": {0, 1, 1, Tie},
	} {
		a := g[label].Accuracy
		if math.Abs(a.Diff.Est-w.diff) > 1e-12 || math.Abs(a.P-w.p) > 1e-12 || math.Abs(a.AdjP-w.adj) > 1e-12 || a.Result != w.res {
			t.Errorf("%s: diff %v p %v adj %v %v, want %+v", label, a.Diff.Est, a.P, a.AdjP, a.Result, w)
		}
	}
	if a := g["ntk"].Accuracy; a.Better != docs || a.Worse != 0 || math.Abs(a.Diff.Lo-0.2) > 1e-12 || math.Abs(a.Diff.Hi-0.2) > 1e-12 {
		t.Errorf("ntk: %+v", a)
	}
	// Loss at 256: ours 0.6·1 + 0.4·3 = 1.8, ntk 0.4 + 1.8 = 2.2.
	if d := g["ntk"].LossDiff.Est; math.Abs(d+0.4) > 1e-12 {
		t.Errorf("ntk loss difference %v, want −0.4", d)
	}
	// McNemar over every seed's positions: ours is right where ntk is
	// (the first positions) and 2 more per document: b = 2·8·2 = 32, c = 0.
	if grp := g["ntk"]; grp.B != 32 || grp.C != 0 || math.Abs(grp.McNemarP-2*math.Pow(0.5, 32)) > 1e-20 {
		t.Errorf("ntk McNemar b %d c %d p %v", grp.B, grp.C, grp.McNemarP)
	}
	// Retention: ours 0.6/0.8 = 0.75, ntk 0.5; drop difference ntk − ours
	// = 0.4 − 0.2 = 0.2 (win); window's drop (0.2 + 0)/2 = 0.1: 0.1 − 0.2
	// = −0.1 (loss).
	if rt := o.Retention; math.Abs(rt.Ratio.Est-0.75) > 1e-12 || math.Abs(rt.LossIncrease.Est-0.4) > 1e-12 || rt.AccShort != 0.8 {
		t.Errorf("ours' retention %+v", rt)
	}
	if rt := g["ntk"].RetentionTest; math.Abs(rt.Diff.Est-0.2) > 1e-12 || rt.Result != Win {
		t.Errorf("ntk retention test %+v", rt)
	}
	if rt := g["window"].RetentionTest; math.Abs(rt.Diff.Est+0.1) > 1e-12 || rt.Result != Loss {
		t.Errorf("window retention test %+v", rt)
	}
	if o.Outcome != NotSupported || o.Wins != 1 || o.Losses != 1 || o.Ties != 1 || o.RetentionOutcome != NotSupported || x.Outcome != NotSupported {
		t.Errorf("outcome %v (%d/%d/%d), retention %v", o.Outcome, o.Wins, o.Losses, o.Ties, o.RetentionOutcome)
	}
	// Ours' headline base excluded in one seed: inconclusive.
	ex2 := Exclusions{{Role: study.HeadlineBase, CosScale: 128, Seed: 43}: "failed", {Role: study.FineTune, Method: "pose", Seed: 43}: "failed"}
	if x, err := r.JudgeDocExtrapolation(DocInput{Dev: dev, Test: seeds, Excluded: ex2, Headline: 128, Bias: math.NaN()}); err != nil || x.Outcome != Inconclusive || !x.Ours[0].Excluded {
		t.Errorf("excluded headline: %v, %v", x.Outcome, err)
	}
	// A selected comparator missing from a seed's test evaluation.
	short := seeds[1]
	short.Rows = short.Rows[:2]
	if _, err := r.JudgeDocExtrapolation(DocInput{Dev: dev, Test: []SeedScores{seeds[0], short}, Headline: 128}); !errors.As(err, new(Missing)) {
		t.Errorf("missing comparator: %v", err)
	}
	// Other documents in another seed.
	s0, s1 := seeds[0], seeds[1]
	s0.Documents, s1.Documents = []string{"a"}, []string{"b"}
	if _, err := r.JudgeDocExtrapolation(DocInput{Dev: dev, Test: []SeedScores{s0, s1}, Headline: 128}); err == nil {
		t.Error("different test documents accepted")
	}
	// The test configurations: ours, the selection, the relatives' grid.
	cfgs, err := r.TestConfigs(dev, Usable(ex, []int{42, 43}, 128), 128, 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 2+4+5*6-2 { // ntk + infoscale on cos0 and ours are in the grid too
		t.Errorf("%d test configurations: %v", len(cfgs), cfgs)
	}
	if cfgs[0] != OursKey(128) || cfgs[1] != OursKey(32) {
		t.Errorf("test configurations start %v %v", cfgs[0], cfgs[1])
	}
}

// Claim 5 by the exact binomial test of the far digits against 1/10.
func TestRetrieval(t *testing.T) {
	r := Current()
	row := func(k study.ConfigKey, L int, class string, doc, digits, right int) study.PasskeyRow {
		return study.PasskeyRow{CosScale: k.CosScale, Method: k.Method, FineTuned: k.FineTune, Norm: k.Norm, Length: L, Class: class, Doc: doc,
			Keys: digits / 5, Digits: digits, DigitsRight: right}
	}
	ours := OursKey(128)
	win := key(0, "window", "softmax")
	// Per seed (two): 50 near digits at n0, 50 far digits at 8x, two
	// documents of 25 far digits at 64x; far64 right in each of the four
	// rows of 64x (of 100 digits in all).
	build := func(skill, far64, far8 int) [][]study.PasskeyRow {
		var seeds [][]study.PasskeyRow
		for range 2 {
			seeds = append(seeds, []study.PasskeyRow{
				row(ours, 64, "near", 0, 50, skill), row(ours, 512, "far", 0, 50, far8), row(ours, 4096, "near", 0, 50, 40),
				row(ours, 4096, "far", 0, 25, far64), row(ours, 4096, "far", 1, 25, far64),
				row(win, 4096, "far", 0, 50, 5),
			})
		}
		return seeds
	}
	cases := []struct {
		name               string
		skill, far64, far8 int
		outcome            Outcome
	}{
		{"no skill", 10, 10, 25, Inconclusive},           // 20/100 < 0.25 at n0
		{"reaches", 40, 10, 0, Supported},                // 40/100 far digits at 64x
		{"above chance only", 40, 4, 0, PartlySupported}, // 16/100: p < 0.05, below 0.2
		{"only at 8x", 40, 2, 30, PartlySupported},       // 8/100 at 64x, 60/100 at 8x
		{"chance", 40, 2, 5, NotSupported},
	}
	for _, c := range cases {
		ret, err := r.JudgeRetrieval(RetrievalInput{Seeds: []int{42, 43}, Passkey: build(c.skill, c.far64, c.far8), Headline: 128, N0: 64})
		if err != nil {
			t.Fatal(err)
		}
		if ret.Outcome != c.outcome {
			t.Errorf("%s: %v, want %v", c.name, ret.Outcome, c.outcome)
		}
	}
	ret, _ := r.JudgeRetrieval(RetrievalInput{Seeds: []int{42, 43}, Passkey: build(40, 4, 0), Headline: 128, N0: 64})
	far, ok := ret.Ours.Cell(4096, "far")
	want, _ := stats.BinomialUpper(16, 100, 0.1)
	if !ok || far.Digits != 100 || far.DigitsRight != 16 || far.P != want || far.Docs != 2 || far.DocsAbove != 2 || ret.L != 4096 || ret.Skill.Acc() != 0.8 {
		t.Errorf("far cell %+v (p want %v), L %d, skill %+v", far, want, ret.L, ret.Skill)
	}
	if len(ret.Others) != 1 || ret.Others[0].Key != win {
		t.Errorf("others %+v", ret.Others)
	}
	// Cells ordered by length, near first.
	if c := ret.Ours.Cells; c[0].Length != 64 || c[1].Length != 512 || c[2].Class != "near" || c[3].Class != "far" {
		t.Errorf("cells %+v", c)
	}
	if _, err := r.JudgeRetrieval(RetrievalInput{Headline: 128, N0: 64}); !errors.As(err, new(Missing)) {
		t.Errorf("no probe: %v", err)
	}
	v2, _ := Version(2)
	if _, err := v2.JudgeRetrieval(RetrievalInput{}); err == nil {
		t.Error("rules 2 judged claim 5")
	}
}

// Claim 6: InfoScale against each relative over the cells, by documents.
func TestRelatives(t *testing.T) {
	r := Current()
	const n, docs = 10, 8
	var cfgs []docCfg
	cells, err := r.relativeCells(128)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 5 || cells[3] != (study.ConfigKey{Method: "pose", FineTune: true}) || cells[4] != (study.ConfigKey{CosScale: 128, Method: "rope"}) {
		t.Fatalf("cells %v", cells)
	}
	// InfoScale 5 right per document everywhere; softmax_plus_n0 7 (a
	// loss), softmax_plus 5 (a tie), yarn_temp 3 (a win), llama4_temp 5
	// except on the plain base's rope cell where it is 9 in one document.
	right := map[string]int{"infoscale": 5, "softmax": 4, "softmax_plus_n0": 7, "softmax_plus": 5, "yarn_temp": 3, "llama4_temp": 5}
	for _, c := range cells {
		for norm, k := range right {
			cfg := docCfg{c, repeat(6, docs), repeat(k, docs)}
			cfg.key.Norm = norm
			if norm == "llama4_temp" && c.Method == "rope" && c.CosScale == 0 {
				cfg.long = append([]int{9}, repeat(5, docs-1)...)
			}
			cfgs = append(cfgs, cfg)
		}
	}
	seeds := []SeedScores{docSuite(42, 128, 256, n, cfgs), docSuite(43, 128, 256, n, cfgs)}
	rel, err := r.JudgeRelatives(RelativesInput{Test: seeds, Headline: 128})
	if err != nil {
		t.Fatal(err)
	}
	if len(rel.Cells) != 5 || len(rel.Relatives) != 4 || rel.L != 256 {
		t.Fatalf("%d cells, %d relatives", len(rel.Cells), len(rel.Relatives))
	}
	p8 := 2.0 / 256
	for i, w := range []struct {
		diff, p float64
		res     Result
	}{{-0.2, p8, Loss}, {0, 1, Tie}, {0.2, p8, Win}, {-0.4 / 8 / 5, 1, Tie}} {
		got := rel.Relatives[i].Test
		if math.Abs(got.Diff.Est-w.diff) > 1e-12 || math.Abs(got.P-w.p) > 1e-12 || got.Result != w.res {
			t.Errorf("%s: %+v, want %+v", rel.Relatives[i].Norm, got, w)
		}
	}
	if rel.Outcome != NotSupported || rel.Wins != 1 || rel.Losses != 1 || rel.InfoScale.Acc != 0.5 || math.Abs(rel.Softmax.Retention.Ratio.Est-4.0/6) > 1e-12 {
		t.Errorf("outcome %v (%d wins, %d losses), InfoScale %v, softmax retention %v", rel.Outcome, rel.Wins, rel.Losses, rel.InfoScale.Acc, rel.Softmax.Retention.Ratio)
	}
	// Entropy ratios from per-document growths, averaged over two seeds.
	ent := func(g map[string]float64) []study.EntropyDocRow {
		var rows []study.EntropyDocRow
		for norm, growth := range g {
			for d := range 3 {
				rows = append(rows, study.EntropyDocRow{Norm: norm, Length: 64, Doc: d, Mean: 1}, study.EntropyDocRow{Norm: norm, Length: 4096, Doc: d, Mean: 1 + growth})
			}
		}
		return rows
	}
	in := RelativesInput{Test: seeds, Headline: 128, Entropy: [][]study.EntropyDocRow{
		ent(map[string]float64{"softmax": 2, "infoscale": 1, "yarn_temp": 0.5}), ent(map[string]float64{"softmax": 2, "infoscale": 1.4, "yarn_temp": 0.5})}}
	rel, _ = r.JudgeRelatives(in)
	if math.Abs(rel.InfoScale.Entropy.Est-0.6) > 1e-12 || math.Abs(rel.Relatives[2].Entropy.Est-0.25) > 1e-12 || !math.IsNaN(rel.Relatives[0].Entropy.Est) {
		t.Errorf("entropy ratios %v %v %v", rel.InfoScale.Entropy, rel.Relatives[2].Entropy, rel.Relatives[0].Entropy)
	}
	e, err := r.JudgeEntropy(EntropyInput{Seeds: in.Entropy})
	if err != nil || math.Abs(e.Ratio.Est-0.6) > 1e-12 || e.Docs != 3 || e.L0 != 64 || e.L1 != 4096 || e.Outcome != PartlySupported {
		t.Errorf("claim 1 over two seeds: %+v, %v", e, err)
	}
}

// The power analysis against hand-computed values: ours right on 6 of 10
// positions in each of 4 documents; one comparator right on 5, 5, 4, 6
// (differences 0.1, 0.1, 0.2, 0: mean 0.1, SD sqrt(0.02/3)).
func TestPowerAnalysis(t *testing.T) {
	s := docSuite(42, 128, 256, 10, []docCfg{
		{key(128, "rope", "infoscale"), repeat(6, 4), repeat(6, 4)},
		{key(0, "ntk", "softmax"), repeat(6, 4), []int{5, 5, 4, 6}},
		{key(0, "ntk", "infoscale"), repeat(6, 4), repeat(1, 4)}, // not ntk's best
		{key(0, "window", "softmax"), repeat(6, 4), repeat(0, 4)},
	})
	p, err := Current().PowerAnalysis(s.Rows, s.Scores, 128, []int{10, 20}, 0.8, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if p.Comparisons != 2 || p.Alpha != 0.025 || len(p.Rows) != 2 || p.MinUnits != 7 {
		t.Fatalf("%+v", p)
	}
	sd := math.Sqrt(0.02 / 3)
	r := p.Rows[0]
	if r.Label != "ntk" || math.Abs(r.Mean-0.1) > 1e-12 || math.Abs(r.SD-sd) > 1e-12 || !r.Close || p.Rows[1].Close {
		t.Errorf("ntk row %+v", r)
	}
	z := stats.NormalQuantile(1-0.025/2) + stats.NormalQuantile(0.8)
	if want := z * sd / math.Sqrt(20); math.Abs(r.Detectable[1]-want) > 1e-12 || math.Abs(p.Detectable[1]-want) > 1e-12 || p.MedianSD != r.SD {
		t.Errorf("detectable %v, %v, want %v", r.Detectable, p.Detectable, want)
	}
}
