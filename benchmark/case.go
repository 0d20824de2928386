// Package benchmark times this implementation's kernels, layers, training
// steps, evaluation passes and the cmd/train command against the same
// math in plain PyTorch eager on the same CPU cores, and against the
// machine's own arithmetic peak (docs/benchmarks.md).
//
// A benchmark is a list of cases (Cases). Each case runs in a fresh
// process on each side: Measure times a Go case in the calling process
// (cmd/bench re-executes itself with -case for it), RunProcess runs such a
// child, or the PyTorch side (scripts/bench_torch.py), and reads the
// Result it prints; MeasurePeak measures the FMA peak, WaitQuiet waits for
// an idle machine, and Render writes the table in Markdown, which
// WriteOut places between the markers of a document.
package benchmark

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/kernels/cpu"
	"github.com/infoscale/gaualpha/tokenizer"
	"github.com/infoscale/gaualpha/train"
)

// Case kinds: what a case builds and times.
const (
	kindIdle        = "idle"         // nothing: the process's own footprint
	kindAttnFwd     = "attn_fwd"     // the fused attention kernel, forward
	kindAttnBwd     = "attn_bwd"     // the fused attention kernel, backward only
	kindLayerFwd    = "layer_fwd"    // one GAU layer graph, forward
	kindLayerFwdBwd = "layer_fwdbwd" // one GAU layer graph, forward and backward
	kindTrain       = "train"        // a whole training step (train.Trainer.Step)
	kindEval        = "eval"         // the whole model's forward pass, one masked position (or every Stride-th)
	kindCmdTrain    = "cmd_train"    // the whole of go run ./cmd/train (its binary), once
)

// Case is one row of the table. The PyTorch side
// (scripts/bench_torch.py) has a case of the same name and shape.
type Case struct {
	Name string
	Kind string
	// Model is "paper" (gau.PaperConfig) or "default"
	// (gau.DefaultConfig, vocabulary from the embedded corpus).
	Model string
	B, L  int
	// Norm overrides the model's normalisation ("infoscale" for the
	// long-context cases); Method overrides its positional method.
	Norm, Method string
	// Warmup runs are not timed; the reported time is the median of Runs.
	Warmup, Runs int
	// Precision is the training case's -precision ("" or "f32": float32;
	// "bf16": bfloat16 products on the CPU).
	Precision string
	// Stride, for an evaluation case, masks every Stride-th token (the
	// fast protocol's pass) instead of one position in the middle.
	Stride int
	// NoTorch, when set, says why the case has no PyTorch counterpart.
	NoTorch string
	// Desc describes the case in the table.
	Desc string

	// TrainCmd is the cmd/train binary the cmd_train case runs (empty:
	// built from this module).
	TrainCmd string

	// config, when set, replaces the model configuration (tests use tiny
	// models).
	config func() gau.Config
	// kernel names the kernels/gemm micro-kernel of an SGEMM case.
	kernel string
	// trainArgs are the cmd_train case's flags beyond -quiet, -overwrite
	// and -out (tests shorten the run).
	trainArgs []string
}

// Cases lists every case in table order: the model cases, then the SGEMM
// cases of this CPU's kernels. Keep in step with CASES in
// scripts/bench_torch.py.
func Cases() []Case {
	return append(modelCases(), sgemmCases()...)
}

