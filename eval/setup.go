package eval

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/testset"
	"github.com/infoscale/gaualpha/tokenizer"
)

// DefaultLengths returns 2x..64x the training length n0 (128..4096 for the
// paper's n0 = 64).
func DefaultLengths(n0 int) []int {
	var ls []int
	for f := 2; f <= 64; f *= 2 {
		ls = append(ls, f*n0)
	}
	return ls
}

// ParseLengths parses a comma-separated list of lengths.
func ParseLengths(s string) ([]int, error) {
	var ls []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 2 {
			return nil, fmt.Errorf("bad length %q in %q (want integers >= 2, comma-separated)", f, s)
		}
		if slices.Contains(ls, n) {
			return nil, fmt.Errorf("length %d appears twice in %q", n, s)
		}
		ls = append(ls, n)
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("no lengths in %q", s)
	}
	return ls, nil
}

// Test-set selection rules for TestDocumentsBy.
const (
	// TestSetLong takes n long documents evenly spaced in corpus order
	// (corpus.SelectTestSet); the default.
	TestSetLong = testset.RuleLong
	// TestSetSpectral is the paper's selection: spectral clustering of
	// character-frequency features and stratified sampling (package
	// testset).
	TestSetSpectral = testset.RuleSpectral
)

// TestDocuments picks the extrapolation test set from the validation part
// of a corpus (the documents after the first 80%): n documents of at least
// minLen tokens where possible (corpus.SelectTestSet), tokenised without
// special tokens.
func TestDocuments(docs []corpus.Document, v *tokenizer.Vocab, n, minLen int) ([][]int, []string, error) {
	return TestDocumentsBy(TestSetLong, docs, v, n, minLen, 42)
}

// TestDocumentsBy is TestDocuments with the selection rule named: "long" or
// "spectral" (seeded): the test set of SplitHeldOut.
func TestDocumentsBy(rule string, docs []corpus.Document, v *tokenizer.Vocab, n, minLen int, seed uint64) ([][]int, []string, error) {
	return HeldOutDocuments(rule, SetTest, docs, v, n, minLen, seed)
}

// Variants returns one variant per normalisation name for the model cfg
// (whose method, CosScale and parameters the caller may have changed for
// evaluation): an attn normalisation, NormPlusN0 or NormInfoVisible (see
// NormPolicy; a name that does not apply to cfg's method is an error, as is
// a name given twice). Names are the normalisations, prefixed with the
// method unless it is plain RoPE.
func Variants(cfg gau.Config, norms []string) ([]Variant, error) {
	var vs []Variant
	for _, n := range norms {
		n = strings.ToLower(strings.TrimSpace(n))
		pol, ok, err := NormPolicy(cfg, n)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("normalisation %s applies only to the masking methods (streamingllm, lminfinite, window), not %s", n, cfg.Method)
		}
		name := n
		if pol.Method != attn.RoPE {
			name = pol.Method.String() + "+" + name
		}
		if slices.ContainsFunc(vs, func(v Variant) bool { return v.Name == name }) {
			return nil, fmt.Errorf("normalisation %q appears twice", n)
		}
		vs = append(vs, Variant{Name: name, Policy: pol})
	}
	return vs, nil
}
