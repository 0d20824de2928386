package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/layers"
	"github.com/infoscale/gaualpha/metrics"
	"github.com/infoscale/gaualpha/tokenizer"
)

func TestTile(t *testing.T) {
	if got := Tile([]int{1, 2, 3}, 7); !slices.Equal(got, []int{1, 2, 3, 1, 2, 3, 1}) {
		t.Errorf("tile: %v", got)
	}
	if got := Tile([]int{1, 2, 3, 4, 5}, 3); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("cut: %v", got)
	}
}

func TestJobs(t *testing.T) {
	docs := [][]int{{5, 6, 7}, {8, 9}}
	paper := jobs(docs, 64, Options{Protocol: Paper})
	if len(paper) != 128 {
		t.Fatalf("paper protocol: %d jobs, want 2 documents × 64 positions", len(paper))
	}
	for k, j := range paper {
		if len(j.pos) != 1 || j.pos[0] != k%64 {
			t.Fatalf("job %d masks %v, want [%d]", k, j.pos, k%64)
		}
	}
	sub := jobs(docs[:1], 64, Options{Protocol: Paper, Positions: 4})
	var got []int
	for _, j := range sub {
		got = append(got, j.pos[0])
	}
	if !slices.Equal(got, []int{8, 24, 40, 56}) {
		t.Errorf("4 positions of 64: %v", got)
	}
	o := Options{Protocol: Fast}
	o.defaults()
	for _, L := range []int{64, 128, 1024, 4096} {
		js := jobs(docs[:1], L, o)
		seen := map[int]bool{}
		for _, j := range js {
			for i, p := range j.pos {
				if seen[p] {
					t.Fatalf("L=%d: position %d scored twice", L, p)
				}
				seen[p] = true
				if i > 0 && p-j.pos[i-1] != 32 {
					t.Fatalf("L=%d: masked positions %v not 32 apart", L, j.pos)
				}
			}
		}
		want := min(L, max(128, 4*L/32))
		if len(seen) != want {
			t.Errorf("L=%d: %d positions scored, want %d", L, len(seen), want)
		}
	}
}

func tinyModel(t *testing.T) (layers.Config, *layers.Params, *tokenizer.Vocab) {
	t.Helper()
	v, err := tokenizer.Build(slices.Values([]string{"abcdefghijklmnopqrstuvwxyz"}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := layers.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = v.Size(), 16, 24, 8, 2, 16
	cfg.InitializerRange = 0.5 // large weights: attention is far from uniform
	p := layers.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	return cfg, p, v
}

func randDocs(rng *rand.Rand, v *tokenizer.Vocab, n, length int) [][]int {
	docs := make([][]int, n)
	for i := range docs {
		for j := 0; j < length; j++ {
			docs[i] = append(docs[i], 5+rng.IntN(v.Size()-5))
		}
	}
	return docs
}

// The paper protocol scores exactly what a hand-built single-mask forward
// pass predicts.
func TestPaperProtocolMatchesManualForward(t *testing.T) {
	cfg, p, v := tinyModel(t)
	rng := rand.New(rand.NewPCG(3, 4))
	docs := randDocs(rng, v, 2, 50)
	vs, err := Variants(cfg, []string{"infoscale"})
	if err != nil {
		t.Fatal(err)
	}
	const L = 40
	rep, err := Evaluate(context.Background(), cfg, p, v, docs, vs, Options{Lengths: []int{L}, Protocol: Paper, Positions: 5, MaxTokens: 3 * L})
	if err != nil {
		t.Fatal(err)
	}
	var want metrics.Tally
	m, err := layers.Build(cfg, p, layers.Options{Shape: layers.Shape{B: 1, L: L, M: 1}, Policy: vs[0].Policy})
	if err != nil {
		t.Fatal(err)
	}
	mach, err := graph.NewMachine(m.Graph, m.Outputs()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		for k := 0; k < 5; k++ {
			pos := (2*k + 1) * L / 10
			ids := slices.Clone(d[:L])
			target := ids[pos]
			ids[pos] = v.Mask()
			if err := m.Run(mach, &layers.Batch{IDs: ids, Select: []int{pos}}); err != nil {
				t.Fatal(err)
			}
			want.Add(graph.Floats32(mach.Value(m.Logits)), []int{target}, cfg.VocabSize)
		}
	}
	got := rep.Results[0].Tally
	if got.Count != want.Count || got.Correct != want.Correct || math.Abs(got.SumLoss-want.SumLoss) > 1e-4 {
		t.Errorf("protocol tally %+v, manual %+v", got, want)
	}
}

// InfoScale's factor is 1 at n = n0, so at the training length it must give
// exactly the softmax scores; beyond it, it must differ.
func TestInfoScaleEqualsSoftmaxAtTrainingLength(t *testing.T) {
	cfg, p, v := tinyModel(t)
	docs := randDocs(rand.New(rand.NewPCG(5, 6)), v, 3, 100)
	vs, err := Variants(cfg, []string{"softmax", "infoscale"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(context.Background(), cfg, p, v, docs, vs, Options{Lengths: []int{cfg.TrainLength, 4 * cfg.TrainLength}})
	if err != nil {
		t.Fatal(err)
	}
	s0, _ := rep.Get("softmax", cfg.TrainLength)
	i0, _ := rep.Get("infoscale", cfg.TrainLength)
	if s0.Tally != i0.Tally {
		t.Errorf("at n0: softmax %+v, infoscale %+v", s0.Tally, i0.Tally)
	}
	s1, _ := rep.Get("softmax", 4*cfg.TrainLength)
	i1, _ := rep.Get("infoscale", 4*cfg.TrainLength)
	if s1.Tally.SumLoss == i1.Tally.SumLoss {
		t.Error("at 4·n0 InfoScale changed nothing")
	}
	md := rep.Markdown()
	if !strings.Contains(md, "| 64 | 4x |") || !strings.Contains(md, "infoscale acc") {
		t.Errorf("markdown table:\n%s", md)
	}
	if _, err := rep.JSON(); err != nil {
		t.Error(err)
	}
}

func TestEvaluateRejectsBadInput(t *testing.T) {
	cfg, p, v := tinyModel(t)
	vs, _ := Variants(cfg, []string{"softmax"})
	ctx := context.Background()
	docs := [][]int{{5, 6, 7}}
	if _, err := Evaluate(ctx, cfg, p, v, docs, vs, Options{Lengths: []int{1 << 30}}); err == nil || !strings.Contains(err.Error(), "memory budget") {
		t.Errorf("huge length: %v", err)
	}
	if _, err := Evaluate(ctx, cfg, p, v, nil, vs, Options{Lengths: []int{32}}); err == nil {
		t.Error("no documents accepted")
	}
	if _, err := Evaluate(ctx, cfg, p, v, [][]int{{}}, vs, Options{Lengths: []int{32}}); err == nil {
		t.Error("empty document accepted")
	}
	if _, err := ParseLengths("128,x"); err == nil {
		t.Error("bad length list accepted")
	}
	if ls, err := ParseLengths("128, 256,"); err != nil || !slices.Equal(ls, []int{128, 256}) {
		t.Errorf("ParseLengths: %v %v", ls, err)
	}
	if _, err := Variants(cfg, []string{"sparsemax"}); err == nil {
		t.Error("unknown normalisation accepted")
	}
	bad := cfg
	bad.CosScale = -1
	if _, err := Variants(bad, []string{"softmax"}); err == nil {
		t.Error("negative CosScale accepted")
	}
}
