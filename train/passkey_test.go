package train

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/passkey"
	"github.com/infoscale/gaualpha/pipeline"
	"github.com/infoscale/gaualpha/tokenizer"
)

// passkeyTrainer is a trainer on random sequences of 32 tokens over a
// vocabulary with the probe's marker and digits.
func passkeyTrainer(t *testing.T, o Options) (*Trainer, *tokenizer.Vocab) {
	tr, v, _ := passkeyTrainerSeqs(t, o)
	return tr, v
}

// passkeyTrainerSeqs is passkeyTrainer with its validation sequences.
func passkeyTrainerSeqs(t *testing.T, o Options) (*Trainer, *tokenizer.Vocab, [][]int) {
	t.Helper()
	v, err := tokenizer.Build(slices.Values([]string{"#KEY=0123456789abcdefghijklmnopqrstuvwxyz"}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = v.Size(), 16, 24, 8, 1, 32
	rng := rand.New(rand.NewPCG(1, 2))
	var seqs [][]int
	for range 64 {
		s := []int{v.CLS()}
		for range 30 {
			s = append(s, 5+rng.IntN(v.Size()-5))
		}
		seqs = append(seqs, append(s, v.SEP()))
	}
	tr, err := New(cfg, v, gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(3, 4))), seqs[:48], seqs[48:], o)
	if err != nil {
		t.Fatal(err)
	}
	return tr, v, seqs[48:]
}

// One sequence in K of the run is a passkey sample scoring only its key's
// digits; the batch is a function of the step; the other sequences are
// masked as without samples; validation batches hold none.
func TestPasskeySamples(t *testing.T) {
	o := DefaultOptions()
	o.Steps, o.Batch, o.PasskeyEvery = 4, 6, 4
	tr, v := passkeyTrainer(t, o)
	o.PasskeyEvery = 0
	plain, _ := passkeyTrainer(t, o)
	marker := v.Encode(passkey.Marker)
	per := PerSequence(30)
	for step := range 3 {
		bt := tr.batch(step)
		ids, sel, tgt := slices.Clone(bt.IDs), slices.Clone(bt.Select), slices.Clone(bt.Targets)
		again := tr.batch(step)
		if !slices.Equal(ids, again.IDs) || !slices.Equal(sel, again.Select) || !slices.Equal(tgt, again.Targets) {
			t.Fatalf("step %d: the batch differs when built again", step)
		}
		pb := plain.batch(step)
		sampled := false
		for b := range o.Batch {
			row := ids[b*32 : (b+1)*32]
			g := step*o.Batch + b
			isSample := g%4 == 3
			var stmt, query int = -1, -1
			for i := 0; i+len(marker) <= len(row); i++ {
				if slices.Equal(row[i:i+len(marker)], marker) {
					if stmt < 0 {
						stmt = i
					} else {
						query = i
					}
				}
			}
			rs, rt := sel[b*per:(b+1)*per], tgt[b*per:(b+1)*per]
			if !isSample {
				// Masked exactly as without samples where the step's
				// generator has made the same draws: before its first
				// sample.
				if !sampled && (!slices.Equal(row, pb.IDs[b*32:(b+1)*32]) || !slices.Equal(rs, pb.Select[b*per:(b+1)*per])) {
					t.Errorf("step %d, sequence %d: masked otherwise than without samples", step, b)
				}
				continue
			}
			sampled = true
			if stmt < 0 || query < 0 {
				t.Fatalf("step %d, sequence %d (index %d): no statement and question in %v", step, b, g, row)
			}
			for i := range passkey.Digits {
				if rs[i] != b*32+query+len(marker)+i || row[query+len(marker)+i] != v.Mask() || rt[i] != row[stmt+len(marker)+i] {
					t.Fatalf("step %d, sequence %d: digit %d selected at %d (target %d)", step, b, i, rs[i], rt[i])
				}
			}
			for i := passkey.Digits; i < per; i++ {
				if rt[i] != pipeline.IgnoreTarget {
					t.Errorf("step %d, sequence %d: head row %d scores %d besides the key", step, b, i, rt[i])
				}
			}
		}
	}
	for _, vb := range tr.valBatch {
		for b := 0; b*32 < len(vb.IDs); b++ {
			row := vb.IDs[b*32 : (b+1)*32]
			for i := 0; i+len(marker) <= len(row); i++ {
				if slices.Equal(row[i:i+len(marker)], marker) {
					t.Fatal("a validation batch holds a passkey sample")
				}
			}
		}
	}
	// A vocabulary without the marker cannot train with samples.
	cfg, bad, trs, vas := tinySetup(t)
	o.PasskeyEvery = 2
	if _, err := New(cfg, bad, gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 1))), trs, vas, o); err == nil || !strings.Contains(err.Error(), "passkey") {
		if _, ok := bad.ID("#"); !ok {
			t.Errorf("a vocabulary without the marker: %v", err)
		}
	}
	o.PasskeyEvery = -1
	if err := o.Validate(); err == nil {
		t.Error("a negative passkey share accepted")
	}
}

