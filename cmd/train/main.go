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
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
	"github.com/infoscale/gaualpha/train"
)

func main() { mpi.Main("train", run) }

// flags are the command line's values; opts holds the training options
// that flags set directly (all but the steps).
type flags struct {
	config, corpus, out, init, device, precision, attention, evalLengths, protocol string
	steps, seqLen, evalDocs, minCount, vocabSize                                   int
	maxMemory                                                                      float64
	resume, overwrite, noEval, quiet                                               bool
	opts                                                                           train.Options
	method                                                                         *methodflags.Flags
	// lengthList and proto are -eval-lengths (nil: the default) and
	// -protocol, parsed by validate.
	lengthList []int
	proto      eval.Protocol
}

func parseFlags(args []string, stderr io.Writer) (*flags, *flag.FlagSet, error) {
	f := &flags{opts: train.DefaultOptions()}
	o := &f.opts
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	fs.IntVar(&o.Batch, "batch", o.Batch, "sequences per step")
	fs.Float64Var(&o.LR, "lr", o.LR, "peak learning rate (linear warm-up, then linear decay to 0)")
	fs.Float64Var(&o.WarmupFrac, "warmup", o.WarmupFrac, "share of the steps spent warming up")
	fs.Float64Var(&o.WeightDecay, "weight-decay", o.WeightDecay, "AdamW decoupled weight decay")
	fs.Float64Var(&o.ClipNorm, "clip", o.ClipNorm, "gradient-norm clip (0 disables)")
	fs.IntVar(&o.PasskeyEvery, "passkey-every", 0, "make one training sequence in `n` a passkey sample: a key of 5 digits stated behind #KEY= and asked again with its digits masked, which gives the model the long-range retrieval skill the passkey probe measures (0: none; the vocabulary needs # K E Y = and the digits)")
	fs.IntVar(&o.PasskeyFirst, "passkey-first", 0, "with -passkey-every: every sequence of the first `n` steps a passkey sample (a model learns the skill from samples alone, not from a small share among masked-LM ones)")
	fs.BoolVar(&o.KeepValidations, "keep-validations", false, "keep the weights of every validation's step in val/step-NNNNNN of -out (for comparisons at matched validation loss)")
	fs.Float64Var(&o.DivergeRatio, "diverge-ratio", o.DivergeRatio, "stop when a validation loss exceeds this multiple of the smaller of the first validation loss and ln(vocabulary size), the loss of a uniform guess; no checkpoint is written for that step (0: never stop)")
	fs.IntVar(&f.seqLen, "seq-len", 0, "training length n0, at least 3 (default 64, or the config's train_length)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed (weights, data order, masking, dropout)")
	f.method = methodflags.Register(fs, "train with")
	f.method.RegisterNorm("training normalisation: " + strings.Join(attn.NormNames(), ", ") + " (default: the config's, softmax)")
	fs.IntVar(&o.EvalEvery, "eval-every", 0, "steps between validations and checkpoints (0: once per epoch, at most every steps/10)")
	fs.IntVar(&o.EvalSeqs, "eval-seqs", o.EvalSeqs, "validation sequences scored each time (0: all of them)")
	fs.IntVar(&o.LogEvery, "log-every", o.LogEvery, "steps between metrics.jsonl lines (0: only the validation lines)")
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
	var progress io.Writer = stderr
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
	folder, err := train.OpenFolder(c, f.out)
	if err != nil {
		return err
	}
	defer func() { folder.Close(err != nil) }()

	// Model configuration and vocabulary; the weights come after the
	// memory check.
	start, err := startModel(f, set, docs)
	if err != nil {
		return err
	}
	printNotes(stderr, start)
	cfg, resume := start.Config, start.Resumed
	if !f.resume {
		if err := applyFlags(&cfg, f); err != nil {
			return err
		}
		if err := cfg.Validate(); err != nil {
			if f.config != "" {
				return fmt.Errorf("%s: %w", f.config, err)
			}
			return err
		}
		if err := train.CheckNewRun(f.out, f.overwrite); err != nil {
			return err
		}
	}

	opts := f.opts
	opts.Steps = cmp.Or(f.steps, recommendedSteps)
	if cfg.Method == "pose" {
		opts.PoSE, opts.PoSETarget = true, cfg.TargetLength
	}
	if resume != nil && resume.State != nil {
		if opts, err = train.SavedOptions(resume.State); err != nil { // a resumed run keeps its options
			return fmt.Errorf("-resume %s: %w", filepath.Join(f.out, "last"), err)
		}
	}

	// The run validates on the held-out documents that are neither test
	// documents of the final evaluation nor as long as its longest length
	// (testset.SplitHeldOut), so that no document a study tests on ever
	// picks a checkpoint.
	held := train.HeldOut{Rule: eval.TestSetLong, Test: f.evalDocs, MinLen: slices.Max(f.lengths(cfg.TrainLength)), Seed: 42}
	trainSeqs, valSeqs, valNote, err := train.Data(docs, start.Vocab, cfg.TrainLength, held)
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
	budget.SoftLimit()
	start.Config = cfg
	params, err := start.Params(opts.Seed)
	if err != nil {
		return err
	}
	printNotes(stderr, start)
	tr, err := train.NewRank(c, cfg, start.Vocab, params, trainSeqs, valSeqs, opts)
	if err != nil {
		return err
	}
	if resume != nil {
		if err := tr.Resume(resume); err != nil {
			return fmt.Errorf("cannot resume %s: %w", filepath.Join(f.out, "last"), err)
		}
	}
	tr.OutDir, tr.Lock, tr.Progress, tr.Corpus = f.out, folder.Lock, progress, f.corpus
	if err := tr.Use(be); err != nil { // after Resume or not: the backend gets the current state
		return err
	}
	defer tr.Close()
	fmt.Fprintf(stderr, "%s\n%s\n%s\n", train.ModelLine(cfg, params), tr.DataLine(f.corpus, len(valSeqs)), memLine)

	ctx, cancel := cli.OnInterrupt(context.Background(), stderr, "stopping after this step; the last checkpoint stays valid")
	defer cancel()
	firstStep := tr.State.Step
	if err := tr.Run(ctx); err != nil {
		if ctx.Err() != nil {
			return interrupted(tr.State.Step, tr.LastCheckpoint(), f.out)
		}
		return err
	}
	fmt.Fprintln(stderr, tr.Summary(firstStep))
	if f.noEval {
		return nil
	}
	if err := tr.Close(); err != nil { // frees the device's copy before the evaluation loads best/
		return err
	}
	if err := c.Barrier(); err != nil { // rank 0 has written best/
		return err
	}
	return finalEval(ctx, c, be, f, docs, progress, stdout)
}