// modelCases are the cases with a model (or nothing, idle) behind them.
func modelCases() []Case {
	return []Case{
		{Name: "idle", Kind: kindIdle, Warmup: 0, Runs: 1,
			Desc: "process footprint only (runtime; Python + torch import)"},
		{Name: "attn_fwd_1024", Kind: kindAttnFwd, Model: "paper", B: 1, L: 1024, Norm: "infoscale", Warmup: 2, Runs: 10,
			Desc: "fused attention forward, B=1 L=1024 d=128 e=1536"},
		{Name: "attn_fwd_4096", Kind: kindAttnFwd, Model: "paper", B: 1, L: 4096, Norm: "infoscale", Warmup: 1, Runs: 5,
			Desc: "fused attention forward, B=1 L=4096 d=128 e=1536"},
		{Name: "attn_bwd_1024", Kind: kindAttnBwd, Model: "paper", B: 1, L: 1024, Norm: "infoscale", Warmup: 2, Runs: 10,
			Desc: "fused attention backward only, B=1 L=1024"},
		{Name: "layer_fwd", Kind: kindLayerFwd, Model: "paper", B: 8, L: 512, Warmup: 1, Runs: 5,
			Desc: "one GAU layer forward, paper size, B=8 L=512"},
		{Name: "layer_fwdbwd", Kind: kindLayerFwdBwd, Model: "paper", B: 8, L: 512, Warmup: 1, Runs: 5,
			Desc: "one GAU layer forward+backward, paper size, B=8 L=512"},
		{Name: "train_default", Kind: kindTrain, Model: "default", B: 32, L: 64, Warmup: 10, Runs: 20,
			Desc: "training step, default model, B=32 L=64 (dropout 0.1, AdamW, clip)"},
		{Name: "train_default_bf16", Kind: kindTrain, Model: "default", B: 32, L: 64, Precision: "bf16", Warmup: 10, Runs: 20,
			NoTorch: "the float32 PyTorch step is train_default's; this case compares -precision bf16 with it on the Go side",
			Desc:    "training step as train_default, -precision bf16 (bfloat16 products, float32 sums)"},
		{Name: "train_paper_b32", Kind: kindTrain, Model: "paper", B: 32, L: 64, Warmup: 1, Runs: 5,
			Desc: "training step, paper model, B=32 L=64 (dropout 0.1, AdamW, clip)"},
		{Name: "eval_default_128", Kind: kindEval, Model: "default", B: 128, L: 128, Norm: "infoscale", Stride: 32, Warmup: 2, Runs: 10,
			Desc: "default model forward, B=128 L=128, every 32nd token masked (a fast-protocol batch at 2x n0)"},
		{Name: "eval_default_512", Kind: kindEval, Model: "default", B: 32, L: 512, Norm: "infoscale", Stride: 32, Warmup: 2, Runs: 10,
			Desc: "default model forward, B=32 L=512, every 32nd token masked (a fast-protocol batch at 8x n0)"},
		{Name: "eval_4096", Kind: kindEval, Model: "paper", B: 1, L: 4096, Norm: "infoscale", Warmup: 1, Runs: 3,
			Desc: "6-layer paper model forward, B=1 L=4096, one masked position"},
		{Name: "eval_16384", Kind: kindEval, Model: "paper", B: 1, L: 16384, Norm: "infoscale", Warmup: 0, Runs: 1,
			Desc: "6-layer paper model forward, B=1 L=16384, one masked position"},
		{Name: "eval_window_65536", Kind: kindEval, Model: "paper", B: 1, L: 65536, Norm: "infoscale", Method: "window", Warmup: 0, Runs: 1,
			NoTorch: "eager PyTorch materialises 65536² scores (16 GiB per matrix)",
			Desc:    "memory check: paper model forward, B=1 L=65536, windowed attention (w=64)"},
		{Name: "train_cmd", Kind: kindCmdTrain, Model: "default", Warmup: 0, Runs: 1,
			NoTorch: "the whole command (4000 steps, validation, checkpoints, the extrapolation table) has no PyTorch counterpart here",
			Desc:    "go run ./cmd/train as it stands: the default model, 4000 steps and the final table (the binary's wall time)"},
	}
}

// Find returns the case named name.
func Find(name string) (Case, bool) {
	cases := Cases()
	i := slices.IndexFunc(cases, func(c Case) bool { return c.Name == name })
	if i < 0 {
		return Case{}, false
	}
	return cases[i], true
}

// Select returns the cases a list names: "all", or names separated by
// commas (each once, in the list's order); an unknown name is an error
// that lists the known ones.
func Select(list string) ([]Case, error) {
	cases := Cases()
	if strings.TrimSpace(list) == "all" {
		return cases, nil
	}
	var sel []Case
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(cases, func(c Case) bool { return c.Name == name })
		if i < 0 {
			var names []string
			for _, c := range cases {
				names = append(names, c.Name)
			}
			return nil, fmt.Errorf("unknown case %q (known: %s)", name, strings.Join(names, ", "))
		}
		if !slices.ContainsFunc(sel, func(x Case) bool { return x.Name == name }) {
			sel = append(sel, cases[i])
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("no cases in %q", list)
	}
	return sel, nil
}

// modelConfig returns the case's model configuration with its overrides.
func (c Case) modelConfig() (gau.Config, attn.Policy, error) {
	var cfg gau.Config
	switch {
	case c.config != nil:
		cfg = c.config()
	case c.Model == "paper":
		cfg = gau.PaperConfig()
	default:
		cfg = gau.DefaultConfig()
	}
	if c.Method != "" {
		cfg.Method = c.Method
	}
	if c.Kind != kindTrain {
		// Dropout off: only the training steps are timed with it.
		cfg.HiddenDropout, cfg.AttentionDropout = 0, 0
	}
	pol, err := cfg.Policy(c.Norm)
	if err != nil {
		return cfg, pol, err
	}
	if err := pol.Validate(); err != nil {
		return cfg, pol, err
	}
	return cfg, pol, nil
}

