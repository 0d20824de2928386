// Command train trains a GAU-α masked language model at a short length and,
// at the end, measures how it extrapolates to 2x..64x that length with plain
// softmax and with InfoScale.
//
// With no flags it trains the default small model on the embedded corpus
// (Chinese manual pages) on the CPU and prints the extrapolation table:
//
//	go run ./cmd/train
//
// Built with -tags mpi and started by mpirun or srun, its processes train
// one model together, each on its share of every batch (data-parallel),
// and rank 0 writes the run folder and prints (docs/parallel.md).
//
// Run with -h for every flag.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/collective/mpi"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/internal/methodflags"
	"github.com/infoscale/gaualpha/internal/runlock"
	"github.com/infoscale/gaualpha/tokenizer"
	"github.com/infoscale/gaualpha/train"
)

func main() {
	cli.Main("train", func(args []string, stdout, stderr io.Writer) error {
		return mpi.Run(func(c collective.Comm) error { return run(c, args, stdout, stderr) })
	})
}

type flags struct {
	config, corpus, out, init, device, precision, evalLengths, protocol                string
	steps, batch, seqLen, evalEvery, evalSeqs, evalDocs, minCount, vocabSize, logEvery int
	lr, warmup, weightDecay, clip, maxMemory, divergeRatio                             float64
	seed                                                                               uint64
	resume, overwrite, noEval, quiet, keepValidations                                  bool
	passkeyEvery, passkeyFirst                                                         int
	method                                                                             *methodflags.Flags
	attention                                                                          string
}

