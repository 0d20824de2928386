//go:build gpu || gpuemu

package train

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/gpu/graphexec"
	"github.com/infoscale/gaualpha/tokenizer"
)

// trainPath is one way of running the attention in a training step that
// the timings compare: the backend's attention path (backend.Options) and
// use, which sets anything else on a trainer (nil: nothing).
type trainPath struct {
	name      string
	attention string
	use       func(*Trainer) error
}

// trainPaths are the paths TestTimeTrainStep times: the device executor's
// choice by measurement (auto), its fused attention and its materialised
// one.
var trainPaths = []trainPath{{name: "auto", attention: backend.AttentionAuto},
	{name: "fused", attention: backend.AttentionFused}, {name: "materialized", attention: backend.AttentionMaterialized}}

// TestTimeTrainStep times a paper-size training step on the device (6
// layers, hidden 768, intermediate 1536, key 128, vocabulary 12000; the
// paper's training shape, batch 8 at L = 512; dropout 0.1, AdamW, clipping): Trainer.Step as cmd/train
// runs it (host masking of the batch included), CUDA events around each
// step after warm-up, median of many; for every path of trainPaths, in
// float32 and with Precision "bf16". It prints a GAUALPHA_TIMING line per
// path and precision for scripts/gpu-check.sh and runs only with
// GAUALPHA_GPU_TIMING set, on a GPU.
func TestTimeTrainStep(t *testing.T) {
	if os.Getenv("GAUALPHA_GPU_TIMING") == "" {
		t.Skip("timing: set GAUALPHA_GPU_TIMING=1 (scripts/gpu-check.sh does)")
	}
	needDevice(t)
	const B, L, warm, runs = 8, 512, 3, 20
	cfg := gau.PaperConfig()
	cfg.TrainLength = L
	// A vocabulary of 12000 tokens: the special tokens and CJK characters.
	var sb strings.Builder
	for r := rune(0x4e00); r < 0x4e00+rune(cfg.VocabSize-tokenizer.NumSpecial); r++ {
		sb.WriteRune(r)
	}
	v, err := tokenizer.Build(slices.Values([]string{sb.String()}), 1, cfg.VocabSize)
	if err != nil {
		t.Fatal(err)
	}
	if v.Size() != cfg.VocabSize {
		t.Fatalf("vocabulary of %d tokens, want %d", v.Size(), cfg.VocabSize)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	seqs := make([][]int, 4*B)
	for i := range seqs {
		s := []int{v.CLS()}
		for len(s) < L-1 {
			s = append(s, tokenizer.NumSpecial+rng.IntN(v.Size()-tokenizer.NumSpecial))
		}
		seqs[i] = append(s, v.SEP())
	}
	for _, path := range trainPaths {
		for _, prec := range []string{"f32", "bf16"} {
			timePath(t, cfg, v, seqs, path, prec, B, L, warm, runs)
		}
	}
}

// timePath builds a trainer for one path and precision and times its steps.
func timePath(t *testing.T, cfg gau.Config, v *tokenizer.Vocab, seqs [][]int, path trainPath, prec string, B, L, warm, runs int) {
	dev, _ := graphexec.Shared()
	o := DefaultOptions()
	o.Steps, o.Batch, o.EvalSeqs = 1000, B, B
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(3, 4)))
	tr, err := New(cfg, v, p, seqs[B:], seqs[:B], o)
	if err != nil {
		t.Fatal(err)
	}
	if path.use != nil {
		if err := path.use(tr); err != nil {
			t.Fatalf("path %s: %v", path.name, err)
		}
	}
	be, err := backend.OpenOptions(backend.Options{Device: "cuda", Precision: prec, Attention: path.attention})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if err := tr.Use(be); err != nil {
		t.Fatal(err)
	}
	if dev.Info().Backend == "emulator" { // the set-up is checked; the steps would take hours
		t.Skip("the emulator does not time kernels")
	}
	timeSteps(t, tr, path.name, prec, B, L, warm, runs)
	if err := tr.Close(); err != nil { // frees the device's copy
		t.Fatal(err)
	}
}

// timeSteps times runs steps of tr after warm ones and prints the median.
func timeSteps(t *testing.T, tr *Trainer, path, prec string, B, L, warm, runs int) {
	dev, _ := graphexec.Shared()
	tm, err := dev.NewTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer tm.Close()
	var ms []float64
	var loss float64
	for i := 0; i < warm+runs; i++ {
		if err := tm.Start(); err != nil {
			t.Fatal(err)
		}
		if loss, _, err = tr.Step(); err != nil {
			t.Fatal(err)
		}
		x, err := tm.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if i >= warm {
			ms = append(ms, x)
		}
	}
	sort.Float64s(ms)
	med := ms[len(ms)/2]
	if len(ms)%2 == 0 {
		med = (ms[len(ms)/2-1] + ms[len(ms)/2]) / 2
	}
	tok := float64(B*L) / (med * 1e-3)
	impl := "go-cuda"
	if prec == "bf16" {
		impl = "go-cuda-bf16"
	}
	b, _ := json.Marshal(map[string]any{"case": "train_paper", "impl": impl, "path": path, "precision": prec, "B": B, "L": L,
		"runs": runs, "ms": med, "tokens_per_s": tok, "loss": loss})
	fmt.Printf("GAUALPHA_TIMING %s\n", b)
	t.Logf("paper-size step (%s, %s), batch %d × %d: %.2f ms (median of %d), %.0f tokens/s, loss %.4f", path, prec, B, L, med, runs, tok, loss)
}
