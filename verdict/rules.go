package verdict

import "fmt"

// Rules is one version of the verdict rules: the thresholds of every claim
// and the kind of evidence each one reads.
type Rules struct {
	// Version numbers the rule sets in the order they were fixed.
	Version int
	// Commit is the commit that fixed the rules, Date its date.
	Commit, Date string
	// Description says what distinguishes the version.
	Description string
	// FailFactor is the exclusion rule: a model whose best validation loss
	// is more than FailFactor times its reference failed to train and is
	// left out of every verdict (0: no model is left out).
	FailFactor float64
	// Bootstrap sets the paired bootstrap over documents.
	Bootstrap Bootstrap
	Entropy   EntropyRule
	Extrap    ExtrapolationRule
	Eta       EtaRule
	Window    WindowRule
	// Retrieval and Relatives judge claims 5 and 6 (rules 3 on; zero
	// values: the claims are not part of the rules).
	Retrieval RetrievalRule
	Relatives RelativesRule
}

// Bootstrap sets a paired bootstrap over documents.
type Bootstrap struct {
	Resamples int
	Seed      uint64
	Level     float64
}

// EntropyRule judges claim 1 from the growth of the mean row entropy from
// the shortest to the longest length under softmax (G_s) and InfoScale
// (G_i).
type EntropyRule struct {
	// PerDocument judges r = ΣG_i/ΣG_s over the test documents with a
	// bootstrap interval [lo, hi]: inconclusive if the interval of ΣG_s
	// includes 0, supported if hi <= Supported, partly supported if hi <
	// Partly, not supported if lo >= Partly, otherwise inconclusive.
	// Otherwise the pooled means decide: supported if G_s > 0 and |G_i| <=
	// Supported·G_s, partly supported if G_i < Partly·G_s, else not.
	PerDocument       bool
	Supported, Partly float64
}

// ExtrapolationRule judges claim 2: InfoScale + CosScale against the other
// methods at the longest length.
type ExtrapolationRule struct {
	// Paired compares ours with the best configuration of every other
	// method on the same positions (McNemar, Holm over the comparator
	// groups at Alpha; configurations whose losses differ by at most
	// IdenticalTol at every position and which are right at the same
	// positions form one group): supported with a win against every
	// group, not supported with a loss, partly supported with a win and no
	// loss, inconclusive otherwise. Otherwise the accuracies rank them:
	// supported when ours is the most accurate, partly supported when it
	// beats the best configuration of at least BeatShare of the others.
	Paired       bool
	Alpha        float64
	IdenticalTol float64
	BeatShare    float64
	// DocUnit (with Paired) makes documents the unit: each method's
	// configuration is chosen on the development documents (its highest
	// accuracy at the longest length among the models not excluded, ours
	// left out), and each comparison is a paired sign-flip test over the
	// test documents of the per-document accuracy difference averaged over
	// the seeds (exact up to stats.SignFlipExactMax documents, else
	// SignFlipResamples random assignments seeded by SignFlipSeed), Holm
	// over the comparator groups at Alpha; McNemar over the positions of
	// every seed is reported beside it. Retention judges, by the same test
	// and correction, the per-document difference of the accuracy lost
	// from the shortest to the longest length: a win when ours loses
	// significantly less.
	DocUnit           bool
	SignFlipResamples int
	SignFlipSeed      uint64
	Retention         bool
}

// RetrievalRule judges claim 5 from the passkey probe (package passkey):
// digits of keys asked at a distance beyond the training length ("far").
// Under the null hypothesis that the model's answer does not depend on the
// key, each digit, drawn uniformly, is right with probability Chance
// independently of every other, so the digits right of a configuration
// are tested by the one-sided exact binomial test against Chance.
type RetrievalRule struct {
	// Chance is the probability of a right digit without retrieval (1/10).
	Chance float64
	// Alpha is the level of the binomial test.
	Alpha float64
	// Skill is the digit accuracy ours' base model must reach at its
	// training length on near keys for the probe to say anything:
	// inconclusive below it (the models did not learn the skill).
	Skill float64
	// Effect: supported needs a far digit accuracy at the longest length
	// of at least Effect·Chance and p < Alpha; partly supported when p <
	// Alpha there without the effect, or when the effect and p < Alpha
	// hold at a shorter length beyond the training length; not supported
	// otherwise.
	Effect float64
}

// RelativesRule judges claim 6: InfoScale against the other
// length-dependent temperatures (Relatives, normalisation names) on the
// cells Methods on the plain base and HeadlineMethods on the headline base
// at the longest length. Per relative, the per-document accuracy difference InfoScale −
// relative averaged over the cells and the seeds is tested by the paired
// sign-flip test over the test documents (ExtrapolationRule's settings),
// Holm over the relatives at Alpha: a win, a loss or a tie each; the
// outcome is claim 2's rule over these comparisons. Entropy growth,
// retention and the passkey probe of each temperature are reported beside
// it.
type RelativesRule struct {
	// Methods and HeadlineMethods are suite method names (cmd/suite's
	// -methods).
	Methods, HeadlineMethods []string
	Relatives                []string
	Alpha                    float64
}

