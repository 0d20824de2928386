package train

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/tokenizer"
)

// Data validates on the held-out documents that are neither test nor
// development documents: 40 training documents, 10 held out, of which 5
// long (2 test, 3 development) and 5 short (validation).
func TestDataValidatesOnHeldOutRest(t *testing.T) {
	var docs []corpus.Document
	for i := range 40 {
		docs = append(docs, corpus.Document{ID: fmt.Sprintf("t%d", i), Text: strings.Repeat("a", 30)})
	}
	for i, n := range []int{5, 150, 7, 120, 9, 200, 3, 100, 99, 300} {
		docs = append(docs, corpus.Document{ID: fmt.Sprintf("h%d", i), Text: strings.Repeat("b", n)})
	}
	v, err := tokenizer.Build(slices.Values([]string{"ab"}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	const L = 12 // 10 tokens per sequence
	_, all, note, err := Data(docs, v, L, HeldOut{})
	if err != nil || note != "" {
		t.Fatal(err, note)
	}
	// Every held-out document: 1+15+1+12+1+20+1+10+10+30 sequences.
	if len(all) != 101 {
		t.Errorf("%d validation sequences without a split, want 101", len(all))
	}
	tr, val, note, err := Data(docs, v, L, HeldOut{Rule: "long", Test: 2, MinLen: 100})
	if err != nil || note != "" {
		t.Fatal(err, note)
	}
	// The short ones only: h0, h2, h4, h6, h8 (5, 7, 9, 3 and 99 tokens).
	if len(tr) != 40*3 || len(val) != 1+1+1+1+10 {
		t.Errorf("%d training and %d validation sequences, want 120 and 14", len(tr), len(val))
	}
	// Every held-out document a test document: they validate, with a note.
	_, val, note, err = Data(docs, v, L, HeldOut{Rule: "long", Test: 10, MinLen: 1})
	if err != nil || len(val) != 101 || !strings.Contains(note, "test documents pick the best checkpoint") {
		t.Errorf("all test documents: %d sequences, note %q, %v", len(val), note, err)
	}
}