// Validation takes EvalSeqs sequences evenly spaced over all of them, and
// KeepValidations keeps every validation's weights.
func TestValidationSpacingAndKept(t *testing.T) {
	o := DefaultOptions()
	o.Steps, o.Batch, o.EvalSeqs, o.EvalEvery, o.KeepValidations = 4, 2, 4, 2, true
	tr, _, val := passkeyTrainerSeqs(t, o)
	// 16 validation sequences, 4 kept: numbers 2, 6, 10, 14, two batches
	// of 2; their unmasked positions are the sequences'.
	var got [][]int
	for _, vb := range tr.valBatch {
		masked := map[int]bool{}
		for _, p := range vb.Select {
			masked[p] = true
		}
		for b := 0; b*32 < len(vb.IDs); b++ {
			row := slices.Clone(vb.IDs[b*32 : (b+1)*32])
			for i := range row {
				if masked[b*32+i] {
					row[i] = -1
				}
			}
			got = append(got, row)
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d validation sequences, want 4", len(got))
	}
	for k, want := range []int{2, 6, 10, 14} {
		for i, id := range got[k] {
			if id >= 0 && id != val[want][i] {
				t.Fatalf("validation sequence %d is not sequence %d of the validation set", k, want)
			}
		}
	}
	dir := t.TempDir()
	tr.OutDir = dir
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, step := range []int{2, 4} {
		ck, err := checkpoint.Load(ValCheckpointDir(dir, step))
		if err != nil || ck.State == nil || ck.State.Step != step {
			t.Errorf("validation checkpoint of step %d: %v", step, err)
		}
	}
	if _, err := os.Stat(filepath.Join(ValCheckpointDir(dir, 4), checkpoint.OptimizerFile)); err == nil {
		t.Error("a validation checkpoint holds the optimizer")
	}
}

// Every sequence of the first PasskeyFirst steps is a passkey sample, one
// in PasskeyEvery after them.
func TestPasskeyFirstSteps(t *testing.T) {
	o := DefaultOptions()
	o.Steps, o.Batch, o.PasskeyEvery, o.PasskeyFirst = 4, 6, 4, 2
	tr, v := passkeyTrainer(t, o)
	marker := v.Encode(passkey.Marker)
	for step, want := range []int{6, 6, 1, 2} { // indices 12..17: 15; 18..23: 19, 23
		bt := tr.batch(step)
		n := 0
		for b := range o.Batch {
			row := bt.IDs[b*32 : (b+1)*32]
			for i := 0; i+len(marker) <= len(row); i++ {
				if slices.Equal(row[i:i+len(marker)], marker) {
					n++
					break
				}
			}
		}
		if n != want {
			t.Errorf("step %d: %d passkey samples, want %d", step, n, want)
		}
	}
	o.PasskeyEvery = 0
	if err := o.Validate(); err == nil {
		t.Error("a passkey warm-up without a share accepted")
	}
}