// EtaRule judges claim 3 from the peak η1* of the pre-RoPE cosine
// distribution of the sweep models.
type EtaRule struct {
	// Weighted reads the attention-weighted peak (eta1_pre_attn), else the
	// peak over all pairs (eta1_pre).
	Weighted bool
	// Permutation judges Spearman's ρ by its one-sided exact permutation
	// p: inconclusive with fewer than MinModels models or more than half
	// at or above Saturation, supported if ρ > 0 and p < SupportedP,
	// partly supported if ρ > 0 and p < PartlyP, else not supported.
	// Otherwise ρ itself decides (at least MinModels models): supported if
	// ρ >= SupportedRho and the largest CosScale's peak is above the
	// smallest's, partly supported if ρ >= PartlyRho, else not.
	Permutation             bool
	SupportedP, PartlyP     float64
	SupportedRho, PartlyRho float64
	MinModels               int
	Saturation              float64
}

// WindowRule judges claim 4 from the attention mass within ±64 of the
// plain model and the sweep models.
type WindowRule struct {
	// Permutation judges Spearman's ρ by its one-sided exact permutation
	// p: inconclusive with fewer than MinModels models, supported if ρ >
	// 0, p < P and the largest CosScale's mass >= SupportedMass, partly
	// supported if one of the two holds (mass >= PartlyMass), else not.
	// Otherwise ρ decides (at least MinModels models): supported if ρ >=
	// SupportedRho and that mass >= SupportedMass, partly supported if ρ
	// >= PartlyRho or the mass >= PartlyMass, else not.
	Permutation               bool
	P                         float64
	SupportedRho, PartlyRho   float64
	SupportedMass, PartlyMass float64
	MinModels                 int
}

// RuleSets returns every version of the rules, oldest first.
func RuleSets() []Rules {
	return []Rules{
		{
			Version: 1, Commit: "e836b94", Date: "2026-11-27",
			Description: "point estimates, unweighted η1*, and for claim 3 a threshold of ρ >= 0.4 that was itself raised after its data were seen",
			Entropy:     EntropyRule{Supported: 0.5, Partly: 0.9},
			Extrap:      ExtrapolationRule{BeatShare: 0.5},
			Eta:         EtaRule{SupportedRho: 0.7, PartlyRho: 0.4, MinModels: 3},
			Window:      WindowRule{SupportedRho: 0.7, PartlyRho: 0.4, SupportedMass: 0.95, PartlyMass: 0.9, MinModels: 3},
		},
		{
			Version: 2, Commit: "d2876f8", Date: "2026-12-06",
			Description: "paired statistics on the same documents and positions, models that failed to train excluded (docs/analysis.md, \"Verdict rules\")",
			FailFactor:  1.2,
			Bootstrap:   Bootstrap{Resamples: 10000, Seed: 42, Level: 0.95},
			Entropy:     EntropyRule{PerDocument: true, Supported: 0.5, Partly: 0.9},
			Extrap:      ExtrapolationRule{Paired: true, Alpha: 0.05, IdenticalTol: 1e-5},
			Eta:         EtaRule{Weighted: true, Permutation: true, SupportedP: 0.05, PartlyP: 0.25, MinModels: 5, Saturation: 0.999},
			Window:      WindowRule{Permutation: true, P: 0.05, SupportedMass: 0.95, PartlyMass: 0.9, MinModels: 5},
		},
		{
			Version: 3, Commit: Rules3Commit, Date: Rules3Date,
			Description: "documents as the unit, three seeds, comparators chosen on development documents, retention, the passkey probe (claim 5), InfoScale against its relatives (claim 6) (docs/analysis.md, \"Verdict rules\", version 3)",
			FailFactor:  1.2,
			Bootstrap:   Bootstrap{Resamples: 10000, Seed: 42, Level: 0.95},
			Entropy:     EntropyRule{PerDocument: true, Supported: 0.5, Partly: 0.9},
			Extrap: ExtrapolationRule{Paired: true, Alpha: 0.05, IdenticalTol: 1e-5,
				DocUnit: true, SignFlipResamples: 100000, SignFlipSeed: 42, Retention: true},
			Eta:       EtaRule{Weighted: true, Permutation: true, SupportedP: 0.05, PartlyP: 0.25, MinModels: 5, Saturation: 0.999},
			Window:    WindowRule{Permutation: true, P: 0.05, SupportedMass: 0.95, PartlyMass: 0.9, MinModels: 5},
			Retrieval: RetrievalRule{Chance: 0.1, Alpha: 0.05, Skill: 0.25, Effect: 2},
			Relatives: RelativesRule{Methods: []string{"rope", "ntk", "rerope", "pose"}, HeadlineMethods: []string{"rope"},
				Relatives: []string{"softmax_plus_n0", "softmax_plus", "yarn_temp", "llama4_temp"}, Alpha: 0.05},
		},
	}
}

// The commit and date that fixed rules version 3: the commit of
// docs/analysis.md that wrote them down, before the run they judge.
const (
	Rules3Commit = "cea74ff"
	Rules3Date   = "2026-12-07"
)

// Current returns the newest rules.
func Current() Rules {
	rs := RuleSets()
	return rs[len(rs)-1]
}

// Version returns the rules of version v.
func Version(v int) (Rules, error) {
	for _, r := range RuleSets() {
		if r.Version == v {
			return r, nil
		}
	}
	return Rules{}, fmt.Errorf("no verdict rules of version %d", v)
}
