package eval

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/tokenizer"
)

// ids returns the documents' ids.
func ids(docs []corpus.Document) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d.ID)
	}
	return out
}

// The held-out split by hand: 40 documents in the training part, 10 held
// out (the last 20%), five of them at least 100 tokens long. Two test documents are the
// long ones numbered floor((2i+1)·5/4) = 1 and 3 among the long ones; the
// other three long ones are the development set; the short ones validate.
func TestSplitHeldOut(t *testing.T) {
	var docs []corpus.Document
	lens := []int{5, 150, 7, 120, 9, 200, 3, 100, 99, 300} // held-out lengths
	for i := range 40 {
		docs = append(docs, corpus.Document{ID: fmt.Sprintf("train%d", i), Text: "ab"})
	}
	for i, n := range lens {
		docs = append(docs, corpus.Document{ID: fmt.Sprintf("h%d", i), Text: strings.Repeat("a", n)})
	}
	v, err := tokenizer.Build(slices.Values([]string{"ab"}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := SplitHeldOut(TestSetLong, docs, v, 2, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Long: h1 (150), h3 (120), h5 (200), h7 (100), h9 (300).
	if got, want := ids(h.Test), []string{"h3", "h7"}; !slices.Equal(got, want) {
		t.Errorf("test %v, want %v", got, want)
	}
	if got, want := ids(h.Dev), []string{"h1", "h5", "h9"}; !slices.Equal(got, want) {
		t.Errorf("dev %v, want %v", got, want)
	}
	if got, want := ids(h.Validation), []string{"h0", "h2", "h4", "h6", "h8"}; !slices.Equal(got, want) || h.DevValidates {
		t.Errorf("validation %v (dev validates: %v), want %v", got, h.DevValidates, want)
	}
	dev, devIDs, err := HeldOutDocuments(TestSetLong, SetDev, docs, v, 2, 100, 1)
	if err != nil || len(dev) != 3 || !slices.Equal(devIDs, []string{"h1", "h5", "h9"}) || len(dev[1]) != 200 {
		t.Errorf("dev documents: %d, %v, %v", len(dev), devIDs, err)
	}
	test, testIDs, err := TestDocumentsBy(TestSetLong, docs, v, 2, 100, 1)
	if err != nil || len(test) != 2 || !slices.Equal(testIDs, []string{"h3", "h7"}) {
		t.Errorf("test documents: %v, %v", testIDs, err)
	}
	// Every held-out document long: the development set validates, never
	// a test document.
	h, err = SplitHeldOut(TestSetLong, docs, v, 2, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !h.DevValidates || len(h.Validation) != 8 || slices.ContainsFunc(h.Validation, func(d corpus.Document) bool { return slices.Contains(ids(h.Test), d.ID) }) {
		t.Errorf("all long: validation %v, test %v", ids(h.Validation), ids(h.Test))
	}
	// Every held-out document a test document: they validate, and say so.
	h, err = SplitHeldOut(TestSetLong, docs, v, 10, 1, 1)
	if err != nil || !h.TestValidates || h.DevValidates || len(h.Validation) != 10 || !strings.Contains(h.Note(), "the test documents pick the best checkpoint") {
		t.Errorf("all test: %+v, %v", h, err)
	}
	// Every long document a test document: no development set.
	if _, _, err := HeldOutDocuments(TestSetLong, SetDev, docs, v, 5, 100, 1); err == nil || !strings.Contains(err.Error(), "no development document") {
		t.Errorf("no dev documents: %v", err)
	}
	if _, _, err := HeldOutDocuments(TestSetLong, "train", docs, v, 5, 100, 1); err == nil {
		t.Error("unknown set accepted")
	}
}