// Prepared is a case ready to run.
type Prepared struct {
	// Step runs one timed operation.
	Step func() error
	// Vocab is the vocabulary size the model was built with (the PyTorch
	// side of the default training case uses the same).
	Vocab int
	// Machine is the case's CPU executor, when it runs a graph (cmd/bench
	// -ops profiles it).
	Machine *graph.Machine
}

// prepare builds what a case times (weights, inputs, graph) outside the
// timed region.
func prepare(c Case) (*Prepared, error) {
	cfg, pol, err := c.modelConfig()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	switch c.Kind {
	case kindIdle:
		return &Prepared{Step: func() error { return nil }}, nil
	case kindAttnFwd, kindAttnBwd:
		return prepareAttention(c, cfg, pol, rng)
	case kindLayerFwd, kindLayerFwdBwd:
		return prepareLayer(c, cfg, pol, rng)
	case kindTrain:
		return prepareTrain(c, cfg)
	case kindEval:
		return prepareEval(c, cfg, pol, rng)
	case kindCmdTrain:
		return prepareCmdTrain(c)
	case kindSgemm, kindSgemmBF16:
		return prepareSgemm(c)
	}
	return nil, fmt.Errorf("case %s: unknown kind %q", c.Name, c.Kind)
}

func randn(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

func ones(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
	}
	return x
}

// prepareAttention sets up the fused attention kernel on random X =
// [u | v | z] (z scaled down for moderate logits, as on the PyTorch side).
func prepareAttention(c Case, cfg gau.Config, pol attn.Policy, rng *rand.Rand) (*Prepared, error) {
	E, D := cfg.IntermediateSize, cfg.KeySize
	a := &cpu.Attention[float32]{B: c.B, L: c.L, E: E, D: D, GammaQ: ones(D), GammaK: ones(D), Policy: pol}
	W, rows := a.Width(), c.B*c.L
	a.X = randn(rng, rows*W, 1)
	for r := 0; r < rows; r++ {
		for i := 2 * E; i < W; i++ {
			a.X[r*W+i] *= 0.3
		}
	}
	out := make([]float32, rows*a.OutWidth())
	if c.Kind == kindAttnFwd {
		return &Prepared{Step: func() error { return a.Forward(out) }}, nil
	}
	if err := a.Forward(out); err != nil {
		return nil, err
	}
	dout := randn(rng, rows*a.OutWidth(), 1)
	dx := make([]float32, (rows+2)*W)
	return &Prepared{Step: func() error { return a.Backward(out, dout, dx) }}, nil
}

func prepareLayer(c Case, cfg gau.Config, pol attn.Policy, rng *rand.Rand) (*Prepared, error) {
	lcfg := cfg
	lcfg.NumLayers = 1
	p := gau.InitParams(lcfg, tensor.Float32, rng)
	n := c.B * c.L * cfg.HiddenSize
	dense := func() *tensor.Dense {
		return tensor.New(tensor.WithShape(c.B*c.L, cfg.HiddenSize), tensor.WithBacking(randn(rng, n, 1)))
	}
	h := dense()
	var r *tensor.Dense
	if c.Kind == kindLayerFwdBwd {
		r = dense()
	}
	lg, err := gau.BuildLayer(cfg, pol, p.Layers[0], c.B, c.L, nil, nil, h, r)
	if err != nil {
		return nil, err
	}
	m, err := graph.NewMachine(lg.Graph, lg.Outputs()...)
	if err != nil {
		return nil, err
	}
	return &Prepared{Step: m.Run, Machine: m}, nil
}

// trainingData returns the embedded corpus's vocabulary and its training
// and validation sequences at length L, as cmd/train prepares them.
func trainingData(L int) (*tokenizer.Vocab, [][]int, [][]int, error) {
	docs, err := corpus.Embedded()
	if err != nil {
		return nil, nil, nil, err
	}
	v, err := train.NewVocab(docs, 2, 12000)
	if err != nil {
		return nil, nil, nil, err
	}
	trs, vas, _, err := train.Data(docs, v, L, train.HeldOut{})
	return v, trs, vas, err
}