func parseFlags(args []string, stderr io.Writer) (*flags, *flag.FlagSet, error) {
	f := &flags{}
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := train.DefaultOptions()
	fs.StringVar(&f.config, "config", "", "model `config.json` to start from (Hugging Face GAU-α fields; flags below override it)")
	fs.StringVar(&f.corpus, "corpus", "embedded", "training data: `path` to a JSON-lines file ({\"text\": ...} per line, .gz ok), a folder of .txt files, or \"embedded\" (Chinese man pages)")
	fs.StringVar(&f.out, "out", "", "output `dir` for checkpoints (best/, last/), metrics.jsonl and the results (default runs/<date-time>)")
	fs.StringVar(&f.init, "init", "", "start from the weights (and vocabulary) of checkpoint `dir` (fine-tuning); with -config, that config's layers are taken from it")
	fs.BoolVar(&f.resume, "resume", false, "continue the interrupted run in -out from its last/ checkpoint")
	fs.BoolVar(&f.overwrite, "overwrite", false, "allow -out to hold an earlier run (its checkpoints are replaced)")
	fs.StringVar(&f.device, "device", backend.DefaultDevice, "`cpu`, cuda or auto (auto: cuda where a GPU can be used, else cpu, said on stderr; cuda needs a binary built with -tags gpu)")
	fs.StringVar(&f.precision, "precision", "f32", "`f32` or bf16: bfloat16 inputs to every matrix product (float32 accumulation, weights and optimizer state), on the CPU and on -device cuda, for training and the final table")
	fs.StringVar(&f.attention, "attention", "auto", "`auto`, fused or materialized: how -device cuda computes attention (auto: the L×L matrices on cuBLAS where they fit and no window removes pairs, else the fused kernels; see docs/gpu.md)")
	fs.IntVar(&f.steps, "steps", 0, "training steps; 0: the recommended 4000")
	fs.IntVar(&f.batch, "batch", o.Batch, "sequences per step")
	fs.Float64Var(&f.lr, "lr", o.LR, "peak learning rate (linear warm-up, then linear decay to 0)")
	fs.Float64Var(&f.warmup, "warmup", o.WarmupFrac, "share of the steps spent warming up")
	fs.Float64Var(&f.weightDecay, "weight-decay", o.WeightDecay, "AdamW decoupled weight decay")
	fs.Float64Var(&f.clip, "clip", o.ClipNorm, "gradient-norm clip (0 disables)")
	fs.IntVar(&f.passkeyEvery, "passkey-every", 0, "make one training sequence in `n` a passkey sample: a key of 5 digits stated behind #KEY= and asked again with its digits masked, which gives the model the long-range retrieval skill the passkey probe measures (0: none; the vocabulary needs # K E Y = and the digits)")
	fs.IntVar(&f.passkeyFirst, "passkey-first", 0, "with -passkey-every: every sequence of the first `n` steps a passkey sample (a model learns the skill from samples alone, not from a small share among masked-LM ones)")
	fs.BoolVar(&f.keepValidations, "keep-validations", false, "keep the weights of every validation's step in val/step-NNNNNN of -out (for comparisons at matched validation loss)")
	fs.Float64Var(&f.divergeRatio, "diverge-ratio", o.DivergeRatio, "stop when a validation loss exceeds this multiple of the smaller of the first validation loss and ln(vocabulary size), the loss of a uniform guess; no checkpoint is written for that step (0: never stop)")
	fs.IntVar(&f.seqLen, "seq-len", 0, "training length n0, at least 3 (default 64, or the config's train_length)")
	fs.Uint64Var(&f.seed, "seed", o.Seed, "random seed (weights, data order, masking, dropout)")
	f.method = methodflags.Register(fs, "train with")
	f.method.RegisterNorm("training normalisation: " + strings.Join(attn.NormNames(), ", ") + " (default: the config's, softmax)")
	fs.IntVar(&f.evalEvery, "eval-every", 0, "steps between validations and checkpoints (0: once per epoch, at most every steps/10)")
	fs.IntVar(&f.evalSeqs, "eval-seqs", o.EvalSeqs, "validation sequences scored each time (0: all of them)")
	fs.IntVar(&f.logEvery, "log-every", o.LogEvery, "steps between metrics.jsonl lines (0: only the validation lines)")
	fs.IntVar(&f.minCount, "min-count", 2, "characters seen fewer times in the training split are [UNK] (new vocabularies only)")
	fs.IntVar(&f.vocabSize, "vocab-size", 12000, "largest vocabulary, special tokens included (new vocabularies only; 0: no limit)")
	fs.Float64Var(&f.maxMemory, "max-memory", 0, "refuse a run whose training, or final evaluation, needs more than this many `GiB` (0: the memory available at the start, MemAvailable in /proc/meminfo)")
	fs.StringVar(&f.evalLengths, "eval-lengths", "", "comma-separated lengths of the final extrapolation table (default 2x..64x n0)")
	fs.StringVar(&f.protocol, "protocol", "fast", "final evaluation protocol: fast or paper (see cmd/eval -h)")
	fs.IntVar(&f.evalDocs, "eval-docs", 10, "test documents of the final evaluation")
	fs.BoolVar(&f.noEval, "no-eval", false, "skip the final extrapolation table")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: train [flags]\n\nTrains GAU-α (masked LM) at length n0, then prints its length-extrapolation table\n(softmax vs InfoScale at 2x..64x n0). With no flags: the default small model on the\nembedded corpus, on the CPU (in a -tags gpu build, on the GPU where one can be used).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	if fs.NArg() > 0 {
		return nil, fs, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	return f, fs, nil
}

// recommendedSteps is the default step count for a model size: what trains
// the default model in about 10 minutes on 2 CPU cores.
const recommendedSteps = 4000

// run is the command as member c of the group of processes: every member
// trains its share of each batch; rank 0 alone holds the run folder's
// lock, writes there and prints.
func run(c collective.Comm, args []string, stdout, stderr io.Writer) (err error) {
	if c.Rank() != 0 {
		stdout, stderr = io.Discard, io.Discard
	}
	f, fs, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if err := f.validate(set); err != nil {
		return err
	}
	be, err := backend.OpenOptions(backend.Options{Device: f.device, Precision: f.precision, Attention: f.attention, Log: stderr, Ordinal: c.LocalRank()})
	if err != nil {
		return err
	}
	f.device = string(be.Device()) // auto, resolved
	defer be.Close()
	if f.resume && f.init != "" {
		return fmt.Errorf("-resume and -init exclude each other (resume continues a run; init starts a new one from weights)")
	}
	if f.resume && f.out == "" {
		return fmt.Errorf("-resume needs -out, the directory of the run to continue")
	}
	if f.out == "" {
		f.out = filepath.Join("runs", time.Now().Format("20060102-150405"))
		if f.out, err = collective.BroadcastJSON(c, f.out, 0); err != nil { // rank 0's clock names the folder
			return err
		}
	}
	progress := stderr
	if f.quiet {
		progress = nil
	}

	docs, note, err := corpus.Load(f.corpus)
	if err != nil {
		return err
	}
	if note != "" {
		fmt.Fprintln(stderr, "note:", note)
	}

	// One writer per run folder, from here on: nothing in it changes
	// before the lock is held. Rank 0 holds it (and repairs what a killed
	// writer left); the other ranks read the folder once rank 0 has it.
	lock, created, err := lockRun(c, f.out)
	if err != nil {
		return err
	}
	if lock != nil {
		defer func() {
			if err != nil && created {
				// A folder this run created and never used goes again.
				os.Remove(filepath.Join(f.out, runlock.FileName))
				os.Remove(f.out)
			}
			lock.Release()
		}()
	}

	// Model configuration, vocabulary and weights.
	var (
		cfg    gau.Config
		vocab  *tokenizer.Vocab
		params *gau.Params
		resume *checkpoint.Checkpoint
		initCk *checkpoint.Checkpoint
	)
	switch {
	case f.resume:
		last := filepath.Join(f.out, "last")
		if resume, err = checkpoint.Load(last); err != nil {
			return fmt.Errorf("cannot resume: %w", err)
		}
		if resume.Unverified {
			fmt.Fprintf(stderr, "note: %s has no %s (written by an older version): its config and state cannot be checked against what the run saved\n", last, checkpoint.SumsFile)
		}
		cfg, vocab, params = resume.Config, resume.Vocab, resume.Params
	case f.init != "":
		// The checkpoint is read whole now (a run may be writing it); its
		// weights are fitted to the checkpoint's config or -config's
		// (which may take fewer layers) after the memory check.
		if initCk, cfg, err = initModel(f.init, f.config, f.maxMemory); err != nil {
			return err
		}
		vocab = initCk.Vocab
	default:
		cfg = gau.DefaultConfig()
		maxVocab := f.vocabSize
		if f.config != "" {
			// A new model's vocabulary comes from the corpus; the
			// config's vocab_size, if any, caps it.
			if cfg, err = gau.OpenConfig(f.config); err != nil {
				return err
			}
			if cfg.VocabSize > 0 && !set["vocab-size"] {
				maxVocab = cfg.VocabSize
			}
		}
		if vocab, err = train.NewVocab(docs, f.minCount, maxVocab); err != nil {
			return err
		}
		cfg.VocabSize = vocab.Size()
	}
	if !f.resume {
		if err := applyFlags(&cfg, f, set); err != nil {
			return err
		}
		if err := cfg.Validate(); err != nil {
			if f.config != "" {
				return fmt.Errorf("%s: %w", f.config, err)
			}
			return err
		}
		if err := checkFreshOut(f.out, f.overwrite); err != nil {
			return err
		}
	}

	opts := train.DefaultOptions()
	opts.Steps = recommendedSteps
	if f.steps > 0 {
		opts.Steps = f.steps
	}
	opts.Batch, opts.LR, opts.WarmupFrac, opts.WeightDecay, opts.ClipNorm = f.batch, f.lr, f.warmup, f.weightDecay, f.clip
	opts.Seed, opts.EvalEvery, opts.EvalSeqs, opts.LogEvery = f.seed, f.evalEvery, f.evalSeqs, f.logEvery
	opts.DivergeRatio = f.divergeRatio
	opts.PasskeyEvery, opts.KeepValidations = f.passkeyEvery, f.keepValidations
	opts.PasskeyFirst = f.passkeyFirst
	if cfg.Method == "pose" {
		opts.PoSE, opts.PoSETarget = true, cfg.TargetLength
	}
	if resume != nil && resume.State != nil {
		if opts, err = train.SavedOptions(resume.State); err != nil { // a resumed run keeps its options
			return fmt.Errorf("-resume %s: %w", filepath.Join(f.out, "last"), err)
		}
	}

	held, err := heldOut(f, cfg)
	if err != nil {
		return err
	}
	trainSeqs, valSeqs, valNote, err := train.Data(docs, vocab, cfg.TrainLength, held)
	if err != nil {
		return err
	}
	if valNote != "" {
		fmt.Fprintln(stderr, "note:", strings.Replace(valNote, "ask for fewer test documents", "lower -eval-docs", 1))
	}
	memLine, budget, err := checkMemory(f, cfg, opts, trainSeqs, valSeqs, c.Size())
	if err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The estimate counts the live memory; the collector would let
		// garbage grow the heap to twice that before collecting. The
		// budget as a soft limit makes it collect sooner instead.
		debug.SetMemoryLimit(budget.Bytes)
	}
	switch {
	case params != nil:
	case f.init != "":
		var notes []string
		if params, notes, err = initCk.Fit(cfg); err != nil {
			return fmt.Errorf("-init %s: %w", f.init, err)
		}
		for _, n := range append(initCk.Notes, notes...) {
			fmt.Fprintln(stderr, "note:", n)
		}
		initCk = nil
	default:
		params = gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(f.seed, 0x9a0a)))
	}
	tr, err := train.NewRank(c, cfg, vocab, params, trainSeqs, valSeqs, opts)
	if err != nil {
		return err
	}
	if resume != nil {
		if err := tr.Resume(resume); err != nil {
			return fmt.Errorf("cannot resume %s: %w", filepath.Join(f.out, "last"), err)
		}
	}
	tr.OutDir, tr.Lock, tr.Progress, tr.Corpus = f.out, lock, progress, f.corpus
	if err := tr.Use(be); err != nil { // after Resume or not: the backend gets the current state
		return err
	}
	defer tr.Close()
	fmt.Fprintf(stderr, "model: %d layers, hidden %d, intermediate %d, key %d, vocab %d (%.2fM parameters); n0 = %d, %s, CosScale %g, %s\n",
		cfg.NumLayers, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.VocabSize, float64(params.Count())/1e6,
		cfg.TrainLength, cfg.Normalization, cfg.CosScale, cfg.Method)
	on := string(be.Device())
	if be.Precision() == backend.BF16 {
		on += " (bf16 products)"
	}
	if c.Size() > 1 {
		least, most := opts.Batch/c.Size(), (opts.Batch+c.Size()-1)/c.Size()
		seqs := fmt.Sprint(least)
		if most > least {
			seqs += fmt.Sprintf(" or %d", most)
		}
		on = fmt.Sprintf("%d processes (%s each, %s sequences of every batch)", c.Size(), on, seqs)
	}
	fmt.Fprintf(stderr, "data: %s, %d training and %d validation sequences; %d steps of %d from step %d on %s; output %s\n",
		f.corpus, len(trainSeqs), len(valSeqs), opts.Steps, opts.Batch, tr.State.Step, on, f.out)
	fmt.Fprintln(stderr, memLine)

	ctx, cancel := cli.OnInterrupt(context.Background(), stderr, "stopping after this step; the last checkpoint stays valid")
	defer cancel()
	firstStep := tr.State.Step
	if err := tr.Run(ctx); err != nil {
		if ctx.Err() != nil {
			return interrupted(tr.State.Step, tr.LastCheckpoint(), f.out)
		}
		return err
	}
	fmt.Fprintf(stderr, "trained %d steps in %s; best validation loss %.4f at step %d (%s)\n", tr.State.Step,
		time.Duration(tr.State.Elapsed*float64(time.Second)).Round(time.Second), deref(tr.State.BestValLoss), tr.State.BestStep, filepath.Join(f.out, "best"))
	if ran := tr.State.Step - firstStep; c.Size() > 1 && ran > 0 {
		fmt.Fprintf(stderr, "communication: %.2f ms per step in the sums over the %d processes (rank 0's, waiting for the slowest included)\n",
			1e3*tr.CommSeconds()/float64(ran), c.Size())
	}
	if f.noEval {
		return nil
	}
	if err := tr.Close(); err != nil { // frees the device's copy before the evaluation loads best/
		return err
	}
	if err := c.Barrier(); err != nil { // rank 0 has written best/
		return err
	}
	return finalEval(ctx, c, be, f, docs, stdout, stderr)
}

