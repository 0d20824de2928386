//go:build gpu || gpuemu

package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/gpu/graphexec"
	"github.com/infoscale/gaualpha/tokenizer"
)

// sweepTiming is the paper protocol timed on a sample of positions per
// length, and the time of the full protocol it implies.
type sweepTiming struct {
	Lengths  []int     // the evaluation lengths
	Seconds  []float64 // wall time of each length's sample (Evaluate's own clock)
	Estimate float64   // Σ over lengths of Seconds × (docs·L / positions)
}

// timePaperSweep runs the paper protocol of one variant (InfoScale) on one
// document at every length, scoring `positions` positions per length, and
// extrapolates to `docs` documents with every position scored: the
// protocol's cost is one masked copy per position, batched the same way
// whatever the number of positions, so the time is linear in it.
func timePaperSweep(t *testing.T, cfg gau.Config, p *gau.Params, v *tokenizer.Vocab, doc []int, positions, docs int, precision, path string) sweepTiming {
	t.Helper()
	vs, err := Variants(cfg, []string{"infoscale"})
	if err != nil {
		t.Fatal(err)
	}
	ls := DefaultLengths(cfg.TrainLength)
	be, err := backend.OpenOptions(backend.Options{Device: "cuda", Precision: precision, Attention: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	o := Options{Lengths: ls, Protocol: Paper, Positions: positions, Backend: be}
	// Warm-up: the first length once (modules loaded, buffers pooled).
	warm := o
	warm.Lengths = ls[:1]
	if _, err := Evaluate(context.Background(), cfg, p, v, [][]int{doc}, vs, warm); err != nil {
		t.Fatal(err)
	}
	rep, err := Evaluate(context.Background(), cfg, p, v, [][]int{doc}, vs, o)
	if err != nil {
		t.Fatal(err)
	}
	st := sweepTiming{Lengths: ls}
	for _, L := range ls {
		r, ok := rep.Get(vs[0].Name, L)
		if !ok || r.Tally.Count != min(positions, L) {
			t.Fatalf("length %d: result %+v, want %d scored positions", L, r, min(positions, L))
		}
		st.Seconds = append(st.Seconds, r.Seconds)
		st.Estimate += r.Seconds * float64(docs*L) / float64(min(positions, L))
	}
	return st
}

// TestTimePaperSweep estimates the paper protocol's full sweep (InfoScale,
// 10 documents, 2x..64x of n0 = 64, every position scored) for the
// paper-size model (6 layers, 768/1536/128, vocabulary 12000) on the device,
// in float32 and with bf16 inputs, from 64 positions per length. It prints
// GAUALPHA_TIMING lines for scripts/gpu-check.sh, one per attention path
// (fused and materialized) and precision, and runs only with
// GAUALPHA_GPU_TIMING set; on the emulator it runs the same code on a tiny
// model (nothing timed).
func TestTimePaperSweep(t *testing.T) {
	if os.Getenv("GAUALPHA_GPU_TIMING") == "" {
		t.Skip("timing: set GAUALPHA_GPU_TIMING=1 (scripts/gpu-check.sh does)")
	}
	if err := gpu.Available(); err != nil {
		t.Skipf("no GPU to test on: %v", err)
	}
	dev, err := graphexec.Shared()
	if err != nil {
		t.Fatalf("a GPU is present but cannot be opened: %v", err)
	}
	const docs = 10
	positions := 64
	cfg := gau.PaperConfig()
	cfg.TrainLength = 64
	if dev.Info().Backend == "emulator" { // the code path on a tiny model; the paper size would take hours
		cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.VocabSize = 16, 24, 8, 1, 40
		cfg.TrainLength, positions = 8, 8
	}
	chars := make([]rune, cfg.VocabSize-tokenizer.NumSpecial)
	for i := range chars {
		chars[i] = 0x4e00 + rune(i)
	}
	v, err := tokenizer.Build(slices.Values([]string{string(chars)}), 1, cfg.VocabSize)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	doc := make([]int, 64*cfg.TrainLength)
	for i := range doc {
		doc[i] = tokenizer.NumSpecial + rng.IntN(v.Size()-tokenizer.NumSpecial)
	}
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(3, 4)))
	for _, path := range []string{backend.AttentionFused, backend.AttentionMaterialized} {
		for _, prec := range []string{"f32", "bf16"} {
			timeSweep(t, dev, cfg, p, v, doc, positions, docs, prec, path)
		}
	}
}

// timeSweep times the sweep on one path and precision and prints its line.
func timeSweep(t *testing.T, dev *gpu.Device, cfg gau.Config, p *gau.Params, v *tokenizer.Vocab, doc []int, positions, docs int, prec, path string) {
	st := timePaperSweep(t, cfg, p, v, doc, positions, docs, prec, path)
	if dev.Info().Backend == "emulator" {
		t.Logf("%s, %s: emulator, code path only (%d lengths)", path, prec, len(st.Lengths))
		return
	}
	impl := "go-cuda"
	if prec == "bf16" {
		impl = "go-cuda-bf16"
	}
	b, _ := json.Marshal(map[string]any{"case": "paper_sweep", "impl": impl, "path": path, "precision": prec, "positions": positions, "docs": docs,
		"lengths": st.Lengths, "seconds": st.Seconds, "estimate_s": st.Estimate})
	fmt.Printf("GAUALPHA_TIMING %s\n", b)
	t.Logf("%s, %s: paper protocol, %d positions per length: %v s; the full sweep (%d documents, every position): about %.0f s",
		path, prec, positions, st.Seconds, docs, st.Estimate)
}
