package main

import (
	"fmt"
	"slices"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/train"
)

// validate checks the flags on their own, before anything is read or
// allocated: ranges, lists, names, and flags that the others make
// meaningless (which would otherwise be ignored without a word). It keeps
// -eval-lengths parsed.
func (f *flags) validate(set map[string]bool) error {
	o := f.opts
	var seqLen, warmup, passkeyFirst, out error
	if set["seq-len"] {
		seqLen = cli.AtLeast("-seq-len", f.seqLen, 3, "[CLS], a token, [SEP]")
	}
	if !(o.WarmupFrac >= 0 && o.WarmupFrac < 1) {
		warmup = fmt.Errorf("-warmup %v must be a share of the steps in [0, 1)", o.WarmupFrac)
	}
	if o.PasskeyFirst < 0 || o.PasskeyFirst > 0 && o.PasskeyEvery == 0 {
		passkeyFirst = fmt.Errorf("-passkey-first %d needs -passkey-every and a count >= 0", o.PasskeyFirst)
	}
	if f.out == "" && set["out"] {
		out = fmt.Errorf("-out must name a directory")
	}
	if err := cli.FirstError(
		cli.AtLeast("-steps", f.steps, 0, fmt.Sprintf("0: the recommended %d", recommendedSteps)),
		cli.AtLeast("-batch", o.Batch, 1, ""),
		seqLen,
		cli.Finite("-lr", o.LR, "learning rate", true, ""),
		warmup,
		cli.Finite("-weight-decay", o.WeightDecay, "number", false, ""),
		cli.Finite("-clip", o.ClipNorm, "number", false, "0 disables clipping"),
		cli.AtLeast("-eval-every", o.EvalEvery, 0, "0: once per epoch"),
		cli.AtLeast("-eval-seqs", o.EvalSeqs, 0, "0: every validation sequence"),
		cli.AtLeast("-log-every", o.LogEvery, 0, "0: no metrics lines between validations"),
		cli.AtLeast("-min-count", f.minCount, 1, ""),
		cli.AtLeast("-vocab-size", f.vocabSize, 0, "0: no limit"),
		cli.AtLeast("-eval-docs", f.evalDocs, 1, ""),
		cli.AtLeast("-passkey-every", o.PasskeyEvery, 0, "one sequence in n; 0: none"),
		passkeyFirst,
		out,
	); err != nil {
		return err
	}
	if _, err := cli.MemoryBudget("max-memory", f.maxMemory); err != nil {
		return err
	}
	var err error
	if f.evalLengths != "" {
		if f.lengthList, err = eval.ParseLengths(f.evalLengths); err != nil {
			return fmt.Errorf("-eval-lengths: %w", err)
		}
	}
	if f.proto, err = eval.ParseProtocol(f.protocol); err != nil {
		return fmt.Errorf("-protocol: %w", err)
	}
	// The method flags' names and ranges, on a scratch configuration.
	scratch := gau.DefaultConfig()
	if err := f.method.Apply(&scratch); err != nil {
		return err
	}
	// Flags another flag makes meaningless.
	var resume, init, noEval error
	if f.resume {
		resume = cli.NoEffect(set, "no effect with -resume, which continues the run with its own model, vocabulary and options",
			"config", "steps", "batch", "lr", "warmup", "weight-decay", "clip", "seq-len", "seed", "eval-every", "eval-seqs",
			"log-every", "min-count", "vocab-size", "overwrite", "method", "norm", "cosscale", "softmax-plus-base", "window",
			"rerope-window", "sinks", "alibi-slope", "yarn-beta-fast", "yarn-beta-slow", "target-length")
	}
	if f.init != "" {
		init = cli.NoEffect(set, "no effect with -init, whose checkpoint brings its vocabulary", "min-count", "vocab-size")
	}
	if f.noEval {
		noEval = cli.NoEffect(set, "no effect with -no-eval, which skips the final evaluation", "eval-lengths", "protocol", "eval-docs")
	}
	return cli.FirstError(resume, init, noEval)
}

// checkMemory refuses, before the weights, the graphs and the batches are
// allocated, a run whose estimated memory exceeds the budget
// (train.CheckMemory), and a final evaluation whose longest length exceeds
// it. It returns a line that states the estimate and the budget, and the
// budget.
func checkMemory(f *flags, cfg gau.Config, opts train.Options, trainSeqs, valSeqs [][]int, ranks int) (string, cli.Budget, error) {
	budget, err := cli.MemoryBudget("max-memory", f.maxMemory)
	if err != nil {
		return "", cli.Budget{}, err
	}
	line, err := train.CheckMemory(budget, cfg, opts, trainSeqs, valSeqs, ranks, f.device == "cpu")
	if err != nil || f.noEval {
		return line, budget, err
	}
	longest := slices.Max(f.lengths(cfg.TrainLength))
	flag := "-eval-lengths"
	if f.evalLengths == "" {
		flag = "the default -eval-lengths (64 n0)"
	}
	return line, budget, budget.Check(fmt.Sprintf("the final evaluation at length %d (%s; -no-eval skips it)", longest, flag), eval.ForwardBytes(cfg, longest))
}
