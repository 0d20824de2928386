package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/train"
)

// validate checks the flags on their own, before anything is read or
// allocated: ranges, lists, names, and flags that the others make
// meaningless (which would otherwise be ignored without a word).
func (f *flags) validate(set map[string]bool) error {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case f.steps < 0:
		return fmt.Errorf("-steps %d must be >= 0 (0: the recommended %d)", f.steps, recommendedSteps)
	case f.batch < 1:
		return fmt.Errorf("-batch %d must be at least 1", f.batch)
	case set["seq-len"] && f.seqLen < 3:
		return fmt.Errorf("-seq-len %d must be at least 3 ([CLS], a token, [SEP])", f.seqLen)
	case !(f.lr > 0) || !finite(f.lr):
		return fmt.Errorf("-lr %v must be a finite learning rate > 0", f.lr)
	case !(f.warmup >= 0 && f.warmup < 1):
		return fmt.Errorf("-warmup %v must be a share of the steps in [0, 1)", f.warmup)
	case !(f.weightDecay >= 0) || !finite(f.weightDecay):
		return fmt.Errorf("-weight-decay %v must be a finite number >= 0", f.weightDecay)
	case !(f.clip >= 0) || !finite(f.clip):
		return fmt.Errorf("-clip %v must be a finite number >= 0 (0 disables clipping)", f.clip)
	case f.evalEvery < 0:
		return fmt.Errorf("-eval-every %d must be >= 0 (0: once per epoch)", f.evalEvery)
	case f.evalSeqs < 0:
		return fmt.Errorf("-eval-seqs %d must be >= 0 (0: every validation sequence)", f.evalSeqs)
	case f.logEvery < 0:
		return fmt.Errorf("-log-every %d must be >= 0 (0: no metrics lines between validations)", f.logEvery)
	case f.minCount < 1:
		return fmt.Errorf("-min-count %d must be at least 1", f.minCount)
	case f.vocabSize < 0:
		return fmt.Errorf("-vocab-size %d must be >= 0 (0: no limit)", f.vocabSize)
	case f.evalDocs < 1:
		return fmt.Errorf("-eval-docs %d must be at least 1", f.evalDocs)
	case f.passkeyEvery < 0:
		return fmt.Errorf("-passkey-every %d must be >= 0 (one sequence in n; 0: none)", f.passkeyEvery)
	case f.passkeyFirst < 0 || f.passkeyFirst > 0 && f.passkeyEvery == 0:
		return fmt.Errorf("-passkey-first %d needs -passkey-every and a count >= 0", f.passkeyFirst)
	case f.out == "" && set["out"]:
		return fmt.Errorf("-out must name a directory")
	}
	if _, err := cli.MemoryBudget("max-memory", f.maxMemory); err != nil {
		return err
	}
	if f.evalLengths != "" {
		if _, err := eval.ParseLengths(f.evalLengths); err != nil {
			return fmt.Errorf("-eval-lengths: %w", err)
		}
	}
	if _, err := eval.ParseProtocol(f.protocol); err != nil {
		return fmt.Errorf("-protocol: %w", err)
	}
	// The method flags' names and ranges, on a scratch configuration.
	scratch := gau.DefaultConfig()
	if err := f.method.Apply(&scratch); err != nil {
		return err
	}
	// Flags another flag makes meaningless.
	conflict := func(why string, names ...string) error {
		var given []string
		for _, n := range names {
			if set[n] {
				given = append(given, "-"+n)
			}
		}
		if len(given) == 0 {
			return nil
		}
		return fmt.Errorf("%s %s %s", strings.Join(given, ", "), map[bool]string{true: "have", false: "has"}[len(given) > 1], why)
	}
	if f.resume {
		if err := conflict("no effect with -resume, which continues the run with its own model, vocabulary and options",
			"config", "steps", "batch", "lr", "warmup", "weight-decay", "clip", "seq-len", "seed", "eval-every", "eval-seqs",
			"log-every", "min-count", "vocab-size", "overwrite", "method", "norm", "cosscale", "softmax-plus-base", "window",
			"rerope-window", "sinks", "alibi-slope", "yarn-beta-fast", "yarn-beta-slow", "target-length"); err != nil {
			return err
		}
	}
	if f.init != "" {
		if err := conflict("no effect with -init, whose checkpoint brings its vocabulary", "min-count", "vocab-size"); err != nil {
			return err
		}
	}
	if f.noEval {
		if err := conflict("no effect with -no-eval, which skips the final evaluation", "eval-lengths", "protocol", "eval-docs"); err != nil {
			return err
		}
	}
	return nil
}

