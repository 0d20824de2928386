package verdict

import (
	"math"
	"sort"

	"github.com/infoscale/gaualpha/stats"
	"github.com/infoscale/gaualpha/study"
)

// EntropyInput is claim 1's evidence on the plain model: the pooled mean
// entropies (entropy.csv) and the per-document ones (entropy_docs.csv).
type EntropyInput struct {
	Pooled []study.EntropyRow
	PerDoc []study.EntropyDocRow
	// Seeds are the per-document entropies of the plain model of every
	// seed (rules with several seeds); each document's growth is then
	// averaged over the seeds, and PerDoc is not read.
	Seeds [][]study.EntropyDocRow
}

// Entropy is claim 1's verdict: the growth of the mean row entropy from
// length L0 to L1 under softmax and InfoScale.
type Entropy struct {
	Outcome Outcome
	L0, L1  int
	// Docs is the number of test documents, Growth ΣG_s over them and
	// Ratio r = ΣG_i/ΣG_s, with bootstrap intervals (PerDocument rules).
	Docs          int
	Growth, Ratio stats.Interval
	// SoftmaxGrowth and InfoGrowth are the growths of the pooled means
	// (rules without PerDocument).
	SoftmaxGrowth, InfoGrowth float64
}

// JudgeEntropy judges claim 1.
func (r Rules) JudgeEntropy(in EntropyInput) (Entropy, error) {
	if !r.Entropy.PerDocument {
		return r.entropyPooled(in.Pooled)
	}
	if in.Seeds != nil {
		return r.entropySeeds(in.Seeds)
	}
	if in.PerDoc == nil {
		return Entropy{}, Missing{"analysis/entropy_docs.csv"}
	}
	ent := map[string]map[int]map[int]float64{} // norm → length → doc
	var lengths []int
	for _, row := range in.PerDoc {
		if ent[row.Norm] == nil {
			ent[row.Norm] = map[int]map[int]float64{}
		}
		if ent[row.Norm][row.Length] == nil {
			ent[row.Norm][row.Length] = map[int]float64{}
			if row.Norm == "softmax" {
				lengths = append(lengths, row.Length)
			}
		}
		ent[row.Norm][row.Length][row.Doc] = row.Mean
	}
	sort.Ints(lengths)
	if len(lengths) < 2 || ent["infoscale"] == nil {
		return Entropy{}, Missing{"per-document entropies of softmax and InfoScale"}
	}
	e := Entropy{L0: lengths[0], L1: lengths[len(lengths)-1]}
	var gs, gi []float64
	for d := 0; ; d++ {
		a, ok1 := ent["softmax"][e.L1][d]
		b, ok2 := ent["infoscale"][e.L1][d]
		if !ok1 || !ok2 {
			break
		}
		gs = append(gs, a-ent["softmax"][e.L0][d])
		gi = append(gi, b-ent["infoscale"][e.L0][d])
	}
	return r.entropyOutcome(e, gs, gi)
}

// entropySeeds judges claim 1 from the per-document growths averaged over
// the seeds.
func (r Rules) entropySeeds(seeds [][]study.EntropyDocRow) (Entropy, error) {
	var e Entropy
	for _, rows := range seeds {
		if len(rows) == 0 {
			return Entropy{}, Missing{"analysis/seeds/sSEED/entropy_docs.csv"}
		}
		for _, row := range rows {
			if e.L0 == 0 || row.Length < e.L0 {
				e.L0 = row.Length
			}
			e.L1 = max(e.L1, row.Length)
		}
	}
	g := entropyGrowths(seeds)
	gs, gi := g["softmax"], g["infoscale"]
	if len(gs) == 0 || len(gs) != len(gi) || e.L0 == e.L1 {
		return Entropy{}, Missing{"per-document entropies of softmax and InfoScale"}
	}
	return r.entropyOutcome(e, gs, gi)
}

// entropyOutcome judges claim 1 from the per-document growths of softmax
// and InfoScale.
func (r Rules) entropyOutcome(e Entropy, gs, gi []float64) (Entropy, error) {
	bs := r.Bootstrap
	growth, err1 := stats.Bootstrap(len(gs), stats.WeightedSum(gs), bs.Resamples, bs.Seed, bs.Level)
	ratio, err2 := stats.Bootstrap(len(gs), stats.SumRatio(gi, gs), bs.Resamples, bs.Seed, bs.Level)
	if err1 != nil || err2 != nil || len(gs) == 0 {
		return Entropy{}, Missing{"a bootstrap of the entropy growth"}
	}
	e.Docs, e.Growth, e.Ratio = len(gs), growth, ratio
	rule := r.Entropy
	switch {
	case growth.Lo <= 0:
		e.Outcome = Inconclusive
	case ratio.Hi <= rule.Supported:
		e.Outcome = Supported
	case ratio.Hi < rule.Partly:
		e.Outcome = PartlySupported
	case ratio.Lo >= rule.Partly:
		e.Outcome = NotSupported
	default:
		e.Outcome = Inconclusive
	}
	return e, nil
}

// entropyPooled judges claim 1 by the point estimates of the pooled means.
func (r Rules) entropyPooled(rows []study.EntropyRow) (Entropy, error) {
	if rows == nil {
		return Entropy{}, Missing{"analysis/entropy.csv"}
	}
	ent, lengths := study.PooledEntropy(rows)
	if len(lengths) < 2 || ent["softmax"] == nil || ent["infoscale"] == nil {
		return Entropy{}, Missing{"entropy for softmax and InfoScale"}
	}
	e := Entropy{L0: lengths[0], L1: lengths[len(lengths)-1], Outcome: NotSupported}
	e.SoftmaxGrowth = ent["softmax"][e.L1] - ent["softmax"][e.L0]
	e.InfoGrowth = ent["infoscale"][e.L1] - ent["infoscale"][e.L0]
	switch gs, gi := e.SoftmaxGrowth, e.InfoGrowth; {
	case gs > 0 && math.Abs(gi) <= r.Entropy.Supported*gs:
		e.Outcome = Supported
	case gi < r.Entropy.Partly*gs:
		e.Outcome = PartlySupported
	}
	return e, nil
}
