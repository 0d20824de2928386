package verdict

import (
	"fmt"

	"github.com/infoscale/gaualpha/stats"
	"github.com/infoscale/gaualpha/study"
)

// relativeCells are the (method, base) cells of claim 6, their
// normalisation left empty: the rule's methods on the plain base, then its
// headline methods on the headline base.
func (r Rules) relativeCells(headline float64) ([]study.ConfigKey, error) {
	var out []study.ConfigKey
	for _, cell := range []struct {
		base    float64
		methods []string
	}{{0, r.Relatives.Methods}, {headline, r.Relatives.HeadlineMethods}} {
		base := cell.base
		for _, m := range cell.methods {
			k, err := study.ParseConfigKey(fmt.Sprintf("%s/%s/x", study.CosName(base), m))
			if err != nil {
				return nil, fmt.Errorf("rules version %d, claim 6: %w", r.Version, err)
			}
			k.Norm = ""
			out = append(out, k)
		}
	}
	return out, nil
}

// RelativesInput is claim 6's evidence: the test evaluation of every seed,
// the models that failed to train, the headline CosScale, and beside the
// verdict the per-document entropies of the plain model of every seed
// under each temperature (entropy_docs.csv) and the passkey probe of every
// seed (passkey.csv).
type RelativesInput struct {
	Test     []SeedScores
	Excluded Exclusions
	Headline float64
	Entropy  [][]study.EntropyDocRow
	Passkey  [][]study.PasskeyRow
}

// Temperature is one temperature's evidence in claim 6, pooled over the
// cells and the seeds.
type Temperature struct {
	Norm string
	// Acc is the accuracy at the longest length, Retention its retention.
	Acc       float64
	Retention Retention
	// Entropy is r = growth of the plain model's entropy under the
	// temperature / under softmax (claim 1's measure; NaN interval when
	// not measured).
	Entropy stats.Interval
	// Far counts the passkey digits asked beyond n0 at the longest length
	// (Digits) and right.
	Digits, DigitsRight int
	// Test compares InfoScale with this relative (unset for InfoScale and
	// softmax): the per-document accuracy difference InfoScale − relative.
	Test DocTest
}

// Relatives is claim 6's verdict.
type Relatives struct {
	Outcome Outcome
	L       int
	// Cells are the (method, base) cells used (those whose models trained
	// in every seed), InfoScale the InfoScale column, Softmax the softmax
	// reference, Relatives the relatives in the rule's order.
	Cells              []study.ConfigKey
	InfoScale, Softmax Temperature
	Relatives          []Temperature
	Wins, Losses, Ties int
	Docs, Seeds        int
}

