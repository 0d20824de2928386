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
	}
}

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
