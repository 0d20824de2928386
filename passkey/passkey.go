// Package passkey is a long-range retrieval probe for a masked language
// model, after Mohtashami & Jaggi (2023, "Landmark Attention", the passkey
// task): a key of Digits random digits is stated once in filler text,
// behind the marker "#KEY=", and the same marker appears again farther on
// with the key's digits replaced by [MASK]. The model can fill them only by
// attending from the second place to the first, over the key's distance,
// so a method that cannot see that far (a window, a local mask) fails by
// construction.
//
// The probe gives a base model the skill at its training length
// (TrainSample turns a training sequence into a probe sample) and measures
// it at any length and distance (EvalSample). Scores are per digit (chance
// 1/10) and per key (all digits right).
package passkey

import (
	"fmt"
	"math/rand/v2"

	"github.com/infoscale/gaualpha/tokenizer"
)

// The probe's text.
const (
	// Marker precedes the key where it is stated and where it is asked.
	Marker = "#KEY="
	// Digits is the number of digits of a key.
	Digits = 5
)

// Probe plants keys in token sequences of one vocabulary.
type Probe struct {
	marker []int
	digits [10]int
	mask   int
}

// New returns the probe for v, whose tokens must include the marker's
// characters and the ten digits.
func New(v *tokenizer.Vocab) (*Probe, error) {
	p := &Probe{mask: v.Mask()}
	for _, r := range Marker {
		id, ok := v.ID(string(r))
		if !ok {
			return nil, fmt.Errorf("passkey: the vocabulary has no %q (the marker %q needs it)", r, Marker)
		}
		p.marker = append(p.marker, id)
	}
	for d := range 10 {
		id, ok := v.ID(string(rune('0' + d)))
		if !ok {
			return nil, fmt.Errorf("passkey: the vocabulary has no digit %d", d)
		}
		p.digits[d] = id
	}
	return p, nil
}

// Span is the number of tokens a statement or a question takes: the marker
// and the key.
func (p *Probe) Span() int { return len(p.marker) + Digits }

// Key draws a key: Digits digits, each uniform.
func (p *Probe) Key(rng *rand.Rand) [Digits]int {
	var k [Digits]int
	for i := range k {
		k[i] = rng.IntN(10)
	}
	return k
}

// Plant writes the key's statement at position stmt of seq and its
// question (the marker and Digits [MASK]) at position query, over what was
// there. It returns the positions of the masked digits and the digits'
// token ids. The two spans must lie inside seq and not overlap.
func (p *Probe) Plant(seq []int, stmt, query int, key [Digits]int) (pos, targets []int, err error) {
	span := p.Span()
	switch {
	case stmt < 0 || query < 0 || stmt+span > len(seq) || query+span > len(seq):
		return nil, nil, fmt.Errorf("passkey: spans at %d and %d do not fit a sequence of %d tokens", stmt, query, len(seq))
	case stmt < query+span && query < stmt+span:
		return nil, nil, fmt.Errorf("passkey: the statement at %d and the question at %d overlap (%d tokens each)", stmt, query, span)
	}
	for _, at := range []int{stmt, query} {
		copy(seq[at:], p.marker)
	}
	for i, d := range key {
		seq[stmt+len(p.marker)+i] = p.digits[d]
		q := query + len(p.marker) + i
		seq[q] = p.mask
		pos = append(pos, q)
		targets = append(targets, p.digits[d])
	}
	return pos, targets, nil
}

// TrainSample turns a training sequence ([CLS], content, [SEP]) into a
// probe sample in place, with a fresh key, the statement and the question
// at random places of the content, the question after the statement. ok is
// false (and s unchanged) when the content is shorter than two spans.
func (p *Probe) TrainSample(s []int, rng *rand.Rand) (pos, targets []int, ok bool) {
	span := p.Span()
	lo, hi := 1, len(s)-1 // the content, between [CLS] and [SEP]
	room := hi - lo - 2*span
	if room < 0 {
		return nil, nil, false
	}
	// The statement's offset a and the gap g between the two spans,
	// uniform over the pairs with a + g <= room (by rejection: at least
	// half of the draws are kept).
	a, g := rng.IntN(room+1), rng.IntN(room+1)
	for a+g > room {
		a, g = rng.IntN(room+1), rng.IntN(room+1)
	}
	stmt := lo + a
	pos, targets, err := p.Plant(s, stmt, stmt+span+g, p.Key(rng))
	if err != nil {
		panic(err) // unreachable: the spans fit by construction
	}
	return pos, targets, true
}

// EvalSample returns a copy of filler with a fresh key stated and asked at
// distance d (from the statement's marker to the question's), the
// statement at a uniformly random place that leaves room for the question,
// and the masked positions and their targets.
func (p *Probe) EvalSample(filler []int, d int, rng *rand.Rand) (seq, pos, targets []int, err error) {
	span := p.Span()
	if d < span || d+span > len(filler) {
		return nil, nil, nil, fmt.Errorf("passkey: distance %d needs %d <= d <= %d in a sequence of %d tokens", d, span, len(filler)-span, len(filler))
	}
	stmt := rng.IntN(len(filler) - span - d + 1)
	seq = append([]int(nil), filler...)
	pos, targets, err = p.Plant(seq, stmt, stmt+d, p.Key(rng))
	return seq, pos, targets, err
}

// Score is a tally of probe answers.
type Score struct {
	Digits, DigitsRight int // masked digits scored and right
	Keys, KeysRight     int // keys scored and right in every digit
}

// Add scores one key: the predicted token ids at its masked positions
// against its targets.
func (s *Score) Add(pred, targets []int) {
	right := 0
	for i, t := range targets {
		if pred[i] == t {
			right++
		}
	}
	s.Digits += len(targets)
	s.DigitsRight += right
	s.Keys++
	if right == len(targets) {
		s.KeysRight++
	}
}

// DigitAccuracy is the share of digits right (chance: 1/10).
func (s Score) DigitAccuracy() float64 { return float64(s.DigitsRight) / float64(s.Digits) }

// KeyAccuracy is the share of keys right in every digit.
func (s Score) KeyAccuracy() float64 { return float64(s.KeysRight) / float64(s.Keys) }
