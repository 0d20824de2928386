package eval

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/passkey"
	"github.com/infoscale/gaualpha/tokenizer"
)

func passkeyModel(t *testing.T) (gau.Config, *gau.Params, *tokenizer.Vocab) {
	t.Helper()
	v, err := tokenizer.Build(slices.Values([]string{"#KEY=0123456789abcdefghijklmnopqrstuvwxyz"}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = v.Size(), 16, 24, 8, 2, 32
	cfg.InitializerRange = 0.5
	return cfg, gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(7, 8))), v
}

// The probe's samples: the classes' distances, the same samples for every
// variant and count, and scores equal to a hand-built forward pass of
// each sample.
func TestPasskeyMatchesManualForward(t *testing.T) {
	cfg, p, v := passkeyModel(t)
	docs := randDocs(rand.New(rand.NewPCG(9, 10)), v, 3, 70)
	probe, err := passkey.New(v)
	if err != nil {
		t.Fatal(err)
	}
	const L = 96
	o := PasskeyOptions{Lengths: []int{L}, Near: 2, Far: 3, Seed: 5, MaxTokens: 2 * L}
	samples, err := passkeySamples(probe, docs, L, cfg.TrainLength, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 3*(2+3) {
		t.Fatalf("%d samples, want 15", len(samples))
	}
	span := probe.Span()
	for _, s := range samples {
		q := s.pos[0] - 5 // the question's marker
		var stmt int
		for stmt = 0; stmt < L; stmt++ {
			if s.ids[stmt] == s.ids[q] && stmt != q && slices.Equal(s.ids[stmt:stmt+5], s.ids[q:q+5]) {
				break
			}
		}
		d := q - stmt
		if s.class == 0 && (d < span || d > cfg.TrainLength-span) || s.class == 1 && (d < cfg.TrainLength+span || d > L-span) {
			t.Errorf("class %d key at distance %d", s.class, d)
		}
	}
	// Fewer keys: a prefix of the same keys.
	o2 := o
	o2.Near, o2.Far = 1, 1
	fewer, _ := passkeySamples(probe, docs, L, cfg.TrainLength, o2)
	if !slices.Equal(fewer[0].ids, samples[0].ids) || !slices.Equal(fewer[1].ids, samples[2].ids) {
		t.Error("the first keys change with the number of keys")
	}
	vs, err := Variants(cfg, []string{"softmax", "infoscale"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Passkey(context.Background(), cfg, p, v, docs, vs, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2*3*2 {
		t.Fatalf("%d results, want 2 variants × 3 documents × 2 classes", len(res))
	}
	m, err := gau.Build(cfg, p, gau.Options{Shape: gau.Shape{B: 1, L: L, M: passkey.Digits}, Policy: vs[1].Policy})
	if err != nil {
		t.Fatal(err)
	}
	mach, err := graph.NewMachine(m.Graph, m.Outputs()...)
	if err != nil {
		t.Fatal(err)
	}
	want := make([][2]passkey.Score, len(docs))
	for _, s := range samples {
		if err := m.Run(mach, &gau.Batch{IDs: s.ids, Select: s.pos}); err != nil {
			t.Fatal(err)
		}
		logits := mach.Value(m.Logits).Data().([]float32)
		var pred []int
		for i := range s.pos {
			pred = append(pred, argmax(logits[i*cfg.VocabSize:(i+1)*cfg.VocabSize]))
		}
		want[s.doc][s.class].Add(pred, s.target)
	}
	for _, r := range res {
		if r.Variant != "infoscale" {
			continue
		}
		c := map[string]int{Near: 0, Far: 1}[r.Class]
		if r.Score != want[r.Doc][c] {
			t.Errorf("doc %d %s: %+v, manual %+v", r.Doc, r.Class, r.Score, want[r.Doc][c])
		}
		if r.Score.Digits != passkey.Digits*[]int{2, 3}[c] {
			t.Errorf("doc %d %s: %d digits", r.Doc, r.Class, r.Score.Digits)
		}
	}
	// At the training length there is no room beyond it: near keys only.
	res, err = Passkey(context.Background(), cfg, p, v, docs, vs[:1], PasskeyOptions{Lengths: []int{cfg.TrainLength}, Near: 1, Far: 1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Class != Near {
			t.Errorf("a %s key at the training length", r.Class)
		}
	}
	if len(res) != 3 {
		t.Errorf("%d results at n0, want 3", len(res))
	}
}

func TestPasskeyRejectsBadInput(t *testing.T) {
	cfg, p, v := passkeyModel(t)
	vs, _ := Variants(cfg, []string{"softmax"})
	ctx := context.Background()
	docs := [][]int{{5, 6, 7}}
	for name, c := range map[string]struct {
		docs [][]int
		o    PasskeyOptions
		want string
	}{
		"no keys":   {docs, PasskeyOptions{Lengths: []int{64}}, "at least one"},
		"short":     {docs, PasskeyOptions{Lengths: []int{12}, Near: 1}, "shorter than a statement"},
		"no docs":   {nil, PasskeyOptions{Lengths: []int{64}, Near: 1}, "no documents"},
		"empty doc": {[][]int{{}}, PasskeyOptions{Lengths: []int{64}, Near: 1}, "no tokens"},
		"negative":  {docs, PasskeyOptions{Lengths: []int{64}, Near: -1, Far: 2}, "at least one"},
		"huge":      {docs, PasskeyOptions{Lengths: []int{1 << 30}, Near: 1}, "memory budget"},
	} {
		if _, err := Passkey(ctx, cfg, p, v, c.docs, vs, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
	plain, _ := tokenizer.Build(slices.Values([]string{"abc"}), 1, 0)
	if _, err := Passkey(ctx, cfg, p, plain, docs, vs, PasskeyOptions{Lengths: []int{64}, Near: 1}); err == nil || !strings.Contains(err.Error(), "marker") {
		t.Errorf("vocabulary without the marker: %v", err)
	}
}
