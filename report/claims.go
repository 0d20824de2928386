package report

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/infoscale/gaualpha/study"
	"github.com/infoscale/gaualpha/verdict"
)

// entropyClaim renders claim 1 under rules with PerDocument set.
func entropyClaim(r verdict.Rules, a *artifacts) claim {
	e, err := r.JudgeEntropy(verdict.EntropyInput{Pooled: a.entropy, PerDoc: a.entropyDocs})
	if err != nil {
		return notRun(titleEntropy, err)
	}
	bs, rule := r.Bootstrap, r.Entropy
	level := math.Round(100 * bs.Level)
	var body strings.Builder
	fmt.Fprintf(&body, "Per test document (%d documents), the growth of the mean row entropy from n = %d to %d on the plain model; the ratio r = ΣG_InfoScale / ΣG_softmax with a paired bootstrap interval over documents (%d resamples, seed %d).\n\n",
		e.Docs, e.L0, e.L1, bs.Resamples, bs.Seed)
	body.WriteString(entropyTable(e, level))
	fmt.Fprintf(&body, "Rule: inconclusive if the softmax growth's interval includes 0; supported if r's upper bound <= %g; partly supported if it is in (%g, %g); not supported if r's lower bound >= %g; otherwise inconclusive.\n\n",
		rule.Supported, rule.Supported, rule.Partly, rule.Partly)
	body.WriteString("![entropy vs length](analysis/entropy.png)\n\n![entropy per layer](analysis/entropy_layers.png)\n")
	body.WriteString(alibiEntropy(a.alibiEntropy))
	return claim{title: titleEntropy, verdict: e.Outcome.String(),
		summary: fmt.Sprintf("r = InfoScale/softmax entropy growth %d→%d: %.2f [%.2f, %.2f] (%g%% bootstrap over documents)", e.L0, e.L1, e.Ratio.Est, e.Ratio.Lo, e.Ratio.Hi, level),
		body:    body.String()}
}

// extrapolationClaim renders claim 2 under rules with Paired set; bias is
// the fast protocol's bias bound (NaN when not calibrated).
func extrapolationClaim(r verdict.Rules, o study.Study, a *artifacts, ex verdict.Exclusions, bias float64) claim {
	x, err := r.JudgeExtrapolation(extrapolationInput(o, a, ex, bias))
	if err != nil {
		return notRun(titleExtrap, err)
	}
	var body strings.Builder
	var summary string
	for _, ours := range x.Ours {
		which := fmt.Sprintf("the headline CosScale %g base", ours.Row.CosScale)
		if ours.Secondary {
			which = fmt.Sprintf("the sweep's best CosScale %g base (secondary)", ours.Row.CosScale)
		}
		if ours.Excluded {
			fmt.Fprintf(&body, "### Ours on %s\n\nExcluded (failed to train): inconclusive.\n\n", which)
			if !ours.Secondary {
				summary = "the headline model failed to train"
			}
			continue
		}
		res := ours.Row.Results[len(ours.Row.Results)-1]
		fmt.Fprintf(&body, "### Ours on %s: RoPE + InfoScale, accuracy %.4f, loss %.3f at L = %d\n\n", which, res.Accuracy, res.Loss, x.L)
		body.WriteString("| comparator group (methods with identical predictions) | its best configuration | accuracy | loss | b / c | McNemar p (Holm) | mid-p | Δacc (ours − it) [95% CI] | Δloss [95% CI] | result |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, g := range ours.Groups {
			c := g.Paired
			note := ""
			if g.InBias {
				note = " (within the fast protocol's bias)"
			}
			fmt.Fprintf(&body, "| %s | %s | %.4f | %.3f | %d / %d | %.3g | %.3g | %+.4f [%+.4f, %+.4f] | %+.3f [%+.3f, %+.3f] | %s%s |\n",
				strings.Join(g.Members, ", "), g.Best.Label(), c.AccB, c.LossB, c.B, c.C, g.AdjP, c.MidP,
				c.AccDiff.Est, c.AccDiff.Lo, c.AccDiff.Hi, c.LossDiff.Est, c.LossDiff.Lo, c.LossDiff.Hi, g.Result, note)
		}
		fmt.Fprintf(&body, "\nOutcome: **%s** (%d wins, %d losses, %d ties against %d comparator groups of %d methods; %d positions of %d test document(s); members of a group predict different tokens at %d positions in all).",
			ours.Outcome, ours.Wins, ours.Losses, ours.Ties, len(ours.Groups), len(ours.Methods), ours.Positions, ours.Docs, ours.DiffPred)
		if !math.IsNaN(bias) {
			fmt.Fprintf(&body, " %d of the %d accuracy gaps are smaller than the fast protocol's bias bound %.4f.", ours.InBias, len(ours.Groups), bias)
		}
		body.WriteString("\n\n")
		if !ours.Secondary {
			summary = fmt.Sprintf("at L = %d, RoPE + InfoScale on the CosScale %g base: %d wins, %d losses, %d ties against %d comparator groups (McNemar on the same %d positions, Holm)",
				x.L, ours.Row.CosScale, ours.Wins, ours.Losses, ours.Ties, len(ours.Groups), ours.Positions)
		}
	}
	fmt.Fprintf(&body, "Test: McNemar's exact two-sided test on the positions scored by both (b = right for ours and wrong for the comparator, c = the reverse), Holm-corrected over the comparator groups at α = %g; the mid-p beside it. Intervals: paired bootstrap over documents (%d resamples, seed %d). Comparators with identical predictions (right and wrong at the same positions, losses within %g at every position) form one group, compared once.\n\n",
		r.Extrap.Alpha, r.Bootstrap.Resamples, r.Bootstrap.Seed, r.Extrap.IdenticalTol)
	body.WriteString("![accuracy vs length](analysis/curves_accuracy.png)\n\n![loss vs length](analysis/curves_loss.png)\n\nThe full tables:\n\n")
	body.Write(a.suiteMD)
	return claim{title: titleExtrap, verdict: x.Outcome.String(), summary: summary, body: body.String()}
}

