// Package testfiles writes the small corpora and checkpoints that the
// command-line tools' tests run on.
package testfiles

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/collective/mpi"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/tokenizer"
)

// RandomDocs returns n documents of length characters drawn uniformly from
// alphabet.
func RandomDocs(rng *rand.Rand, alphabet string, n, length int) []corpus.Document {
	letters := []rune(alphabet)
	docs := make([]corpus.Document, n)
	for d := range docs {
		text := make([]rune, length)
		for i := range text {
			text[i] = letters[rng.IntN(len(letters))]
		}
		docs[d].Text = string(text)
	}
	return docs
}

// WriteCorpus writes docs to path as JSON lines ({"text": ...}, with "id"
// where a document has one) and returns path.
func WriteCorpus(t testing.TB, path string, docs []corpus.Document) string {
	t.Helper()
	var sb strings.Builder
	for _, d := range docs {
		line := map[string]string{"text": d.Text}
		if d.ID != "" {
			line["id"] = d.ID
		}
		b, err := json.Marshal(line)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TinyCheckpoint saves a randomly initialised one-layer model (hidden 16,
// intermediate 24, key 8, trained length 16) with the vocabulary of
// alphabet's characters to dir and returns dir.
func TinyCheckpoint(t testing.TB, dir string, rng *rand.Rand, alphabet string) string {
	t.Helper()
	v, err := tokenizer.Build(slices.Values([]string{alphabet}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = v.Size(), 16, 24, 8, 1, 16
	if err := checkpoint.Save(dir, cfg, v, gau.InitParams(cfg, tensor.Float32, rng), nil, nil); err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(dir)
}

// AnalysisModel is a randomly initialised two-layer model (hidden 16,
// intermediate 24, key 8, trained length 16, CosScale cosscale) with the
// vocabulary of the Latin alphabet and random ScaleOffset gains in [0.5,
// 20.5), so that q and k differ from each other; edit may change its
// parameters.
func AnalysisModel(t testing.TB, cosscale float64, seed uint64, edit func(*gau.Params)) *checkpoint.Checkpoint {
	t.Helper()
	v, err := tokenizer.Build(slices.Values([]string{"abcdefghijklmnopqrstuvwxyz"}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = v.Size(), 16, 24, 8, 2, 16
	cfg.CosScale = cosscale
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(seed, 3)))
	rng := rand.New(rand.NewPCG(seed, 4))
	for _, lp := range p.Layers {
		for _, g := range [][]float32{lp.GammaQ.Data().([]float32), lp.GammaK.Data().([]float32)} {
			for i := range g {
				g[i] = float32(0.5 + rng.Float64()*20)
			}
		}
	}
	if edit != nil {
		edit(p)
	}
	return &checkpoint.Checkpoint{Config: cfg, Vocab: v, Params: p}
}

// Printed is what one rank of a command printed.
type Printed struct{ Stdout, Stderr string }

// All is the rank's standard output and error, one after the other.
func (p Printed) All() string { return p.Stdout + p.Stderr }

// RunRanks runs a command's body (run, as a command's main function runs
// it under mpi.Main) on each member of a local group of n, with args, and
// returns what each rank printed, by rank, and the members' errors, each
// naming its rank, joined.
func RunRanks(n int, run func(c collective.Comm, args []string, stdout, stderr io.Writer) error, args []string) ([]Printed, error) {
	var mu sync.Mutex
	printed := make([]Printed, n)
	err := collective.RunLocal(n, func(c collective.Comm) error {
		var out, errb bytes.Buffer
		err := mpi.RunWith(c, func(c collective.Comm) error { return run(c, args, &out, &errb) })
		mu.Lock()
		printed[c.Rank()] = Printed{out.String(), errb.String()}
		mu.Unlock()
		return err
	})
	return printed, err
}