// prepareTrain sets up a trainer on the embedded corpus. The default model
// takes the corpus vocabulary's size; the paper model keeps its 12000 rows
// (the corpus vocabulary fills the first of them), so that its embedding
// and head cost what the paper model's do.
func prepareTrain(c Case, cfg gau.Config) (*Prepared, error) {
	if c.L != cfg.TrainLength {
		return nil, fmt.Errorf("case %s: training runs at n0 = %d, not L = %d", c.Name, cfg.TrainLength, c.L)
	}
	v, trs, vas, err := trainingData(cfg.TrainLength)
	if err != nil {
		return nil, err
	}
	if c.Model != "paper" || v.Size() > cfg.VocabSize {
		cfg.VocabSize = v.Size()
	}
	o := train.DefaultOptions()
	o.Batch = c.B
	o.Steps = 1 << 20
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	t, err := train.New(cfg, v, p, trs, vas, o)
	if err != nil {
		return nil, err
	}
	if c.Precision != "" {
		be, err := backend.Open("cpu", c.Precision)
		if err != nil {
			return nil, err
		}
		if err := t.Use(be); err != nil {
			return nil, err
		}
	}
	mach, _ := t.Executor().(*graph.Machine)
	return &Prepared{Vocab: cfg.VocabSize, Machine: mach, Step: func() error {
		_, _, err := t.Step()
		return err
	}}, nil
}

// prepareEval builds the whole model for B sequences of length L with one
// masked position in the middle of each, as the paper protocol scores it,
// or (Stride) every Stride-th token masked, as a fast-protocol pass does.
// The default model takes the embedded corpus's vocabulary, as cmd/train
// gives it.
func prepareEval(c Case, cfg gau.Config, pol attn.Policy, rng *rand.Rand) (*Prepared, error) {
	if c.Model == "default" && c.config == nil {
		v, _, _, err := trainingData(cfg.TrainLength)
		if err != nil {
			return nil, err
		}
		cfg.VocabSize = v.Size()
	}
	p := gau.InitParams(cfg, tensor.Float32, rng)
	var masked []int // positions masked in each sequence
	if c.Stride > 0 {
		for q := c.Stride / 2; q < c.L; q += c.Stride {
			masked = append(masked, q)
		}
	} else {
		masked = []int{c.L / 2}
	}
	m, err := gau.Build(cfg, p, gau.Options{Shape: gau.Shape{B: c.B, L: c.L, M: c.B * len(masked)}, Policy: pol})
	if err != nil {
		return nil, err
	}
	bt := &gau.Batch{IDs: make([]int, c.B*c.L)}
	for i := range bt.IDs {
		bt.IDs[i] = tokenizer.NumSpecial + rng.IntN(cfg.VocabSize-tokenizer.NumSpecial)
	}
	for b := 0; b < c.B; b++ {
		for _, q := range masked {
			bt.IDs[b*c.L+q] = 4 // [MASK]
			bt.Select = append(bt.Select, b*c.L+q)
		}
	}
	mach, err := graph.NewMachine(m.Graph, m.Outputs()...)
	if err != nil {
		return nil, err
	}
	return &Prepared{Vocab: cfg.VocabSize, Machine: mach, Step: func() error { return m.Run(mach, bt) }}, nil
}

// prepareCmdTrain builds cmd/train from this module (unless -train-cmd
// names a binary) and times one run of it as go run ./cmd/train runs it,
// writing its checkpoints to a temporary folder.
func prepareCmdTrain(c Case) (*Prepared, error) {
	tmp, err := os.MkdirTemp("", "bench-train-cmd-")
	if err != nil {
		return nil, err
	}
	bin := c.TrainCmd
	if bin == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		bin = filepath.Join(tmp, "train")
		build := exec.Command("go", "build", "-o", bin, "./cmd/train")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building cmd/train: %v: %s", err, lastLine(string(out)))
		}
	}
	args := append([]string{"-quiet", "-overwrite", "-out", filepath.Join(tmp, "run")}, c.trainArgs...)
	return &Prepared{Step: func() error {
		cmd := exec.Command(bin, args...)
		cmd.Stdout = io.Discard
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %v: %s", bin, err, lastLine(stderr.String()))
		}
		return nil
	}}, nil
}

// moduleRoot is the repository's root: the folder above the working
// directory that holds cmd/train.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "cmd", "train", "main.go")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cmd/train not found from the working directory (run from the repository, or pass -train-cmd)")
		}
		dir = parent
	}
}