// checkMemory refuses, before the weights, the graphs and the batches are
// allocated, a run whose estimated memory (gau.EstimateTraining) exceeds
// the budget, and a final evaluation whose lengths exceed it. The token
// sequences, already read, count too. It returns a line that states the
// estimate and the budget, and the budget.
func checkMemory(f *flags, cfg gau.Config, opts train.Options, trainSeqs, valSeqs [][]int, ranks int) (string, cli.Budget, error) {
	budget, err := cli.MemoryBudget("max-memory", f.maxMemory)
	if err != nil {
		return "", cli.Budget{}, err
	}
	L := cfg.TrainLength
	B := (opts.Batch + ranks - 1) / ranks // a process's share of the batch
	est := train.Estimate(cfg, opts, trainSeqs, valSeqs, ranks)
	need, where := est.Total(), "on the CPU"
	if f.device != "cpu" {
		need, where = est.Host(), "in host memory (the device's own memory is not checked here)"
	}
	what := fmt.Sprintf("training %s with -batch %d -seq-len %d (%d layers, hidden %d, intermediate %d, vocabulary %d)",
		where, opts.Batch, L, cfg.NumLayers, cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize)
	if ranks > 1 {
		what += fmt.Sprintf(", %d sequences on each of %d processes", B, ranks)
		where += " per process"
	}
	if err := budget.Check(what, need); err != nil {
		return "", budget, err
	}
	line := fmt.Sprintf("memory: training needs about %s %s, of a budget of %s", cli.GiB(need), where, cli.GiB(budget.Bytes))
	if f.noEval {
		return line, budget, nil
	}
	lengths := eval.DefaultLengths(L)
	if f.evalLengths != "" {
		if lengths, err = eval.ParseLengths(f.evalLengths); err != nil {
			return "", budget, fmt.Errorf("-eval-lengths: %w", err)
		}
	}
	longest := slices.Max(lengths)
	flag := "-eval-lengths"
	if f.evalLengths == "" {
		flag = "the default -eval-lengths (64 n0)"
	}
	return line, budget, budget.Check(fmt.Sprintf("the final evaluation at length %d (%s; -no-eval skips it)", longest, flag), eval.ForwardBytes(cfg, longest))
}

// initModel reads the -init checkpoint dir whole (a run may be replacing
// it) and returns it with the configuration to train: the checkpoint's, or
// -config's (a checkpoint of more layers loads into fewer: the first ones
// are taken, by Checkpoint.Fit after the memory check). The weights file's
// size is checked against the memory budget before it is read.
func initModel(dir, configPath string, maxMemory float64) (*checkpoint.Checkpoint, gau.Config, error) {
	if st, err := os.Stat(filepath.Join(dir, checkpoint.ModelFile)); err == nil {
		budget, err := cli.MemoryBudget("max-memory", maxMemory)
		if err != nil {
			return nil, gau.Config{}, err
		}
		// The file's bytes and their float32 copy (twice as large for
		// 16-bit weights).
		if err := budget.Check("reading the -init weights "+dir, 3*st.Size()); err != nil {
			return nil, gau.Config{}, err
		}
	}
	ck, err := checkpoint.Load(dir)
	if err != nil {
		return nil, gau.Config{}, fmt.Errorf("-init: %w", err)
	}
	if configPath == "" {
		return ck, ck.Config, nil
	}
	cfg, err := gau.OpenConfig(configPath)
	if err != nil {
		return nil, gau.Config{}, err
	}
	if cfg.VocabSize == 0 {
		cfg.VocabSize = ck.Vocab.Size()
	}
	if cfg.VocabSize != ck.Vocab.Size() {
		return nil, gau.Config{}, fmt.Errorf("-init %s: vocab.txt has %d tokens, the config says vocab_size %d", dir, ck.Vocab.Size(), cfg.VocabSize)
	}
	return ck, cfg, nil
}