// lockRun takes the run folder's lock on rank 0 (train.LockRunRank);
// created reports that the folder did not exist before. The other ranks
// hold no lock (nil).
func lockRun(c collective.Comm, out string) (lock *runlock.Lock, created bool, err error) {
	if c.Rank() == 0 {
		_, statErr := os.Stat(out)
		created = os.IsNotExist(statErr)
	}
	lock, err = train.LockRunRank(c, out)
	return lock, created && err == nil, err
}

// interrupted describes where an interrupted run stopped and what can be
// resumed, from the step reached and the step of last/ (-1: none).
func interrupted(step, last int, out string) error {
	if last < 0 {
		return fmt.Errorf("interrupted at step %d, before the first checkpoint: there is nothing to resume", step)
	}
	return fmt.Errorf("interrupted at step %d; %s holds step %d (continue with -resume -out %s)", step, filepath.Join(out, "last"), last, out)
}

// applyFlags writes the model flags into cfg.
func applyFlags(cfg *gau.Config, f *flags, set map[string]bool) error {
	if f.seqLen > 0 {
		cfg.TrainLength = f.seqLen
	} else if set["seq-len"] {
		return fmt.Errorf("-seq-len %d must be at least 3", f.seqLen)
	}
	if err := f.method.Apply(cfg); err != nil {
		return err
	}
	// PI, NTK, YaRN and PoSE are trained for a target length.
	if methodflags.NeedsTarget(cfg.Method) && cfg.TargetLength == 0 {
		cfg.TargetLength = 64 * cfg.TrainLength
	}
	return nil
}

