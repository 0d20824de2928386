package verdict

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/infoscale/gaualpha/stats"
	"github.com/infoscale/gaualpha/study"
)

func nanF() float64 { return math.NaN() }

// RetrievalInput is claim 5's evidence: the passkey probe of every seed
// (passkey.csv of each seed's test evaluation), the models that failed to
// train, the headline CosScale and the training length n0.
type RetrievalInput struct {
	Seeds    []int
	Passkey  [][]study.PasskeyRow
	Excluded Exclusions
	Headline float64
	N0       int
}

// ProbeCell is a configuration's probe score at one length and distance
// class, pooled over the seeds and documents.
type ProbeCell struct {
	Length              int
	Class               string
	Keys, KeysRight     int
	Digits, DigitsRight int
	// P is the one-sided exact binomial p of the digits right against
	// chance; Docs and DocsAbove count the documents and those whose digit
	// accuracy (over the seeds) is above chance.
	P               float64
	Docs, DocsAbove int
}

// Acc is the digit accuracy.
func (c ProbeCell) Acc() float64 { return float64(c.DigitsRight) / float64(c.Digits) }

// ProbeConfig is one configuration's probe, cell by cell (lengths, then
// near before far).
type ProbeConfig struct {
	Key   study.ConfigKey
	Cells []ProbeCell
}

// Cell returns the configuration's cell at a length and class.
func (p ProbeConfig) Cell(L int, class string) (ProbeCell, bool) {
	for _, c := range p.Cells {
		if c.Length == L && c.Class == class {
			return c, true
		}
	}
	return ProbeCell{}, false
}

// Retrieval is claim 5's verdict.
type Retrieval struct {
	Outcome Outcome
	// Skill is the near digit accuracy of ours at n0 (the base model's
	// skill), L the longest length.
	Skill   ProbeCell
	L       int
	Ours    ProbeConfig
	Others  []ProbeConfig
	Reached bool // ours' far digits at L meet the effect and p < Alpha
}

// ProbeConfigs pools passkey rows of every seed by configuration.
func (r Rules) ProbeConfigs(seeds [][]study.PasskeyRow) ([]ProbeConfig, error) {
	type cellKey struct {
		k     study.ConfigKey
		L     int
		class string
	}
	cells := map[cellKey]*ProbeCell{}
	perDoc := map[cellKey]map[int][2]int{} // doc → digits right, digits
	var order []cellKey
	for _, rows := range seeds {
		for _, p := range rows {
			ck := cellKey{p.Key(), p.Length, p.Class}
			c, ok := cells[ck]
			if !ok {
				c = &ProbeCell{Length: p.Length, Class: p.Class}
				cells[ck], perDoc[ck] = c, map[int][2]int{}
				order = append(order, ck)
			}
			c.Keys += p.Keys
			c.KeysRight += p.KeysRight
			c.Digits += p.Digits
			c.DigitsRight += p.DigitsRight
			d := perDoc[ck][p.Doc]
			perDoc[ck][p.Doc] = [2]int{d[0] + p.DigitsRight, d[1] + p.Digits}
		}
	}
	byKey := map[study.ConfigKey]*ProbeConfig{}
	var keys []study.ConfigKey
	for _, ck := range order {
		c := cells[ck]
		if c.Digits == 0 {
			return nil, fmt.Errorf("passkey probe of %s at %d (%s) has no digits", ck.k.Label(), ck.L, ck.class)
		}
		var err error
		if c.P, err = stats.BinomialUpper(c.DigitsRight, c.Digits, r.Retrieval.Chance); err != nil {
			return nil, err
		}
		for _, d := range perDoc[ck] {
			c.Docs++
			if float64(d[0]) > r.Retrieval.Chance*float64(d[1]) {
				c.DocsAbove++
			}
		}
		pc, ok := byKey[ck.k]
		if !ok {
			pc = &ProbeConfig{Key: ck.k}
			byKey[ck.k] = pc
			keys = append(keys, ck.k)
		}
		pc.Cells = append(pc.Cells, *c)
	}
	out := make([]ProbeConfig, len(keys))
	for i, k := range keys {
		pc := byKey[k]
		sort.SliceStable(pc.Cells, func(a, b int) bool {
			ca, cb := pc.Cells[a], pc.Cells[b]
			if ca.Length != cb.Length {
				return ca.Length < cb.Length
			}
			return ca.Class == "near" && cb.Class != "near"
		})
		out[i] = *pc
	}
	return out, nil
}

// JudgeRetrieval judges claim 5.
func (r Rules) JudgeRetrieval(in RetrievalInput) (Retrieval, error) {
	rule := r.Retrieval
	if rule.Chance == 0 {
		return Retrieval{}, fmt.Errorf("rules version %d have no claim 5", r.Version)
	}
	if len(in.Passkey) == 0 {
		return Retrieval{}, Missing{"the passkey probe (seeds/sSEED/suite/passkey.csv)"}
	}
	cfgs, err := r.ProbeConfigs(in.Passkey)
	if err != nil {
		return Retrieval{}, err
	}
	ours := OursKey(in.Headline)
	var ret Retrieval
	found := false
	for _, c := range cfgs {
		for _, cell := range c.Cells {
			ret.L = max(ret.L, cell.Length)
		}
		if c.Key == ours {
			ret.Ours, found = c, true
		} else {
			ret.Others = append(ret.Others, c)
		}
	}
	if !found {
		return Retrieval{}, Missing{fmt.Sprintf("the passkey probe of %s", ours.Label())}
	}
	if !Usable(in.Excluded, in.Seeds, in.Headline)(ours) {
		ret.Outcome = Inconclusive
		return ret, nil
	}
	skill, ok := ret.Ours.Cell(in.N0, "near")
	if !ok {
		return Retrieval{}, Missing{fmt.Sprintf("the passkey probe of ours at the training length %d", in.N0)}
	}
	ret.Skill = skill
	meets := func(c ProbeCell) bool { return c.P < rule.Alpha && c.Acc() >= rule.Effect*rule.Chance }
	far, ok := ret.Ours.Cell(ret.L, "far")
	switch {
	case skill.Acc() < rule.Skill:
		ret.Outcome = Inconclusive
	case !ok:
		return Retrieval{}, Missing{fmt.Sprintf("far keys of ours at length %d", ret.L)}
	case meets(far):
		ret.Outcome, ret.Reached = Supported, true
	case far.P < rule.Alpha || slices.ContainsFunc(ret.Ours.Cells, func(c ProbeCell) bool { return c.Class == "far" && c.Length < ret.L && meets(c) }):
		ret.Outcome = PartlySupported
	default:
		ret.Outcome = NotSupported
	}
	return ret, nil
}
