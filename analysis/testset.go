package analysis

import (
	"fmt"
	"strings"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/testset"
	"github.com/infoscale/gaualpha/tokenizer"
)

// TestSetDocuments returns the documents the test-set selection clusters:
// with split "val", the corpus's validation split (the last 20%, where the
// evaluation's test set comes from; every document of a corpus too small
// to have one), with "all", every document.
func TestSetDocuments(path, split string) ([]corpus.Document, error) {
	docs, err := corpus.Open(path)
	if err != nil {
		return nil, err
	}
	if _, val := corpus.Split(docs, 0.8); split == "val" && len(val) > 0 {
		docs = val
	}
	return docs, nil
}

// TestSetVocab returns the vocabulary that tokenises the documents for
// the selection: the checkpoint's in ckpt, or, when ckpt is "", one of
// every character of the documents.
func TestSetVocab(ckpt string, docs []corpus.Document) (*tokenizer.Vocab, error) {
	if ckpt == "" {
		return testset.CharVocab(docs)
	}
	ck, err := checkpoint.Load(ckpt)
	if err != nil {
		return nil, err
	}
	return ck.Vocab, nil
}

// TestSetSummary describes a selection from docs (of the split named):
// the clusters' sizes and draws, and each selected document with its
// length in tokens and its cluster.
func TestSetSummary(docs []corpus.Document, split string, sel []corpus.Document, info testset.Info) string {
	var chosen []string
	for i, d := range sel {
		chosen = append(chosen, fmt.Sprintf(" %s (%d tokens, cluster %d)", d.ID, info.Tokens[info.Selected[i]], info.Labels[info.Selected[i]]))
	}
	return fmt.Sprintf("%d documents (%s split), %d clusters of sizes %v; drawn per cluster %v\nselected:%s\n",
		len(docs), split, len(info.Sizes), info.Sizes, info.Quotas, strings.Join(chosen, ","))
}
