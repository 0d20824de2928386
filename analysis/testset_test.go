package analysis

import (
	"testing"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/testset"
)

func TestTestSetSummary(t *testing.T) {
	docs := []corpus.Document{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	info := testset.Info{Labels: []int{0, 1, 1}, Tokens: []int{10, 20, 30}, Sizes: []int{1, 2}, Quotas: []int{1, 1}, Selected: []int{0, 2}}
	got := TestSetSummary(docs, "val", []corpus.Document{docs[0], docs[2]}, info)
	want := "3 documents (val split), 2 clusters of sizes [1 2]; drawn per cluster [1 1]\nselected: a (10 tokens, cluster 0), c (30 tokens, cluster 1)\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
