package testset

import (
	"fmt"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/tokenizer"
)

// The rules that select the test documents among the held-out ones.
const (
	// RuleLong takes n long documents evenly spaced in corpus order
	// (corpus.SelectTestSet); the default.
	RuleLong = "long"
	// RuleSpectral is the paper's selection: spectral clustering of
	// character-frequency features and stratified sampling (Spectral).
	RuleSpectral = "spectral"
)

// HeldOut divides the held-out documents of a corpus so that no document
// plays two roles:
//
//   - Test: the test documents (the rule's selection of n documents of at
//     least minLen tokens);
//   - Dev: the other documents of at least minLen tokens;
//   - Validation: the rest, the documents shorter than minLen that are not
//     test documents. Training scores its validation loss, and picks its
//     best checkpoint, on these only.
//
// When no document is left for validation (a corpus whose held-out
// documents are all long), Validation is Dev and DevValidates is set; when
// even Dev is empty (every held-out document is a test document: a small
// corpus), Validation is Test and TestValidates is set, which the callers
// say, since the test documents then pick the checkpoint.
type HeldOut struct {
	Test, Dev, Validation       []corpus.Document
	DevValidates, TestValidates bool
}

// Note says, in one line, which documents validate when they are not the
// validation documents proper ("" otherwise).
func (h HeldOut) Note() string {
	switch {
	case h.TestValidates:
		return fmt.Sprintf("every one of the %d held-out documents is a test document: validating on them, so the test documents pick the best checkpoint (ask for fewer test documents to keep them apart)", len(h.Test))
	case h.DevValidates:
		return fmt.Sprintf("no held-out document is shorter than the longest evaluation length: validating on the %d that are not test documents", len(h.Dev))
	}
	return ""
}

// SplitHeldOut divides the held-out documents held (tokenised by v) by the
// test-set rule (RuleLong, or RuleSpectral seeded by seed) for n test
// documents of at least minLen tokens.
func SplitHeldOut(rule string, held []corpus.Document, v *tokenizer.Vocab, n, minLen int, seed uint64) (HeldOut, error) {
	var test []corpus.Document
	switch rule {
	case RuleLong, "":
		test = corpus.SelectTestSet(held, n, minLen, func(s string) int { return len(v.Encode(s)) })
	case RuleSpectral:
		var err error
		if test, _, err = Spectral(held, v, n, DefaultClusters, minLen, seed); err != nil {
			return HeldOut{}, fmt.Errorf("spectral test-set selection: %w", err)
		}
	default:
		return HeldOut{}, fmt.Errorf("unknown test-set rule %q (want %s or %s)", rule, RuleLong, RuleSpectral)
	}
	inTest := map[string]bool{}
	for _, d := range test {
		inTest[d.ID] = true
	}
	h := HeldOut{Test: test}
	for _, d := range held {
		switch {
		case inTest[d.ID]:
		case len(v.Encode(d.Text)) >= minLen:
			h.Dev = append(h.Dev, d)
		default:
			h.Validation = append(h.Validation, d)
		}
	}
	if len(h.Validation) == 0 {
		h.Validation, h.DevValidates = h.Dev, true
	}
	if len(h.Validation) == 0 {
		h.Validation, h.DevValidates, h.TestValidates = h.Test, false, true
	}
	return h, nil
}
