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

// HeldOut is the held-out part of a corpus divided into test, development
// and validation documents (testset.HeldOut).
type HeldOut = testset.HeldOut

// SplitHeldOut divides the held-out part of a corpus (corpus.Split's
// validation part, the last 20% of the documents) by the test-set rule
// (TestSetLong or TestSetSpectral, seeded) for n test documents of at least
// minLen tokens (tokenised by v): testset.SplitHeldOut.
func SplitHeldOut(rule string, docs []corpus.Document, v *tokenizer.Vocab, n, minLen int, seed uint64) (HeldOut, error) {
	_, val := corpus.Split(docs, 0.8)
	if len(val) == 0 {
		val = docs
	}
	return testset.SplitHeldOut(rule, val, v, n, minLen, seed)
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
