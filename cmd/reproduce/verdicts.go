package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/stats"
)

// The verdicts of docs/analysis.md ("Verdict rules"), computed from the
// parts' outputs with package stats.

// excluded returns the models that failed to train (docs/analysis.md,
// "Models that failed to train"), by directory name under models/ (and
// suite fine-tunes by their path under the output), with the reason.
func excluded(o options) map[string]string {
	out := map[string]string{}
	// val is the best validation loss of the run in dir, from the state of
	// its best checkpoint (committed with the results) or else of its last.
	val := func(dir string) (float64, bool) {
		for _, sub := range []string{"best", "last"} {
			if st, err := readState(filepath.Join(dir, sub)); err == nil && st.BestValLoss != nil {
				return *st.BestValLoss, true
			}
		}
		return 0, false
	}
	// A model that exists but has no validation loss cannot be shown to
	// have trained, so it decides no verdict either.
	unknown := func(name, dir string) {
		if _, err := os.Stat(dir); err == nil {
			out[name] = "no validation loss recorded (trainer_state.json missing or without best_val_loss), so the rule cannot clear it"
		}
	}
	var sweep []float64
	for _, s := range o.profile.Sweep {
		if v, ok := val(o.modelDir(cosName(s))); ok {
			sweep = append(sweep, v)
		} else {
			unknown(cosName(s), o.modelDir(cosName(s)))
		}
	}
	med := stats.Median(sweep)
	for _, s := range o.profile.Sweep {
		if v, ok := val(o.modelDir(cosName(s))); ok && stats.FailedToTrain(v, med) {
			out[cosName(s)] = fmt.Sprintf("validation loss %.4f > 1.2 × the sweep median %.4f", v, med)
		}
	}
	plain, okPlain := val(o.modelDir("base-cos0"))
	if !okPlain {
		unknown("base-cos0", o.modelDir("base-cos0"))
	}
	for _, n := range []string{"base-cosbest", "base-" + cosName(o.profile.Headline)} {
		v, ok := val(o.modelDir(n))
		switch {
		case !ok:
			unknown(n, o.modelDir(n))
		case okPlain && stats.FailedToTrain(v, plain):
			out[n] = fmt.Sprintf("validation loss %.4f > 1.2 × the plain model's %.4f", v, plain)
		}
	}
	fts, _ := filepath.Glob(filepath.Join(o.out, "suite", "cos*", "ft-*"))
	for _, dir := range fts {
		rel, _ := filepath.Rel(o.out, dir)
		v, ok := val(dir)
		if !ok {
			unknown(filepath.ToSlash(rel), dir)
			continue
		}
		tag := filepath.Base(filepath.Dir(dir)) // cosS
		ref := "base-cos0"
		if tag != "cos0" {
			ref = "base-" + tag
			if _, err := os.Stat(o.modelDir(ref)); err != nil {
				ref = "base-cosbest"
			}
		}
		if b, ok := val(o.modelDir(ref)); ok && stats.FailedToTrain(v, b) {
			out[filepath.ToSlash(rel)] = fmt.Sprintf("validation loss %.4f > 1.2 × %s's %.4f", v, ref, b)
		}
	}
	return out
}

// exclusionSection lists the excluded models.
func exclusionSection(ex map[string]string) string {
	var sb strings.Builder
	sb.WriteString("Rule (docs/analysis.md): a model whose best validation loss is more than 20% above its reference (sweep models: the sweep's median; CosScale bases: the plain model; fine-tunes: their base model) failed to train and is left out of every verdict.\n\n")
	if len(ex) == 0 {
		sb.WriteString("No model is excluded.\n")
		return sb.String()
	}
	var names []string
	for n := range ex {
		names = append(names, n)
	}
	sort.Strings(names)
	sb.WriteString("| excluded model | reason |\n|---|---|\n")
	for _, n := range names {
		fmt.Fprintf(&sb, "| %s | %s |\n", n, ex[n])
	}
	return sb.String()
}