// etaClaim renders claim 3 under rules with Permutation set.
func etaClaim(r verdict.Rules, a *artifacts, ex verdict.Exclusions) claim {
	t, err := r.JudgeEta(a.etaPeak, ex)
	if err != nil {
		return notRun(titleEta, err)
	}
	rule := r.Eta
	n := len(t.CosScale)
	var body strings.Builder
	body.WriteString("η1* = the peak of the attention-weighted pre-RoPE cosine distribution (layers and documents pooled, L = 1024; bins of 0.001 reflected at ±1, Gaussian smoothing σ = 0.005, parabolic refinement: resolution 0.001, no ceiling below 1), per sweep model not excluded:\n\n| CosScale | η1* (attention-weighted, before RoPE) |\n|---:|---:|\n")
	for i := range t.CosScale {
		fmt.Fprintf(&body, "| %g | %.4f |\n", t.CosScale[i], t.Value[i])
	}
	fmt.Fprintf(&body, "\nSpearman ρ = %.2f, one-sided exact permutation p = %.3g over %d models; %d within one resolution step of 1.\n\nRule: inconclusive with fewer than %d models or more than half at the resolution limit; supported if ρ > 0 and p < %g; partly supported if ρ > 0 and p < %g; otherwise not supported.\n\n![eta vs CosScale](analysis/eta_peak.png)\n\n![cosine histograms](analysis/eta_hist.png)\n",
		t.Rho, t.P, n, t.Saturated, rule.MinModels, rule.SupportedP, rule.PartlyP)
	return claim{title: titleEta, verdict: t.Outcome.String(),
		summary: fmt.Sprintf("attention-weighted pre-RoPE η1*: Spearman ρ = %.2f, permutation p = %.3g (%d models)", t.Rho, t.P, n),
		body:    body.String()}
}

// windowClaim renders claim 4 under rules with Permutation set.
func windowClaim(r verdict.Rules, a *artifacts, ex verdict.Exclusions) claim {
	t, err := r.JudgeWindow(a.band, ex)
	if err != nil {
		return notRun(titleWindow, err)
	}
	rule := r.Window
	top := t.Value[t.Top]
	var body strings.Builder
	body.WriteString("Mean attention mass within ±64 at L = 1024 (models not excluded):\n\n| CosScale | mass within ±64 |\n|---:|---:|\n")
	for i := range t.CosScale {
		fmt.Fprintf(&body, "| %g | %.4f |\n", t.CosScale[i], t.Value[i])
	}
	fmt.Fprintf(&body, "\nSpearman ρ = %.2f, one-sided exact permutation p = %.3g over %d models; mass at the largest CosScale %.4f.\n\nRule: inconclusive with fewer than %d models; supported if p < %g and the largest CosScale's mass >= %g; partly supported if p < %g or that mass >= %g; otherwise not supported.\n\n![band mass vs CosScale](analysis/band.png)\n\n![band mass vs w](analysis/band_w.png)\n\n![q·k heat maps](analysis/heatmap.png)\n",
		t.Rho, t.P, len(t.CosScale), top, rule.MinModels, rule.P, rule.SupportedMass, rule.P, rule.PartlyMass)
	plain, hasPlain := math.NaN(), false
	if i := slices.Index(t.CosScale, 0); i >= 0 {
		plain, hasPlain = t.Value[i], true
	}
	body.WriteString(alibiBand(a.alibiBand, plain, hasPlain))
	return claim{title: titleWindow, verdict: t.Outcome.String(),
		summary: fmt.Sprintf("mass within ±64: Spearman ρ = %.2f, p = %.3g, %.3f at s = %g", t.Rho, t.P, top, t.CosScale[t.Top]),
		body:    body.String()}
}

