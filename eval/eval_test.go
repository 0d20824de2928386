package eval

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/graph"
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

func tinyModel(t *testing.T) (gau.Config, *gau.Params, *tokenizer.Vocab) {
	t.Helper()
	v, err := tokenizer.Build(slices.Values([]string{"abcdefghijklmnopqrstuvwxyz"}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = v.Size(), 16, 24, 8, 2, 16
	cfg.InitializerRange = 0.5 // large weights: attention is far from uniform
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
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
	m, err := gau.Build(cfg, p, gau.Options{Shape: gau.Shape{B: 1, L: L, M: 1}, Policy: vs[0].Policy})
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
			if err := m.Run(mach, &gau.Batch{IDs: ids, Select: []int{pos}}); err != nil {
				t.Fatal(err)
			}
			want.Add(mach.Value(m.Logits).Data().([]float32), []int{target}, cfg.VocabSize)
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
	if _, err := ParseLengths("128,256,128"); err == nil || !strings.Contains(err.Error(), "128 appears twice") {
		t.Errorf("duplicate length: %v", err)
	}
	if _, err := Variants(cfg, []string{"sparsemax"}); err == nil {
		t.Error("unknown normalisation accepted")
	}
	if _, err := Variants(cfg, []string{"softmax", "infoscale", " softmax"}); err == nil || !strings.Contains(err.Error(), `"softmax" appears twice`) {
		t.Errorf("duplicate normalisation: %v", err)
	}
	bad := cfg
	bad.CosScale = -1
	if _, err := Variants(bad, []string{"softmax"}); err == nil {
		t.Error("negative CosScale accepted")
	}
}

// KeepScores records every scored position: under the paper protocol each
// score is what a hand-built single-mask forward pass gives at that
// position; under both protocols the scores are the scored positions in
// (document, position) order and sum to the result's tally, which is the
// tally of the same evaluation without scores.
func TestKeepScores(t *testing.T) {
	cfg, p, v := tinyModel(t)
	docs := randDocs(rand.New(rand.NewPCG(7, 8)), v, 3, 40)
	vs, err := Variants(cfg, []string{"softmax", "infoscale"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name string
		o    Options
	}{
		{"paper", Options{Lengths: []int{24, 64}, Protocol: Paper, Positions: 6, MaxTokens: 100}},
		{"fast", Options{Lengths: []int{32, 128}, Protocol: Fast, Stride: 8, Offsets: 2, MinPerDoc: 4, MaxTokens: 200}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plain, err := Evaluate(ctx, cfg, p, v, docs, vs, c.o)
			if err != nil {
				t.Fatal(err)
			}
			c.o.KeepScores = true
			rep, err := Evaluate(ctx, cfg, p, v, docs, vs, c.o)
			if err != nil {
				t.Fatal(err)
			}
			for i, res := range rep.Results {
				if len(plain.Results[i].Scores) != 0 {
					t.Fatalf("scores kept without KeepScores")
				}
				if res.Tally != plain.Results[i].Tally {
					t.Errorf("%s L=%d: tally with scores %+v, without %+v", res.Variant, res.Length, res.Tally, plain.Results[i].Tally)
				}
				o := c.o
				o.defaults()
				var want [][2]int // (doc, pos) of every job's masked positions
				for _, j := range jobs(docs, res.Length, o) {
					for _, q := range j.pos {
						want = append(want, [2]int{j.doc, q})
					}
				}
				slices.SortFunc(want, func(a, b [2]int) int { return (a[0]-b[0])*1_000_000 + a[1] - b[1] })
				if len(res.Scores) != len(want) {
					t.Fatalf("%s L=%d: %d scores, %d scored positions", res.Variant, res.Length, len(res.Scores), len(want))
				}
				var sum metrics.Tally
				for k, s := range res.Scores {
					if s.Doc != want[k][0] || s.Pos != want[k][1] {
						t.Fatalf("%s L=%d: score %d at (doc %d, pos %d), want (%d, %d)", res.Variant, res.Length, k, s.Doc, s.Pos, want[k][0], want[k][1])
					}
					if target := Tile(docs[s.Doc], res.Length)[s.Pos]; s.Correct != (s.Pred == target) {
						t.Errorf("score %+v: correct disagrees with predicted %d vs target %d", s, s.Pred, target)
					}
					sum.Count++
					if s.Correct {
						sum.Correct++
					}
					sum.SumLoss += s.Loss
				}
				// Summed in (document, position) order, not the passes' order.
				if sum.Count != res.Tally.Count || sum.Correct != res.Tally.Correct || math.Abs(sum.SumLoss-res.Tally.SumLoss) > 1e-12*res.Tally.SumLoss {
					t.Errorf("%s L=%d: scores sum to %+v, tally %+v", res.Variant, res.Length, sum, res.Tally)
				}
			}
			if c.o.Protocol != Paper {
				return
			}
			// Each score against a single-mask forward pass of its own, with
			// the argmax and the cross-entropy recomputed in float64 here.
			for _, res := range rep.Results[:1] {
				L := res.Length
				m, err := gau.Build(cfg, p, gau.Options{Shape: gau.Shape{B: 1, L: L, M: 1}, Policy: vs[0].Policy})
				if err != nil {
					t.Fatal(err)
				}
				mach, err := graph.NewMachine(m.Graph, m.Outputs()...)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range res.Scores {
					ids := Tile(docs[s.Doc], L)
					target := ids[s.Pos]
					ids[s.Pos] = v.Mask()
					if err := m.Run(mach, &gau.Batch{IDs: ids, Select: []int{s.Pos}}); err != nil {
						t.Fatal(err)
					}
					logits := mach.Value(m.Logits).Data().([]float32)
					best, mx, z := 0, math.Inf(-1), 0.0
					for i, x := range logits {
						if float64(x) > mx {
							best, mx = i, float64(x)
						}
					}
					for _, x := range logits {
						z += math.Exp(float64(x) - mx)
					}
					loss := mx + math.Log(z) - float64(logits[target])
					if s.Pred != best || math.Abs(s.Loss-loss) > 1e-4 {
						t.Errorf("L=%d doc %d pos %d: pred %d loss %.6f, single-mask pass %d %.6f", L, s.Doc, s.Pos, s.Pred, s.Loss, best, loss)
					}
				}
			}
		})
	}
}

// An evaluation shared among 2, 3 and 5 ranks returns, on every rank, the
// report one process returns (the seconds aside), scores and tallies
// equal to the last bit; each rank runs a contiguous share of the batches.
func TestEvaluateSharded(t *testing.T) {
	cfg, p, v := tinyModel(t)
	docs := randDocs(rand.New(rand.NewPCG(9, 10)), v, 5, 40)
	vs, err := Variants(cfg, []string{"softmax", "infoscale"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, o := range []Options{
		{Lengths: []int{24, 64}, Protocol: Paper, Positions: 6, MaxTokens: 100, KeepScores: true},
		{Lengths: []int{32, 128}, Protocol: Fast, Stride: 8, Offsets: 2, MinPerDoc: 4, MaxTokens: 200},
	} {
		one, err := Evaluate(ctx, cfg, p, v, docs, vs, o)
		if err != nil {
			t.Fatal(err)
		}
		strip := func(r *Report) *Report {
			c := *r
			c.Seconds = 0
			c.Results = slices.Clone(r.Results)
			for i := range c.Results {
				c.Results[i].Seconds = 0
			}
			return &c
		}
		want, err := strip(one).JSON()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{2, 3, 5} {
			var mu sync.Mutex
			ran := map[int][2]int{}
			err := collective.RunLocal(n, func(c collective.Comm) error {
				o := o
				o.Comm = c
				rep, err := Evaluate(ctx, cfg, p, v, docs, vs, o)
				if err != nil {
					return err
				}
				got, err := strip(rep).JSON()
				if err != nil {
					return err
				}
				if !bytes.Equal(got, want) {
					return fmt.Errorf("%s protocol: the report differs from one process's:\n%s\nwant\n%s", o.Protocol, got, want)
				}
				o.defaults()
				lo, hi := assign(plan(cfg, docs, vs, o), c.Rank(), n)
				mu.Lock()
				ran[c.Rank()] = [2]int{lo, hi}
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Fatalf("%d ranks: %v", n, err)
			}
			units := len(plan(cfg, docs, vs, func() Options { o := o; o.defaults(); return o }()))
			next := 0
			for r := range n {
				if ran[r][0] != next && ran[r][0] != ran[r][1] {
					t.Errorf("%d ranks: rank %d runs units [%d, %d), want them to start at %d", n, r, ran[r][0], ran[r][1], next)
				}
				if ran[r][1] > ran[r][0] {
					next = ran[r][1]
				}
			}
			if next != units {
				t.Errorf("%d ranks: the shares cover %d of %d units", n, next, units)
			}
		}
	}
}

// Units are shared by cost (a unit goes to the rank its middle falls in):
// the long lengths' few costly batches against the short lengths' many.
func TestAssign(t *testing.T) {
	us := []unit{{cost: 1}, {cost: 1}, {cost: 1}, {cost: 1}, {cost: 4}, {cost: 4}}
	for _, c := range []struct {
		size int
		want [][2]int
	}{
		{1, [][2]int{{0, 6}}},
		{2, [][2]int{{0, 4}, {4, 6}}},
		{3, [][2]int{{0, 4}, {4, 5}, {5, 6}}},
		{8, [][2]int{{0, 1}, {1, 3}, {3, 4}, {0, 0}, {4, 5}, {0, 0}, {5, 6}, {0, 0}}},
	} {
		for r, w := range c.want {
			if lo, hi := assign(us, r, c.size); lo != w[0] || hi != w[1] {
				t.Errorf("size %d rank %d: [%d, %d), want [%d, %d)", c.size, r, lo, hi, w[0], w[1])
			}
		}
	}
}

// At a length that is not a multiple of the stride, the fast protocol's
// passes mask different numbers of positions: all are scored.
func TestFastProtocolUnevenPasses(t *testing.T) {
	cfg, p, v := tinyModel(t)
	docs := randDocs(rand.New(rand.NewPCG(7, 8)), v, 2, 100)
	vs, err := Variants(cfg, []string{"softmax"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(context.Background(), cfg, p, v, docs, vs, Options{Lengths: []int{48}, Protocol: Fast, Offsets: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Every position of 48 is scored once (at least 128 per document
	// asks for every offset of the stride).
	if got := rep.Results[0].Tally.Count; got != 2*48 {
		t.Errorf("%d positions scored, want 96", got)
	}
}