// claimEntropyPaired is claim 1 under the rule of docs/analysis.md: the
// bootstrap interval over documents of InfoScale's entropy growth relative
// to softmax's.
func claimEntropyPaired(o options) claim {
	const title = "InfoScale keeps attention entropy invariant as the context grows (softmax's grows like ln n)"
	rows, err := readCSV(filepath.Join(o.out, "analysis", "entropy_docs.csv"))
	if err != nil {
		return notRun(title, "analysis/entropy_docs.csv")
	}
	ent := map[string]map[int]map[int]float64{} // norm → length → doc
	var lengths []int
	for _, r := range rows {
		L, _ := strconv.Atoi(r["length"])
		d, _ := strconv.Atoi(r["doc"])
		if ent[r["norm"]] == nil {
			ent[r["norm"]] = map[int]map[int]float64{}
		}
		if ent[r["norm"]][L] == nil {
			ent[r["norm"]][L] = map[int]float64{}
			if r["norm"] == "softmax" {
				lengths = append(lengths, L)
			}
		}
		ent[r["norm"]][L][d] = num(r["mean_entropy"])
	}
	sort.Ints(lengths)
	if len(lengths) < 2 || ent["infoscale"] == nil {
		return notRun(title, "per-document entropies of softmax and InfoScale")
	}
	l0, l1 := lengths[0], lengths[len(lengths)-1]
	var gs, gi []float64
	for d := 0; ; d++ {
		a, ok1 := ent["softmax"][l1][d]
		b, ok2 := ent["infoscale"][l1][d]
		if !ok1 || !ok2 {
			break
		}
		gs = append(gs, a-ent["softmax"][l0][d])
		gi = append(gi, b-ent["infoscale"][l0][d])
	}
	growth, err1 := stats.Bootstrap(len(gs), stats.WeightedSum(gs), stats.DefaultResamples, stats.DefaultSeed, 0.95)
	ratio, err2 := stats.Bootstrap(len(gs), stats.SumRatio(gi, gs), stats.DefaultResamples, stats.DefaultSeed, 0.95)
	if err1 != nil || err2 != nil || len(gs) == 0 {
		return notRun(title, "a bootstrap of the entropy growth")
	}
	out := stats.EntropyRatio(growth, ratio)
	n := float64(len(gs))
	var body strings.Builder
	fmt.Fprintf(&body, "Per test document (%d documents), the growth of the mean row entropy from n = %d to %d on the plain model; the ratio r = ΣG_InfoScale / ΣG_softmax with a paired bootstrap interval over documents (%d resamples, seed %d).\n\n",
		len(gs), l0, l1, stats.DefaultResamples, stats.DefaultSeed)
	fmt.Fprintf(&body, "| quantity | estimate | 95%% interval |\n|---|---:|---:|\n| softmax growth (nats, mean over documents) | %.3f | [%.3f, %.3f] |\n| r = InfoScale growth / softmax growth | %.3f | [%.3f, %.3f] |\n\n",
		growth.Est/n, growth.Lo/n, growth.Hi/n, ratio.Est, ratio.Lo, ratio.Hi)
	body.WriteString("Rule: inconclusive if the softmax growth's interval includes 0; supported if r's upper bound <= 0.5; partly supported if it is in (0.5, 0.9); not supported if r's lower bound >= 0.9; otherwise inconclusive.\n\n")
	body.WriteString("![entropy vs length](analysis/entropy.png)\n\n![entropy per layer](analysis/entropy_layers.png)\n")
	body.WriteString(alibiEntropy(o))
	return claim{title: title, verdict: out.String(),
		summary: fmt.Sprintf("r = InfoScale/softmax entropy growth %d→%d: %.2f [%.2f, %.2f] (95%% bootstrap over documents)", l0, l1, ratio.Est, ratio.Lo, ratio.Hi),
		body:    body.String()}
}

// pairedRow is a suite row with the file of its per-position scores.
type pairedRow struct {
	Base     string  `json:"base"`
	CosScale float64 `json:"cosscale"`
	Method   string  `json:"method"`
	Norm     string  `json:"norm"`
	FineTune bool    `json:"fine_tuned"`
	Results  []struct {
		Length   int     `json:"length"`
		Accuracy float64 `json:"accuracy"`
		Loss     float64 `json:"loss"`
	} `json:"results"`
	// Scores is the row's eval.WriteScores file, relative to its suite's
	// directory.
	Scores string `json:"scores"`
}