// checkFreshOut refuses to start a new run over an earlier one.
func checkFreshOut(out string, overwrite bool) error {
	for _, sub := range []string{"last", "best"} {
		if _, err := os.Stat(filepath.Join(out, sub)); err == nil && !overwrite {
			return fmt.Errorf("%s already holds a run; continue it with -resume, or start over with -overwrite", out)
		}
	}
	return nil
}

// heldOut says which held-out documents the run validates on: those that
// are neither test documents of the final evaluation nor as long as its
// longest length (testset.SplitHeldOut), so that no document a study
// tests on ever picks a checkpoint.
func heldOut(f *flags, cfg gau.Config) (train.HeldOut, error) {
	lengths := eval.DefaultLengths(cfg.TrainLength)
	if f.evalLengths != "" {
		var err error
		if lengths, err = eval.ParseLengths(f.evalLengths); err != nil {
			return train.HeldOut{}, fmt.Errorf("-eval-lengths: %w", err)
		}
	}
	return train.HeldOut{Rule: eval.TestSetLong, Test: f.evalDocs, MinLen: slices.Max(lengths), Seed: 42}, nil
}

// finalEval scores the best checkpoint at 2x..64x n0 with softmax and
// InfoScale and writes results.md and results.json next to it.
//
// Its forward passes are shared among c's ranks; rank 0 writes.
func finalEval(ctx context.Context, c collective.Comm, be backend.Backend, f *flags, docs []corpus.Document, stdout, stderr io.Writer) error {
	ck, err := checkpoint.Load(filepath.Join(f.out, "best"))
	if err != nil {
		return err
	}
	lengths := eval.DefaultLengths(ck.Config.TrainLength)
	if f.evalLengths != "" {
		if lengths, err = eval.ParseLengths(f.evalLengths); err != nil {
			return fmt.Errorf("-eval-lengths: %w", err)
		}
	}
	budget, err := cli.MemoryBudget("max-memory", f.maxMemory)
	if err != nil {
		return err
	}
	proto, err := eval.ParseProtocol(f.protocol)
	if err != nil {
		return err
	}
	testDocs, _, err := eval.TestDocuments(docs, ck.Vocab, f.evalDocs, slices.Max(lengths))
	if err != nil {
		return err
	}
	variants, err := eval.Variants(ck.Config, []string{"softmax", "infoscale"})
	if err != nil {
		return err
	}
	var progress io.Writer = stderr
	if f.quiet {
		progress = nil
	}
	rep, err := eval.Evaluate(ctx, ck.Config, ck.Params, ck.Vocab, testDocs, variants, eval.Options{Lengths: lengths, Protocol: proto, Progress: progress, Backend: be, MemoryBudget: budget.Bytes, Comm: c})
	if err != nil {
		return err
	}
	if c.Rank() != 0 {
		return nil
	}
	table := rep.Markdown()
	fmt.Fprintf(stdout, "\nLength extrapolation of %s (trained at n0 = %d):\n%s\n%s\n", filepath.Join(f.out, "best"), ck.Config.TrainLength, rep.Describe(), table)
	return writeResults(f.out, rep)
}

func writeResults(dir string, rep *eval.Report) error {
	md := fmt.Sprintf("%s\n\n%s", rep.Describe(), rep.Markdown())
	if err := os.WriteFile(filepath.Join(dir, train.ResultsMarkdown), []byte(md), 0o644); err != nil {
		return err
	}
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, train.ResultsJSON), js, 0o644)
}

func deref(x *float64) float64 {
	if x == nil {
		return 0
	}
	return *x
}