// startModel says where the run's model comes from: the run it resumes,
// the -init checkpoint, or a new model of -config or the default
// configuration, whose vocabulary the corpus gives.
func startModel(f *flags, set map[string]bool, docs []corpus.Document) (*train.Start, error) {
	switch {
	case f.resume:
		return train.ResumeRun(f.out)
	case f.init != "":
		// The checkpoint is read whole now (a run may be writing it).
		budget, err := cli.MemoryBudget("max-memory", f.maxMemory)
		if err != nil {
			return nil, err
		}
		return train.LoadInit(f.init, f.config, budget)
	}
	cfg, maxVocab := gau.DefaultConfig(), f.vocabSize
	if f.config != "" {
		// The config's vocab_size, if any, caps the vocabulary.
		var err error
		if cfg, err = gau.OpenConfig(f.config); err != nil {
			return nil, err
		}
		if cfg.VocabSize > 0 && !set["vocab-size"] {
			maxVocab = cfg.VocabSize
		}
	}
	return train.NewModel(cfg, docs, f.minCount, maxVocab)
}

// printNotes prints the start's notes, once.
func printNotes(stderr io.Writer, s *train.Start) {
	for _, n := range s.Notes {
		fmt.Fprintln(stderr, "note:", n)
	}
	s.Notes = nil
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
func applyFlags(cfg *gau.Config, f *flags) error {
	if f.seqLen > 0 { // at least 3 (validate)
		cfg.TrainLength = f.seqLen
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

// finalEval scores the best checkpoint at 2x..64x n0 with softmax and
// InfoScale and writes results.md and results.json next to it.
//
// Its forward passes are shared among c's ranks; rank 0 writes.
func finalEval(ctx context.Context, c collective.Comm, be backend.Backend, f *flags, docs []corpus.Document, progress, stdout io.Writer) error {
	ck, err := checkpoint.Load(filepath.Join(f.out, "best"))
	if err != nil {
		return err
	}
	lengths := f.lengths(ck.Config.TrainLength)
	budget, err := cli.MemoryBudget("max-memory", f.maxMemory)
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
	rep, err := eval.Evaluate(ctx, ck.Config, ck.Params, ck.Vocab, testDocs, variants, eval.Options{Lengths: lengths, Protocol: f.proto, Progress: progress, Backend: be, MemoryBudget: budget.Bytes, Comm: c})
	if err != nil {
		return err
	}
	if c.Rank() != 0 {
		return nil
	}
	table := rep.Markdown()
	fmt.Fprintf(stdout, "\nLength extrapolation of %s (trained at n0 = %d):\n%s\n%s\n", filepath.Join(f.out, "best"), ck.Config.TrainLength, rep.Describe(), table)
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	return train.WriteResults(f.out, fmt.Sprintf("%s\n\n%s", rep.Describe(), table), js)
}

// lengths are the final table's lengths: -eval-lengths, or 2x..64x n0.
func (f *flags) lengths(n0 int) []int {
	if f.lengthList != nil {
		return f.lengthList
	}
	return eval.DefaultLengths(n0)
}
