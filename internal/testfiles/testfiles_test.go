package testfiles

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/corpus"
)

// What WriteCorpus writes, corpus.Open reads back (ids and texts); a
// TinyCheckpoint loads.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	docs := RandomDocs(rng, "ab的一", 3, 50)
	docs[1].ID = "second"
	for _, d := range docs {
		if utf8.RuneCountInString(d.Text) != 50 {
			t.Fatalf("document of %d characters, want 50", utf8.RuneCountInString(d.Text))
		}
	}
	got, err := corpus.Open(WriteCorpus(t, filepath.Join(dir, "c.jsonl"), docs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(docs) {
		t.Fatalf("%d documents read back, want %d", len(got), len(docs))
	}
	for i := range docs {
		if got[i].Text != docs[i].Text {
			t.Errorf("document %d: text differs", i)
		}
	}
	if got[1].ID != "second" {
		t.Errorf("id %q, want second", got[1].ID)
	}
	ck, err := checkpoint.Load(TinyCheckpoint(t, filepath.Join(dir, "ck"), rng, "ab的一"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Config.NumLayers != 1 || ck.Vocab.Size() != 5+4 {
		t.Errorf("checkpoint: %d layers, vocabulary %d", ck.Config.NumLayers, ck.Vocab.Size())
	}
}
