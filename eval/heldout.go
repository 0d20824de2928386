package eval

import (
	"fmt"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/testset"
	"github.com/infoscale/gaualpha/tokenizer"
)

// The sets of held-out documents HeldOutDocuments returns.
const (
	// SetTest is the test set: the documents a test-set rule selects.
	SetTest = "test"
	// SetDev is the development set: the other held-out documents at
	// least as long as the longest evaluation length, on which a study
	// chooses configurations; never a test document.
	SetDev = "dev"
)

// HeldOut divides the held-out part of a corpus (corpus.Split's
// validation part, the last 20% of the documents) so that no document
// plays two roles:
//
//   - Test: the test documents (TestDocumentsBy's selection of n
//     documents of at least minLen tokens);
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

// SplitHeldOut divides the held-out documents of docs by the test-set rule
// (TestSetLong or TestSetSpectral, seeded) for n test documents of at least
// minLen tokens (tokenised by v).
func SplitHeldOut(rule string, docs []corpus.Document, v *tokenizer.Vocab, n, minLen int, seed uint64) (HeldOut, error) {
	_, val := corpus.Split(docs, 0.8)
	if len(val) == 0 {
		val = docs
	}
	var test []corpus.Document
	switch rule {
	case TestSetLong, "":
		test = corpus.SelectTestSet(val, n, minLen, func(s string) int { return len(v.Encode(s)) })
	case TestSetSpectral:
		var err error
		if test, _, err = testset.Spectral(val, v, n, testset.DefaultClusters, minLen, seed); err != nil {
			return HeldOut{}, fmt.Errorf("spectral test-set selection: %w", err)
		}
	default:
		return HeldOut{}, fmt.Errorf("unknown test-set rule %q (want long or spectral)", rule)
	}
	inTest := map[string]bool{}
	for _, d := range test {
		inTest[d.ID] = true
	}
	h := HeldOut{Test: test}
	for _, d := range val {
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

// HeldOutDocuments returns one set of the held-out documents (SetTest or
// SetDev of SplitHeldOut), tokenised without special tokens, and their ids.
// An empty set is an error.
func HeldOutDocuments(rule, set string, docs []corpus.Document, v *tokenizer.Vocab, n, minLen int, seed uint64) ([][]int, []string, error) {
	h, err := SplitHeldOut(rule, docs, v, n, minLen, seed)
	if err != nil {
		return nil, nil, err
	}
	var sel []corpus.Document
	switch set {
	case SetTest, "":
		sel = h.Test
	case SetDev:
		sel = h.Dev
		if len(sel) == 0 {
			return nil, nil, fmt.Errorf("no development document: every held-out document of at least %d tokens is one of the %d test documents", minLen, len(h.Test))
		}
	default:
		return nil, nil, fmt.Errorf("unknown document set %q (want %s or %s)", set, SetTest, SetDev)
	}
	var out [][]int
	var ids []string
	for _, d := range sel {
		toks := v.Encode(d.Text)
		if len(toks) == 0 {
			continue
		}
		out = append(out, toks)
		ids = append(ids, d.ID)
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("no %s document with tokens in the validation split", set)
	}
	return out, ids, nil
}
