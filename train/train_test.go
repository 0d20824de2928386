package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/tokenizer"
)

func testVocab(t *testing.T) *tokenizer.Vocab {
	t.Helper()
	v, err := tokenizer.Build(slices.Values([]string{strings.Repeat("the quick brown fox jumps over a lazy dog 0123456789 ", 3)}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMaskingStatistics(t *testing.T) {
	v := testVocab(t)
	mk, err := NewMasker(v)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const L = 66
	var selected, content, toMask, toRand, kept int
	for n := 0; n < 4000; n++ {
		seq := []int{v.CLS()}
		for i := 0; i < L-2; i++ {
			seq = append(seq, 5+rng.IntN(v.Size()-5))
		}
		seq = append(seq, v.SEP())
		orig := slices.Clone(seq)
		pos, tg := mk.mask(seq, rng, nil, nil)
		content += L - 2
		selected += len(pos)
		if len(pos) != 9 && len(pos) != 10 { // 0.15·64 = 9.6
			t.Fatalf("selected %d positions, want 9 or 10", len(pos))
		}
		sel := map[int]bool{}
		for i, p := range pos {
			if p == 0 || p == L-1 {
				t.Fatalf("special token at %d selected", p)
			}
			if sel[p] {
				t.Fatalf("position %d selected twice", p)
			}
			sel[p] = true
			if tg[i] != orig[p] {
				t.Fatalf("target %d, original token %d", tg[i], orig[p])
			}
			switch {
			case seq[p] == v.Mask():
				toMask++
			case seq[p] == orig[p]:
				kept++
			default:
				toRand++
			}
		}
		for i := range seq {
			if !sel[i] && seq[i] != orig[i] {
				t.Fatalf("unselected position %d changed", i)
			}
		}
	}
	rate := float64(selected) / float64(content)
	if math.Abs(rate-0.15) > 0.005 {
		t.Errorf("selection rate %.4f, want 0.15", rate)
	}
	// A random replacement can draw the original token (1 in ~40 here),
	// which then counts as kept.
	for _, c := range []struct {
		name string
		got  int
		want float64
	}{{"[MASK]", toMask, 0.8}, {"random", toRand, 0.1 * (1 - 1.0/float64(v.Size()-5))}, {"kept", kept, 0.1 + 0.1/float64(v.Size()-5)}} {
		share := float64(c.got) / float64(selected)
		if math.Abs(share-c.want) > 0.01 {
			t.Errorf("%s share %.4f, want %.3f", c.name, share, c.want)
		}
	}
}

func TestSequences(t *testing.T) {
	v := testVocab(t)
	docs := []corpus.Document{{ID: "a", Text: "abcdefghij"}, {ID: "b", Text: "xy z"}, {ID: "c", Text: "q"}}
	seqs, err := Sequences(docs, v, 6)
	if err != nil {
		t.Fatal(err)
	}
	// "abcdefghij" → abcd, efgh, ij; "xyz" → xyz; "q" alone is dropped.
	want := []string{"abcd", "efgh", "ij", "xyz"}
	if len(seqs) != len(want) {
		t.Fatalf("%d sequences, want %d", len(seqs), len(want))
	}
	for i, s := range seqs {
		if s[0] != v.CLS() || s[len(s)-1] != v.SEP() || v.Decode(s[1:len(s)-1]) != want[i] {
			t.Errorf("sequence %d = %q", i, v.Decode(s))
		}
	}
	if _, err := Sequences(nil, v, 6); err == nil {
		t.Error("no documents: want an error")
	}
}

func TestPoSEPositions(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const L, T = 16, 200
	seen := make([]bool, T)
	for n := 0; n < 3000; n++ {
		pos := PoSEPositions(L, T, rng)
		if len(pos) != L || pos[0] != 0 {
			t.Fatalf("positions %v", pos)
		}
		for i, p := range pos {
			if p >= T {
				t.Fatalf("position %d beyond the target length %d", p, T)
			}
			if i > 0 && p <= pos[i-1] {
				t.Fatalf("positions not increasing: %v", pos)
			}
			seen[p] = true
		}
	}
	for p, ok := range seen {
		if !ok {
			t.Fatalf("position %d of the target length never drawn", p)
		}
	}
	if got := PoSEPositions(8, 8, rng); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("no extension: %v", got)
	}
}

// tinySetup returns a small trainable configuration on the first 60000
// bytes of the embedded corpus's text (always available: no skip).
func tinySetup(t *testing.T) (gau.Config, *tokenizer.Vocab, [][]int, [][]int) {
	t.Helper()
	all, err := corpus.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, d := range all {
		if sb.Len() > 60000 {
			break
		}
		sb.WriteString(d.Text)
	}
	text := sb.String()[:60000]
	v, err := tokenizer.Build(slices.Values([]string{text}), 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = v.Size(), 16, 24, 8, 2, 16
	var docs []corpus.Document
	for i := 0; i+2000 <= len(text); i += 2000 {
		docs = append(docs, corpus.Document{Text: text[i : i+2000]})
	}
	tr, va := corpus.Split(docs, 0.8)
	trs, err := Sequences(tr, v, cfg.TrainLength)
	if err != nil {
		t.Fatal(err)
	}
	vas, err := Sequences(va, v, cfg.TrainLength)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, v, trs, vas
}

func newTinyTrainer(t *testing.T, out string, steps int, opts ...func(*Options)) *Trainer {
	cfg, v, trs, vas := tinySetup(t)
	o := DefaultOptions()
	o.Steps, o.Batch, o.EvalEvery, o.EvalSeqs, o.LR = steps, 8, 4, 32, 3e-3
	for _, f := range opts {
		f(&o)
	}
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(o.Seed, 0)))
	tr, err := New(cfg, v, p, trs, vas, o)
	if err != nil {
		t.Fatal(err)
	}
	tr.OutDir = out
	return tr
}

func weights(p *gau.Params) [][]float32 {
	var w [][]float32
	for _, n := range p.Named() {
		w = append(w, slices.Clone(n.T.Data().([]float32)))
	}
	return w
}

// Training N steps straight equals training k steps, stopping, and resuming
// from the checkpoint to N: same losses, same weights.
func TestResumeIsExact(t *testing.T) {
	const N, k = 12, 8
	straight := newTinyTrainer(t, t.TempDir(), N)
	var lossA []float64
	for i := 0; i < N; i++ {
		l, _, err := straight.Step()
		if err != nil {
			t.Fatal(err)
		}
		lossA = append(lossA, l)
	}
	dir := t.TempDir()
	first := newTinyTrainer(t, dir, N)
	first.opts.Steps = N
	for i := 0; i < k; i++ {
		if _, _, err := first.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := first.evaluate(context.Background()); err != nil { // writes last/
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(filepath.Join(dir, "last"))
	if err != nil {
		t.Fatal(err)
	}
	second := newTinyTrainer(t, dir, N)
	if err := second.Resume(ck); err != nil {
		t.Fatal(err)
	}
	if second.State.Step != k {
		t.Fatalf("resumed at step %d, want %d", second.State.Step, k)
	}
	for i := k; i < N; i++ {
		l, _, err := second.Step()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(l-lossA[i]) > 1e-6 {
			t.Errorf("step %d: resumed loss %.9f, straight %.9f", i+1, l, lossA[i])
		}
	}
	wa, wb := weights(straight.Params), weights(second.Params)
	for i := range wa {
		if !slices.Equal(wa[i], wb[i]) {
			t.Errorf("parameter %d differs after resuming", i)
		}
	}
	if lossA[N-1] >= lossA[0] {
		t.Errorf("loss did not decrease over %d steps: %v → %v", N, lossA[0], lossA[N-1])
	}
}

// A NaN stops training with an error naming the step; the last good
// checkpoint stays intact and resumable.
func TestNaNStopsTrainingAndKeepsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	tr := newTinyTrainer(t, dir, 12)
	tr.Progress = nil
	for i := 0; i < 4; i++ {
		if _, _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.evaluate(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, "last", checkpoint.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	tr.Params.Layers[0].IDense.Data().([]float32)[3] = float32(math.NaN())
	err = tr.Run(context.Background())
	if !errors.Is(err, ErrNonFinite) || !strings.Contains(err.Error(), "step 5") {
		t.Fatalf("got %v, want a non-finite error naming step 5", err)
	}
	after, err := os.ReadFile(filepath.Join(dir, "last", checkpoint.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, after) {
		t.Fatal("the last good checkpoint changed")
	}
	ck, err := checkpoint.Load(filepath.Join(dir, "last"))
	if err != nil {
		t.Fatal(err)
	}
	fresh := newTinyTrainer(t, dir, 12)
	if err := fresh.Resume(ck); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fresh.Step(); err != nil {
		t.Fatalf("resuming the good checkpoint: %v", err)
	}
}

// Training on the CPU with bfloat16 matrix products (backend precision
// bf16) follows the float32 run closely for a few steps: the losses agree
// to 2e-2 relative (bfloat16 keeps 8 significant bits; the tiny model's
// sums are short) and differ somewhere (the rounding really happens).
func TestTrainBF16OnCPU(t *testing.T) {
	be, err := backend.Open("cpu", "bf16")
	if err != nil {
		t.Fatal(err)
	}
	f32, b16 := newTinyTrainer(t, "", 4), newTinyTrainer(t, "", 4)
	if err := b16.Use(be); err != nil {
		t.Fatal(err)
	}
	differ := false
	for i := range 4 {
		lf, _, err := f32.Step()
		if err != nil {
			t.Fatal(err)
		}
		lb, _, err := b16.Step()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(lf-lb) > 2e-2*math.Abs(lf) {
			t.Errorf("step %d: loss %v in bf16, %v in float32", i+1, lb, lf)
		}
		differ = differ || lf != lb
	}
	if !differ {
		t.Error("bf16 losses equal the float32 ones exactly: no rounding applied")
	}
}