func (r pairedRow) label() string {
	ft := ""
	if r.FineTune {
		ft = " (ft)"
	}
	return fmt.Sprintf("%s%s + %s, CosScale %g", r.Method, ft, r.Norm, r.CosScale)
}

// ftPath is the fine-tune directory of a row under the output.
func (r pairedRow) ftPath() string {
	if !r.FineTune {
		return ""
	}
	return fmt.Sprintf("suite/cos%g/ft-%s", r.CosScale, r.Method)
}

// suiteRows reads a suite's rows from dir/suite.json.
func suiteRows(dir string) ([]pairedRow, error) {
	b, err := os.ReadFile(filepath.Join(dir, "suite.json"))
	if err != nil {
		return nil, err
	}
	var s struct {
		Rows []pairedRow `json:"rows"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "suite.json"), err)
	}
	if len(s.Rows) == 0 || len(s.Rows[0].Results) == 0 {
		return nil, fmt.Errorf("%s has no rows", filepath.Join(dir, "suite.json"))
	}
	return s.Rows, nil
}

// scoreReader reads the per-position scores of suite rows, each file once.
type scoreReader struct {
	dir   string // the suite's directory
	files map[string]map[int][]eval.Score
}

func newScoreReader(dir string) *scoreReader {
	return &scoreReader{dir: dir, files: map[string]map[int][]eval.Score{}}
}

// at returns row r's scores at length L.
func (sr *scoreReader) at(r pairedRow, L int) ([]eval.Score, error) {
	if r.Scores == "" {
		return nil, fmt.Errorf("%s has no per-position scores (a suite.json written before they were kept)", r.label())
	}
	f, ok := sr.files[r.Scores]
	if !ok {
		var err error
		if f, err = eval.ReadScores(filepath.Join(sr.dir, r.Scores)); err != nil {
			return nil, err
		}
		sr.files[r.Scores] = f
	}
	sc, ok := f[L]
	if !ok || len(sc) == 0 {
		return nil, fmt.Errorf("%s: no scores at length %d", r.Scores, L)
	}
	return sc, nil
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
func comparePositions(a, b []eval.Score) (stats.Paired, error) {
	if !samePositions(a, b) {
		return stats.Paired{}, fmt.Errorf("the two configurations were not scored at the same positions")
	}
	sa, doc := outcomes(a)
	sb, _ := outcomes(b)
	return stats.Compare(sa, sb, doc, stats.DefaultResamples, stats.DefaultSeed)
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

// claimExtrapolationPaired is claim 2 under the rule of docs/analysis.md;
// bias is the fast protocol's bias bound from the calibration (NaN if it
// was not run).
func claimExtrapolationPaired(o options, ex map[string]string, bias float64) claim {
	const title = "InfoScale + CosScale extrapolates to 64x the training length better than the existing methods"
	dir := filepath.Join(o.out, "suite")
	rows, err := suiteRows(dir)
	if err != nil {
		return notRun(title, "suite/suite.json")
	}
	sr := newScoreReader(dir)
	l := len(rows[0].Results) - 1
	L := rows[0].Results[l].Length
	usable := func(r pairedRow) bool {
		if p := r.ftPath(); p != "" && ex[p] != "" {
			return false
		}
		return !(r.CosScale == o.profile.Headline && ex["base-"+cosName(o.profile.Headline)] != "")
	}
	var body strings.Builder
	var verdict stats.Outcome
	var summary string
	for k, target := range []float64{o.profile.Headline, -1} {
		var ours *pairedRow
		for i, r := range rows {
			isBest := target < 0 && r.CosScale > 0 && r.CosScale != o.profile.Headline
			if r.Method == "rope" && r.Norm == "infoscale" && (r.CosScale == target || isBest) {
				ours = &rows[i]
				break
			}
		}
		if ours == nil {
			continue
		}
		which := fmt.Sprintf("the headline CosScale %g base", ours.CosScale)
		if k == 1 {
			which = fmt.Sprintf("the sweep's best CosScale %g base (secondary)", ours.CosScale)
		}
		if !usable(*ours) {
			fmt.Fprintf(&body, "### Ours on %s\n\nExcluded (failed to train): inconclusive.\n\n", which)
			if k == 0 {
				verdict, summary = stats.Inconclusive, "the headline model failed to train"
			}
			continue
		}
		oursSc, err := sr.at(*ours, L)
		if err != nil {
			return notRun(title, fmt.Sprintf("per-position scores (%v)", err))
		}
		// The best configuration of each other method, then groups of
		// identical predictions among them.
		bestOf := map[string]pairedRow{}
		var keys []string
		for _, r := range rows {
			if !usable(r) || (r.Method == "rope" && r.Norm == "infoscale") {
				continue
			}
			key := r.Method
			if r.FineTune {
				key += " (ft)"
			}
			cur, ok := bestOf[key]
			if !ok {
				keys = append(keys, key)
			}
			if !ok || r.Results[l].Accuracy > cur.Results[l].Accuracy {
				bestOf[key] = r
			}
		}
		sort.Strings(keys)
		sc := make([][]eval.Score, len(keys))
		out := make([]stats.Scores, len(keys))
		for i, key := range keys {
			if sc[i], err = sr.at(bestOf[key], L); err != nil {
				return notRun(title, fmt.Sprintf("per-position scores (%v)", err))
			}
			if !samePositions(oursSc, sc[i]) {
				return notRun(title, fmt.Sprintf("scores of %s at the positions of ours", bestOf[key].label()))
			}
			out[i], _ = outcomes(sc[i])
		}
		groups := stats.Groups(out, stats.IdenticalTol)
		cmp := make([]stats.Paired, len(groups))
		ps := make([]float64, len(groups))
		for g, members := range groups {
			if cmp[g], err = comparePositions(oursSc, sc[members[0]]); err != nil {
				return notRun(title, fmt.Sprintf("a paired comparison (%v)", err))
			}
			ps[g] = cmp[g].P
		}
		adj := stats.Holm(ps)
		var results []stats.Result
		fmt.Fprintf(&body, "### Ours on %s: RoPE + InfoScale, accuracy %.4f, loss %.3f at L = %d\n\n", which, ours.Results[l].Accuracy, ours.Results[l].Loss, L)
		body.WriteString("| comparator group (methods with identical predictions) | its best configuration | accuracy | loss | b / c | McNemar p (Holm) | mid-p | Δacc (ours − it) [95% CI] | Δloss [95% CI] | result |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
		inBias, diffPred := 0, 0
		for g, members := range groups {
			c := cmp[g]
			res := stats.Judge(adj[g], c.AccDiff.Est)
			results = append(results, res)
			var names []string
			for _, m := range members {
				names = append(names, keys[m])
				diffPred += predDiffs(sc[members[0]], sc[m])
			}
			note := ""
			if !math.IsNaN(bias) && math.Abs(c.AccDiff.Est) < bias {
				note = " (within the fast protocol's bias)"
				inBias++
			}
			first := bestOf[keys[members[0]]]
			fmt.Fprintf(&body, "| %s | %s | %.4f | %.3f | %d / %d | %.3g | %.3g | %+.4f [%+.4f, %+.4f] | %+.3f [%+.3f, %+.3f] | %s%s |\n",
				strings.Join(names, ", "), first.label(), c.AccB, c.LossB, c.B, c.C, adj[g], c.MidP,
				c.AccDiff.Est, c.AccDiff.Lo, c.AccDiff.Hi, c.LossDiff.Est, c.LossDiff.Lo, c.LossDiff.Hi, res, note)
		}
		outc := stats.Comparisons(results)
		w, lo, t := 0, 0, 0
		for _, r := range results {
			switch r {
			case stats.Win:
				w++
			case stats.Loss:
				lo++
			default:
				t++
			}
		}
		fmt.Fprintf(&body, "\nOutcome: **%s** (%d wins, %d losses, %d ties against %d comparator groups of %d methods; %d positions of %d test document(s); members of a group predict different tokens at %d positions in all).",
			outc, w, lo, t, len(groups), len(keys), len(oursSc), oursSc[len(oursSc)-1].Doc+1, diffPred)
		if !math.IsNaN(bias) {
			fmt.Fprintf(&body, " %d of the %d accuracy gaps are smaller than the fast protocol's bias bound %.4f.", inBias, len(groups), bias)
		}
		body.WriteString("\n\n")
		if k == 0 {
			verdict = outc
			summary = fmt.Sprintf("at L = %d, RoPE + InfoScale on the CosScale %g base: %d wins, %d losses, %d ties against %d comparator groups (McNemar on the same %d positions, Holm)", L, ours.CosScale, w, lo, t, len(groups), len(oursSc))
		}
	}
	fmt.Fprintf(&body, "Test: McNemar's exact two-sided test on the positions scored by both (b = right for ours and wrong for the comparator, c = the reverse), Holm-corrected over the comparator groups at α = %g; the mid-p beside it. Intervals: paired bootstrap over documents (%d resamples, seed %d). Comparators with identical predictions (right and wrong at the same positions, losses within %g at every position) form one group, compared once.\n\n",
		stats.Alpha, stats.DefaultResamples, stats.DefaultSeed, stats.IdenticalTol)
	body.WriteString("![accuracy vs length](analysis/curves_accuracy.png)\n\n![loss vs length](analysis/curves_loss.png)\n\nThe full tables:\n\n")
	if md, err := os.ReadFile(filepath.Join(dir, "suite.md")); err == nil {
		body.Write(md)
	}
	if summary == "" {
		return notRun(title, "the headline configuration's row")
	}
	return claim{title: title, verdict: verdict.String(), summary: summary, body: body.String()}
}

// sweepValues reads one column of the pooled ("all") rows of an analysis
// CSV per CosScale, leaving out excluded models.
func sweepValues(o options, file, col string, ex map[string]string, withPlain bool) (s, v []float64, err error) {
	rows, err := readCSV(filepath.Join(o.out, "analysis", file))
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		if r["layer"] != "all" || r["windowed_reference"] == "true" || (r["w"] != "" && r["w"] != "64") {
			continue
		}
		c := num(r["cosscale"])
		if c == 0 && !withPlain {
			continue
		}
		if c > 0 && ex[cosName(c)] != "" {
			continue
		}
		s = append(s, c)
		v = append(v, num(r[col]))
	}
	return s, v, nil
}

// claimEtaPaired is claim 3 under the rule of docs/analysis.md.
func claimEtaPaired(o options, ex map[string]string) claim {
	const title = "The peak η1* of the pre-RoPE q·k cosine distribution shifts toward 1 as CosScale grows (Theorem 3.4)"
	s, eta, err := sweepValues(o, "eta_peak.csv", "eta1_pre_attn", ex, false)
	if err != nil || len(s) < 2 {
		return notRun(title, "analysis/eta_peak.csv")
	}
	rho, p, err := stats.SpearmanTest(s, eta)
	if err != nil {
		return notRun(title, "a Spearman test of η1*")
	}
	sat := 0
	for _, e := range eta {
		if e >= 0.999 {
			sat++
		}
	}
	out := stats.Trend(rho, p, len(s), sat)
	var body strings.Builder
	body.WriteString("η1* = the peak of the attention-weighted pre-RoPE cosine distribution (layers and documents pooled, L = 1024; bins of 0.001 reflected at ±1, Gaussian smoothing σ = 0.005, parabolic refinement: resolution 0.001, no ceiling below 1), per sweep model not excluded:\n\n| CosScale | η1* (attention-weighted, before RoPE) |\n|---:|---:|\n")
	for i := range s {
		fmt.Fprintf(&body, "| %g | %.4f |\n", s[i], eta[i])
	}
	fmt.Fprintf(&body, "\nSpearman ρ = %.2f, one-sided exact permutation p = %.3g over %d models; %d within one resolution step of 1.\n\nRule: inconclusive with fewer than 5 models or more than half at the resolution limit; supported if ρ > 0 and p < 0.05; partly supported if ρ > 0 and p < 0.25; otherwise not supported.\n\n![eta vs CosScale](analysis/eta_peak.png)\n\n![cosine histograms](analysis/eta_hist.png)\n", rho, p, len(s), sat)
	return claim{title: title, verdict: out.String(),
		summary: fmt.Sprintf("attention-weighted pre-RoPE η1*: Spearman ρ = %.2f, permutation p = %.3g (%d models)", rho, p, len(s)),
		body:    body.String()}
}

// claimWindowPaired is claim 4 under the rule of docs/analysis.md.
func claimWindowPaired(o options, ex map[string]string) claim {
	const title = "A large CosScale approximates windowed attention"
	s, mass, err := sweepValues(o, "band.csv", "mass", ex, true)
	if err != nil || len(s) < 2 {
		return notRun(title, "analysis/band.csv")
	}
	rho, p, err := stats.SpearmanTest(s, mass)
	if err != nil {
		return notRun(title, "a Spearman test of the band mass")
	}
	top := 0
	for i := range s {
		if s[i] > s[top] {
			top = i
		}
	}
	out := stats.Window(rho, p, len(s), mass[top])
	var body strings.Builder
	body.WriteString("Mean attention mass within ±64 at L = 1024 (models not excluded):\n\n| CosScale | mass within ±64 |\n|---:|---:|\n")
	for i := range s {
		fmt.Fprintf(&body, "| %g | %.4f |\n", s[i], mass[i])
	}
	fmt.Fprintf(&body, "\nSpearman ρ = %.2f, one-sided exact permutation p = %.3g over %d models; mass at the largest CosScale %.4f.\n\nRule: inconclusive with fewer than 5 models; supported if p < 0.05 and the largest CosScale's mass >= 0.95; partly supported if p < 0.05 or that mass >= 0.9; otherwise not supported.\n\n![band mass vs CosScale](analysis/band.png)\n\n![band mass vs w](analysis/band_w.png)\n\n![q·k heat maps](analysis/heatmap.png)\n", rho, p, len(s), mass[top])
	plain, hasPlain := math.NaN(), false
	if i := slices.Index(s, 0); i >= 0 {
		plain, hasPlain = mass[i], true
	}
	body.WriteString(alibiBand(o, plain, hasPlain))
	return claim{title: title, verdict: out.String(),
		summary: fmt.Sprintf("mass within ±64: Spearman ρ = %.2f, p = %.3g, %.3f at s = %g", rho, p, mass[top], s[top]),
		body:    body.String()}
}

// calibrationSection compares the fast and paper protocols on the same
// models, configurations, documents and positions; bound is the fast
// protocol's bias bound (NaN when the calibration has not run).
func calibrationSection(o options) (text string, bound float64) {
	dirs := [2]string{filepath.Join(o.out, "calibration", "fast"), filepath.Join(o.out, "calibration", "paper")}
	fast, err1 := suiteRows(dirs[0])
	paper, err2 := suiteRows(dirs[1])
	if err1 != nil || err2 != nil || len(fast) != len(paper) {
		return "Not run yet.\n", math.NaN()
	}
	fr, pr := newScoreReader(dirs[0]), newScoreReader(dirs[1])
	var sb strings.Builder
	sb.WriteString("The same models, configurations, test documents and scored positions under both protocols (the paper protocol with one masked position per pass, 128 positions per document; the fast protocol masking every 32nd token per pass). Δ = fast − paper; p: McNemar's exact test on the positions (b = right under the fast protocol only, c = under the paper protocol only); intervals: paired bootstrap over documents.\n\n| configuration | length | acc fast | acc paper | b / c | McNemar p | Δacc [95% CI] | loss fast | loss paper | Δloss [95% CI] |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	bound = 0
	for i := range fast {
		f, p := fast[i], paper[i]
		if f.label() != p.label() || len(f.Results) != len(p.Results) {
			return fmt.Sprintf("The two calibration suites do not list the same configurations (%s against %s).\n", f.label(), p.label()), math.NaN()
		}
		for l := range f.Results {
			L := f.Results[l].Length
			a, err1 := fr.at(f, L)
			b, err2 := pr.at(p, L)
			if err1 != nil || err2 != nil {
				return fmt.Sprintf("Per-position scores missing: %v.\n", errors.Join(err1, err2)), math.NaN()
			}
			c, err := comparePositions(a, b)
			if err != nil {
				return fmt.Sprintf("%s at %d: %v.\n", f.label(), L, err), math.NaN()
			}
			bound = math.Max(bound, math.Abs(c.AccDiff.Est))
			fmt.Fprintf(&sb, "| %s | %d | %.4f | %.4f | %d / %d | %.3g | %+.4f [%+.4f, %+.4f] | %.3f | %.3f | %+.3f [%+.3f, %+.3f] |\n", f.label(), L,
				c.AccA, c.AccB, c.B, c.C, c.P, c.AccDiff.Est, c.AccDiff.Lo, c.AccDiff.Hi, c.LossA, c.LossB, c.LossDiff.Est, c.LossDiff.Lo, c.LossDiff.Hi)
		}
	}
	fmt.Fprintf(&sb, "\nThe fast protocol's bias bound (largest |Δacc| above): **%.4f**. Differences between configurations smaller than this at the same length may be the protocol's rather than the methods'; larger ones are beyond what the calibration shows the fast protocol can shift.\n", bound)
	return sb.String(), bound
}

// alibiBand is the report's sentence on the ALiBi fine-tunes' attention
// mass within ±64 at L = 1024 (analysis/alibi/band.csv), beside the plain
// model's (when hasPlain), or "" before that part has run.
func alibiBand(o options, plain float64, hasPlain bool) string {
	rows, err := readCSV(filepath.Join(o.out, "analysis", "alibi", "band.csv"))
	if err != nil {
		return ""
	}
	var parts []string
	maxMass := math.Inf(-1)
	for _, r := range rows {
		if !bandSummaryRow(r) {
			continue
		}
		from := "the plain model"
		if c := num(r["cosscale"]); c > 0 {
			from = fmt.Sprintf("the CosScale %g base", c)
		}
		parts = append(parts, fmt.Sprintf("%.4f (fine-tuned from %s)", num(r["mass"]), from))
		maxMass = max(maxMass, num(r["mass"]))
	}
	if len(parts) == 0 {
		return ""
	}
	sentence := fmt.Sprintf("\nFor comparison (no verdict reads it), ALiBi, whose bias favours near keys by construction, measured the same way: mass within ±64 at L = 1024 of %s (`analysis/alibi/band.csv`)", strings.Join(parts, " and "))
	if hasPlain {
		sentence += fmt.Sprintf(", against %.4f for the plain RoPE model", plain)
		if maxMass < plain {
			sentence += ": with one head and its slope, ALiBi's bias leaves attention less local than RoPE alone does"
		}
	}
	return sentence + ".\n"
}

// alibiEntropy is the report's sentence on the entropy growth of the ALiBi
// fine-tune of the plain model (analysis/alibi/entropy.csv), or "" before
// that part has run.
func alibiEntropy(o options) string {
	rows, err := readCSV(filepath.Join(o.out, "analysis", "alibi", "entropy.csv"))
	if err != nil {
		return ""
	}
	ent := map[string]map[int]float64{}
	var lengths []int
	for _, r := range rows {
		if r["layer"] != "all" {
			continue
		}
		L, err := strconv.Atoi(r["length"])
		if err != nil {
			continue
		}
		if ent[r["norm"]] == nil {
			ent[r["norm"]] = map[int]float64{}
		}
		if !slices.Contains(lengths, L) {
			lengths = append(lengths, L)
		}
		ent[r["norm"]][L] = num(r["mean_entropy"])
	}
	sort.Ints(lengths)
	if len(lengths) < 2 || ent["softmax"] == nil || ent["infoscale"] == nil {
		return ""
	}
	l0, l1 := lengths[0], lengths[len(lengths)-1]
	return fmt.Sprintf("\nFor comparison (no verdict reads it), the ALiBi fine-tune of the plain model measured the same way (pooled over layers and documents): from n = %d to %d its mean row entropy grows by %+.3f nats under softmax and %+.3f under InfoScale (`analysis/alibi/entropy.csv`).\n",
		l0, l1, ent["softmax"][l1]-ent["softmax"][l0], ent["infoscale"][l1]-ent["infoscale"][l0])
}

// bandSummaryRow reports whether a row of band.csv is a model's mass within
// ±64 pooled over layers (not a per-layer row, another w, or the windowed
// attention reference).
func bandSummaryRow(r map[string]string) bool {
	return r["layer"] == "all" && r["w"] == "64" && r["windowed_reference"] != "true"
}