// JudgeRelatives judges claim 6.
func (r Rules) JudgeRelatives(in RelativesInput) (Relatives, error) {
	if len(r.Relatives.Relatives) == 0 {
		return Relatives{}, fmt.Errorf("rules version %d have no claim 6", r.Version)
	}
	L, short, nDocs, err := testShape(in.Test)
	if err != nil {
		return Relatives{}, err
	}
	seeds := seedsOf(in.Test)
	usable := Usable(in.Excluded, seeds, in.Headline)
	all, err := r.relativeCells(in.Headline)
	if err != nil {
		return Relatives{}, err
	}
	norms := append([]string{"infoscale", "softmax"}, r.Relatives.Relatives...)
	rel := Relatives{L: L, Docs: nDocs, Seeds: len(seeds)}
	for _, c := range all {
		ok := true
		for _, n := range norms {
			k := c
			k.Norm = n
			ok = ok && usable(k)
		}
		if ok {
			rel.Cells = append(rel.Cells, c)
		}
	}
	if len(rel.Cells) == 0 {
		return Relatives{}, Missing{"a cell of claim 6 whose models trained"}
	}
	// scores[norm][cell]
	scores := map[string][]*cfgScores{}
	for _, n := range norms {
		for _, c := range rel.Cells {
			k := c
			k.Norm = n
			cs, err := loadConfig(in.Test, k, L, short, nDocs)
			if err != nil {
				return Relatives{}, err
			}
			scores[n] = append(scores[n], cs)
		}
	}
	growth := entropyGrowths(in.Entropy)
	temperature := func(n string) (Temperature, error) {
		t := Temperature{Norm: n}
		merged := &cfgScores{key: study.ConfigKey{Norm: n}}
		for _, cs := range scores[n] {
			merged.tl = append(merged.tl, cs.tl...)
			merged.ts = append(merged.ts, cs.ts...)
		}
		var err error
		t.Acc, _ = pooled(merged.tl, ones(nDocs))
		if t.Retention, err = r.retention(merged, nDocs); err != nil {
			return t, err
		}
		t.Entropy = r.entropyRatio(growth, n)
		for _, seed := range in.Passkey {
			for _, p := range seed {
				if p.Length != L || p.Class != "far" || p.Norm != n {
					continue
				}
				k := p.Key()
				k.Norm = ""
				for _, c := range rel.Cells {
					if c == k {
						t.Digits += p.Digits
						t.DigitsRight += p.DigitsRight
					}
				}
			}
		}
		return t, nil
	}
	if rel.InfoScale, err = temperature("infoscale"); err != nil {
		return Relatives{}, err
	}
	if rel.Softmax, err = temperature("softmax"); err != nil {
		return Relatives{}, err
	}
	tests := make([]*DocTest, len(r.Relatives.Relatives))
	rel.Relatives = make([]Temperature, len(r.Relatives.Relatives))
	for i, n := range r.Relatives.Relatives {
		t, err := temperature(n)
		if err != nil {
			return Relatives{}, err
		}
		info, other := scores["infoscale"], scores[n]
		nSeeds := len(in.Test)
		diffs := make([]float64, nDocs)
		for c := range rel.Cells {
			d := seedMean(nSeeds, nDocs, func(s, d int) float64 { return info[c].tl[s][d].acc() - other[c].tl[s][d].acc() })
			for j := range diffs {
				diffs[j] += d[j] / float64(len(rel.Cells))
			}
		}
		if t.Test, err = r.docTest(diffs); err != nil {
			return Relatives{}, err
		}
		rel.Relatives[i] = t
		tests[i] = &rel.Relatives[i].Test
	}
	results := r.holm(tests, r.Relatives.Alpha)
	for _, res := range results {
		switch res {
		case Win:
			rel.Wins++
		case Loss:
			rel.Losses++
		default:
			rel.Ties++
		}
	}
	rel.Outcome = comparisons(results)
	return rel, nil
}

// entropyGrowths are the per-document growths of the mean entropy from the
// shortest to the longest length, per normalisation, averaged over the
// seeds whose tables have the normalisation (nil: no table).
func entropyGrowths(seeds [][]study.EntropyDocRow) map[string][]float64 {
	sum := map[string][]float64{}
	count := map[string]int{}
	for _, rows := range seeds {
		ent := map[string]map[int]map[int]float64{}
		lo, hi := 0, 0
		for _, row := range rows {
			if ent[row.Norm] == nil {
				ent[row.Norm] = map[int]map[int]float64{}
			}
			if ent[row.Norm][row.Length] == nil {
				ent[row.Norm][row.Length] = map[int]float64{}
			}
			ent[row.Norm][row.Length][row.Doc] = row.Mean
			if lo == 0 || row.Length < lo {
				lo = row.Length
			}
			hi = max(hi, row.Length)
		}
		for n, byLen := range ent {
			var g []float64
			for d := 0; ; d++ {
				a, ok1 := byLen[hi][d]
				b, ok2 := byLen[lo][d]
				if !ok1 || !ok2 {
					break
				}
				g = append(g, a-b)
			}
			if sum[n] == nil {
				sum[n] = make([]float64, len(g))
			}
			if len(sum[n]) != len(g) {
				continue
			}
			for d := range g {
				sum[n][d] += g[d]
			}
			count[n]++
		}
	}
	for n := range sum {
		for d := range sum[n] {
			sum[n][d] /= float64(count[n])
		}
	}
	return sum
}

// entropyRatio is ΣG_norm/ΣG_softmax over the documents with a bootstrap
// interval (NaN when not measured).
func (r Rules) entropyRatio(growth map[string][]float64, norm string) stats.Interval {
	nan := stats.Interval{Est: nanF(), Lo: nanF(), Hi: nanF()}
	g, gs := growth[norm], growth["softmax"]
	if len(g) == 0 || len(g) != len(gs) {
		return nan
	}
	bs := r.Bootstrap
	iv, err := stats.Bootstrap(len(g), stats.SumRatio(g, gs), bs.Resamples, bs.Seed, bs.Level)
	if err != nil {
		return nan
	}
	return iv
}