// calibrationSection compares the fast and paper protocols on the same
// models, configurations, documents and positions; bound is the fast
// protocol's bias bound (NaN when the calibration has not run).
func calibrationSection(r verdict.Rules, o study.Study, a *artifacts) (text string, bound float64) {
	if a.fast == nil || a.paper == nil || len(a.fast.Rows) != len(a.paper.Rows) {
		return "Not run yet.\n", math.NaN()
	}
	fr := study.NewScoreReader(filepath.Join(o.Out, "calibration", "fast"))
	pr := study.NewScoreReader(filepath.Join(o.Out, "calibration", "paper"))
	c, err := r.Calibrate(a.fast.Rows, a.paper.Rows, fr.At, pr.At)
	if err != nil {
		return sentence(err), math.NaN()
	}
	var sb strings.Builder
	sb.WriteString("The same models, configurations, test documents and scored positions under both protocols (the paper protocol with one masked position per pass, 128 positions per document; the fast protocol masking every 32nd token per pass). Δ = fast − paper; p: McNemar's exact test on the positions (b = right under the fast protocol only, c = under the paper protocol only); intervals: paired bootstrap over documents.\n\n| configuration | length | acc fast | acc paper | b / c | McNemar p | Δacc [95% CI] | loss fast | loss paper | Δloss [95% CI] |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range c.Rows {
		p := row.Paired
		fmt.Fprintf(&sb, "| %s | %d | %.4f | %.4f | %d / %d | %.3g | %+.4f [%+.4f, %+.4f] | %.3f | %.3f | %+.3f [%+.3f, %+.3f] |\n", row.Row.Label(), row.Length,
			p.AccA, p.AccB, p.B, p.C, p.P, p.AccDiff.Est, p.AccDiff.Lo, p.AccDiff.Hi, p.LossA, p.LossB, p.LossDiff.Est, p.LossDiff.Lo, p.LossDiff.Hi)
	}
	fmt.Fprintf(&sb, "\nThe fast protocol's bias bound (largest |Δacc| above): **%.4f**. Differences between configurations smaller than this at the same length may be the protocol's rather than the methods'; larger ones are beyond what the calibration shows the fast protocol can shift.\n", c.Bound)
	return sb.String(), c.Bound
}

// sentence is err as a sentence of the report: capitalised, with a full
// stop.
func sentence(err error) string {
	s := err.Error()
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:] + ".\n"
}

// alibiBand is the report's sentence on the ALiBi fine-tunes' attention
// mass within ±64 at L = 1024 (analysis/alibi/band.csv), beside the plain
// model's (when hasPlain), or "" before that part has run.
func alibiBand(rows []study.BandRow, plain float64, hasPlain bool) string {
	var parts []string
	maxMass := math.Inf(-1)
	for _, r := range verdict.BandSummary(rows) {
		from := "the plain model"
		if r.CosScale > 0 {
			from = fmt.Sprintf("the CosScale %g base", r.CosScale)
		}
		parts = append(parts, fmt.Sprintf("%.4f (fine-tuned from %s)", r.Mass, from))
		maxMass = max(maxMass, r.Mass)
	}
	if len(parts) == 0 {
		return ""
	}
	s := fmt.Sprintf("\nFor comparison (no verdict reads it), ALiBi, whose bias favours near keys by construction, measured the same way: mass within ±64 at L = 1024 of %s (`analysis/alibi/band.csv`)", strings.Join(parts, " and "))
	if hasPlain {
		s += fmt.Sprintf(", against %.4f for the plain RoPE model", plain)
		if maxMass < plain {
			s += ": with one head and its slope, ALiBi's bias leaves attention less local than RoPE alone does"
		}
	}
	return s + ".\n"
}

// alibiEntropy is the report's sentence on the entropy growth of the ALiBi
// fine-tune of the plain model (analysis/alibi/entropy.csv), or "" before
// that part has run.
func alibiEntropy(rows []study.EntropyRow) string {
	ent, lengths := study.PooledEntropy(rows)
	if len(lengths) < 2 || ent["softmax"] == nil || ent["infoscale"] == nil {
		return ""
	}
	l0, l1 := lengths[0], lengths[len(lengths)-1]
	return fmt.Sprintf("\nFor comparison (no verdict reads it), the ALiBi fine-tune of the plain model measured the same way (pooled over layers and documents): from n = %d to %d its mean row entropy grows by %+.3f nats under softmax and %+.3f under InfoScale (`analysis/alibi/entropy.csv`).\n",
		l0, l1, ent["softmax"][l1]-ent["softmax"][l0], ent["infoscale"][l1]-ent["infoscale"][l0])
}

// entropyTable is claim 1's table: the softmax growth (mean over
// documents) and the ratio r, each with its interval at level percent.
func entropyTable(e verdict.Entropy, level float64) string {
	n := float64(e.Docs)
	return fmt.Sprintf("| quantity | estimate | %g%% interval |\n|---|---:|---:|\n| softmax growth (nats, mean over documents) | %.3f | [%.3f, %.3f] |\n| r = InfoScale growth / softmax growth | %.3f | [%.3f, %.3f] |\n\n",
		level, e.Growth.Est/n, e.Growth.Lo/n, e.Growth.Hi/n, e.Ratio.Est, e.Ratio.Lo, e.Ratio.Hi)
}
