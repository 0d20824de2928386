// Command suite runs the paper's baseline comparison: starting from models
// trained at n0 with RoPE and softmax (with and without CosScale), it
// fine-tunes the methods that need it (PI at an extended length, PoSE,
// ALiBi: 1000 steps each by default), applies the training-free ones (PI
// with scale L/n0 among them), and evaluates every method × normalisation
// at 2x..64x n0 into one table, with the outcome of every scored position
// kept (scores/, one gzipped CSV per configuration) for paired statistics.
//
//	go run ./cmd/suite -base runs/base/best -out runs/suite
//
// Built with -tags mpi and started by mpirun or srun, its processes share
// every fine-tune (data-parallel) and every evaluation (the forward
// passes), and rank 0 writes (docs/parallel.md).
//
// Run with -h for every flag.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/internal/runlock"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/study"
	"github.com/infoscale/gaualpha/train"
)

func main() {
	cli.Main("suite", func(args []string, stdout, stderr io.Writer) error {
		return mpi.Run(func(c collective.Comm) error { return run(c, args, stdout, stderr) })
	})
}

// suiteMethods are the methods the suite compares (attn.SuiteMethods): a
// fine-tuned one (PI at an extended length as pi-ft, PoSE, ALiBi) is
// trained from the base model first; the others apply at evaluation time
// (PI with scale L/n0 among them).
func suiteMethods() map[string]attn.SuiteMethod {
	out := map[string]attn.SuiteMethod{}
	for _, m := range attn.SuiteMethods() {
		out[m.Name] = m
	}
	return out
}

// defaultNorms are the normalisations the suite compares by default.
const defaultNorms = "softmax,softmax_plus,softmax_plus_n0,infoscale,infoscale_visible"

type options struct {
	bases, corpus, out, methods, norms, lengths, protocol, testset string
	device, precision                                              string // cpu or cuda; f32 or bf16 (opened as be)
	steps, batch, docs, offsets, piLen, positions, docLen          int
	lr                                                             float64
	seed                                                           uint64
	be                                                             backend.Backend
	comm                                                           collective.Comm // the processes sharing the work; rank 0 writes
	quiet                                                          bool
	attention                                                      string // the device's attention path (backend.Options)

	docset, configs, finetunes, passkeyLengths string
	finetuneOnly                               bool
	alibiSlope                                 float64
	passkeyNear, passkeyFar, passkeyEvery      int
	// keys is -configs parsed (nil: every method × normalisation);
	// minLen is the current base's length of a long held-out document
	// (set by suiteFor, read by fineTune for the validation documents).
	keys   []study.ConfigKey
	minLen int
	// log receives notes that -quiet does not silence (stderr).
	log io.Writer
}

// run is the command as member c of the group of processes (rank 0 alone
// writes and prints).
func run(c collective.Comm, args []string, stdout, stderr io.Writer) error {
	if c.Rank() != 0 {
		stdout, stderr = io.Discard, io.Discard
	}
	o := options{comm: c, log: stderr}
	var err error
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bases, "base", "", "comma-separated base checkpoint `dirs` (trained at n0 with RoPE; e.g. one with CosScale 0 and one with CosScale s); required")
	fs.StringVar(&o.corpus, "corpus", "embedded", "corpus for fine-tuning and the test documents")
	fs.StringVar(&o.out, "out", "runs/suite", "output `dir`: fine-tuned checkpoints, suite.md, suite.json, suite.csv, scores/ (every scored position per configuration)")
	var names []string
	for _, m := range attn.SuiteMethods() {
		names = append(names, m.Name)
	}
	fs.StringVar(&o.methods, "methods", strings.Join(names, ","), "methods to compare (pi: training-free, scale L/n0; pi-ft: fine-tuned at -pi-length)")
	fs.StringVar(&o.norms, "norm", defaultNorms, "normalisations to compare: softmax, softmax_plus (base 512 or the model's), softmax_plus_n0 (base n0), infoscale, infoscale_visible (n = keys a row of a masking method keeps; masking methods only)")
	fs.IntVar(&o.piLen, "pi-length", 0, "pi-ft: fine-tuning length L' (default 4·n0), scale L'/n0; the batch is scaled by n0/L' so a step sees as many tokens as the other fine-tunes")
	fs.IntVar(&o.positions, "positions", 0, "paper protocol: positions per document (0: all L)")
	fs.IntVar(&o.docLen, "doc-length", 0, "select the test documents as for this evaluation length (default: the longest of -lengths), so that runs at shorter lengths score the same documents")
	fs.StringVar(&o.lengths, "lengths", "", "evaluation lengths (default 2x..64x n0)")
	fs.StringVar(&o.protocol, "protocol", "fast", "evaluation protocol: fast or paper (see cmd/eval -h)")
	fs.IntVar(&o.docs, "docs", 10, "test documents")
	fs.StringVar(&o.testset, "testset", eval.TestSetLong, "test-set selection: long or spectral (see cmd/eval -h)")
	fs.IntVar(&o.offsets, "offsets", 4, "fast protocol: passes per document at long lengths")
	fs.IntVar(&o.steps, "finetune-steps", 1000, "fine-tuning steps of PI, PoSE and ALiBi (the paper: 1000)")
	fs.IntVar(&o.batch, "batch", 32, "fine-tuning batch")
	fs.Float64Var(&o.lr, "finetune-lr", 2e-4, "fine-tuning peak learning rate")
	fs.Uint64Var(&o.seed, "seed", 42, "fine-tuning seed")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress output")
	fs.StringVar(&o.device, "device", backend.DefaultDevice, "`cpu`, cuda or auto: where the fine-tunes and the evaluations run (auto: cuda where a GPU can be used, else cpu, said on stderr; cuda needs a binary built with -tags gpu)")
	fs.StringVar(&o.precision, "precision", "f32", "`f32` or bf16: bfloat16 inputs to the matrix products of the fine-tunes and evaluations (float32 accumulation), on the CPU and on -device cuda")
	fs.StringVar(&o.attention, "attention", "auto", "`auto`, fused or materialized: how -device cuda computes attention (auto: the L×L matrices on cuBLAS where they fit and no window removes pairs, else the fused kernels; see docs/gpu.md)")
	fs.StringVar(&o.docset, "docset", eval.SetTest, "held-out documents to evaluate: test (the -docs test documents) or dev (the other held-out documents as long as the longest length, never a test document: for choosing configurations)")
	fs.StringVar(&o.configs, "configs", "", "evaluate exactly these `configurations` instead of -methods × -norm: comma-separated cosS/METHOD/NORM (e.g. cos0/ntk/softmax_plus_n0,cos128/pi-ft/infoscale), each on the base of that CosScale")
	fs.StringVar(&o.finetunes, "finetunes", "", "`dir` of the fine-tuned models (cosS/ft-METHOD; default -out): reused when they match, trained there otherwise")
	fs.BoolVar(&o.finetuneOnly, "finetune-only", false, "fine-tune the methods that need it and stop (no evaluation)")
	fs.Float64Var(&o.alibiSlope, "alibi-slope", 0, "ALiBi fine-tunes: slope m of Press et al. on the scaled logits (0: the default, 2^-8, one head)")
	fs.StringVar(&o.passkeyLengths, "passkey-lengths", "", "also run the passkey probe at these `lengths` on every evaluated configuration (passkey.csv; needs -passkey-near or -passkey-far)")
	fs.IntVar(&o.passkeyNear, "passkey-near", 0, "passkey probe: keys per document and length at distances inside the base's training length n0")
	fs.IntVar(&o.passkeyFar, "passkey-far", 0, "passkey probe: keys per document and length at distances beyond n0")
	fs.IntVar(&o.passkeyEvery, "passkey-every", 0, "fine-tunes: make one training sequence in `n` a passkey sample, as cmd/train -passkey-every (0: none)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: suite -base DIR[,DIR] [flags]\n\nFine-tunes PI, PoSE and ALiBi from each base model, applies the training-free\nmethods, and evaluates every method × normalisation at 2x..64x n0 into one table.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.bases == "" {
		return fmt.Errorf("-base is required: a checkpoint trained at n0 with RoPE (make suite trains one)")
	}
	for _, m := range strings.Split(o.methods, ",") {
		if _, ok := suiteMethods()[strings.TrimSpace(m)]; !ok {
			return fmt.Errorf("-methods: unknown method %q (want %s)", m, strings.Join(names, ", "))
		}
	}
	for _, n := range strings.Split(o.norms, ",") {
		if n = strings.TrimSpace(n); n != eval.NormPlusN0 && n != eval.NormInfoVisible {
			if _, err := attn.ParseNorm(n); err != nil {
				return fmt.Errorf("-norm: %w", err)
			}
		}
	}
	if o.piLen < 0 || o.positions < 0 || o.docLen < 0 {
		return fmt.Errorf("-pi-length, -positions and -doc-length must be >= 0")
	}
	if o.configs != "" {
		if set := flagSet(fs); set["methods"] || set["norm"] {
			return fmt.Errorf("-configs names the configurations: -methods and -norm cannot be given with it")
		}
		if o.keys, err = parseConfigs(o.configs); err != nil {
			return err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if err := o.validate(set); err != nil {
		return err
	}
	proto, err := eval.ParseProtocol(o.protocol)
	if err != nil {
		return err
	}
	if o.finetunes == "" {
		o.finetunes = o.out
	}
	if o.be, err = backend.OpenOptions(backend.Options{Device: o.device, Precision: o.precision, Attention: o.attention, Log: stderr, Ordinal: c.LocalRank()}); err != nil {
		return err
	}
	defer o.be.Close()
	var progress io.Writer = stderr
	if o.quiet || c.Rank() != 0 {
		progress = nil
	}
	docs, err := corpus.Open(o.corpus)
	if err != nil {
		return err
	}
	ctx, stop := cli.OnInterrupt(context.Background(), stderr, "stopping; finished fine-tunes stay and are reused")
	defer stop()
	start := time.Now()
	var all []study.SuiteRow
	var n0 int
	var reports []*eval.Report
	var probe []study.PasskeyRow
	var docIDs []string
	for _, base := range strings.Split(o.bases, ",") {
		rows, rep, pk, ids, err := suiteFor(ctx, strings.TrimSpace(base), docs, proto, o, progress)
		if err != nil {
			return err
		}
		if o.finetuneOnly {
			continue
		}
		all = append(all, rows...)
		reports = append(reports, rep...)
		probe = append(probe, pk...)
		if len(rep) > 0 {
			n0 = rep[0].TrainLen
			docIDs = ids
		}
	}
	if o.finetuneOnly {
		return nil
	}
	if len(reports) == 0 {
		return fmt.Errorf("-configs: no configuration is on a base of -base (their CosScales are the bases' own)")
	}
	s := &study.Suite{Rows: all, Protocol: reports[0].Setup(), Seconds: time.Since(start).Seconds(), TrainLen: n0,
		Command: "suite " + strings.Join(args, " "), DocSet: o.docset, Documents: docIDs, Seed: o.seed}
	if c.Rank() != 0 {
		return nil
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if o.passkeyLengths != "" {
		if err := study.Passkey.Write(filepath.Join(o.out, study.Passkey.Name), probe); err != nil {
			return err
		}
	}
	md := s.Markdown()
	fmt.Fprint(stdout, md)
	if err := os.WriteFile(filepath.Join(o.out, "suite.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := study.SuiteCSV.Write(filepath.Join(o.out, "suite.csv"), s.CSVRows()); err != nil {
		return err
	}
	return study.WriteSuite(filepath.Join(o.out, "suite.json"), s)
}

// suiteFor fine-tunes and evaluates every method from one base model (or
// the configurations of -configs on its CosScale), and runs the passkey
// probe on them when asked; it also returns the ids of the documents
// evaluated.
func suiteFor(ctx context.Context, base string, docs []corpus.Document, proto eval.Protocol, o options, progress io.Writer) ([]study.SuiteRow, []*eval.Report, []study.PasskeyRow, []string, error) {
	ck, err := checkpoint.Load(base)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if ck.Config.Method != "rope" {
		return nil, nil, nil, nil, fmt.Errorf("base %s was trained with %s; the suite starts from RoPE models", base, ck.Config.Method)
	}
	lengths := eval.DefaultLengths(ck.Config.TrainLength)
	if o.lengths != "" {
		if lengths, err = eval.ParseLengths(o.lengths); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	if err := checkLengths(ck.Config, lengths, o.lengths != ""); err != nil {
		return nil, nil, nil, nil, err
	}
	minLen := slices.Max(lengths)
	if o.docLen > 0 {
		minLen = o.docLen
	}
	o.minLen = minLen
	tag := fmt.Sprintf("cos%g", ck.Config.CosScale)
	methods, norms := strings.Split(o.methods, ","), strings.Split(o.norms, ",")
	if o.keys != nil {
		methods, norms = nil, nil
		for _, k := range o.keys {
			if k.CosScale == ck.Config.CosScale && !slices.Contains(methods, k.SuiteMethod()) {
				methods = append(methods, k.SuiteMethod())
			}
		}
	}
	var testDocs [][]int
	var docIDs []string
	if !o.finetuneOnly && len(methods) > 0 {
		if testDocs, docIDs, err = eval.HeldOutDocuments(o.testset, o.docset, docs, ck.Vocab, o.docs, minLen, o.seed); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	var rows []study.SuiteRow
	var reps []*eval.Report
	var probe []study.PasskeyRow
	for _, m := range methods {
		m = strings.TrimSpace(m)
		sm := suiteMethods()[m]
		if o.finetuneOnly && !sm.FineTuned {
			continue
		}
		model := ck
		if sm.FineTuned {
			dir := filepath.Join(o.finetunes, tag, "ft-"+sm.Method.String())
			if model, err = fineTune(ctx, ck, m, docs, dir, o, progress); err != nil {
				return nil, nil, nil, nil, fmt.Errorf("fine-tuning %s: %w", m, err)
			}
		}
		if o.finetuneOnly {
			continue
		}
		cfg := model.Config
		cfg.Method = sm.Method.String()
		if !sm.FineTuned {
			cfg.TargetLength = 0 // training-free: scale L/n0 at each length
		}
		mNorms := norms
		if o.keys != nil {
			mNorms = nil
			for _, k := range o.keys {
				if k.CosScale == ck.Config.CosScale && k.SuiteMethod() == m {
					mNorms = append(mNorms, k.Norm)
				}
			}
		}
		variants, names, err := eval.NormVariants(cfg, mNorms)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		if o.keys != nil && len(variants) < len(mNorms) {
			return nil, nil, nil, nil, fmt.Errorf("-configs: a normalisation of %s on %s does not apply to it", m, tag)
		}
		// The scores of every position are kept for the paired statistics,
		// written per configuration under scores/.
		rep, err := eval.Evaluate(ctx, cfg, model.Params, model.Vocab, testDocs, variants,
			eval.Options{Lengths: lengths, Protocol: proto, Positions: o.positions, Offsets: o.offsets, Backend: o.be, KeepScores: true, Comm: o.comm})
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("evaluating %s: %w", m, err)
		}
		if o.passkeyLengths != "" {
			pl, _ := eval.ParseLengths(o.passkeyLengths)
			res, err := eval.Passkey(ctx, cfg, model.Params, model.Vocab, testDocs, variants, eval.PasskeyOptions{Lengths: pl, N0: ck.Config.TrainLength,
				Near: o.passkeyNear, Far: o.passkeyFar, Seed: o.seed, Backend: o.be, Progress: progress})
			if err != nil {
				return nil, nil, nil, nil, fmt.Errorf("passkey probe of %s: %w", m, err)
			}
			for _, p := range res {
				i := slices.IndexFunc(variants, func(v eval.Variant) bool { return v.Name == p.Variant })
				probe = append(probe, study.PasskeyRow{CosScale: cfg.CosScale, Method: cfg.Method, FineTuned: sm.FineTuned, Norm: names[i],
					Length: p.Length, Class: p.Class, Doc: p.Doc, Keys: p.Score.Keys, KeysRight: p.Score.KeysRight, Digits: p.Score.Digits, DigitsRight: p.Score.DigitsRight})
			}
		}
		reps = append(reps, rep)
		for i, va := range variants {
			r := study.SuiteRow{Base: base, CosScale: cfg.CosScale, Method: cfg.Method, Norm: names[i], FineTune: sm.FineTuned,
				Scores: study.ScoresFile(tag, m, names[i])}
			var kept []eval.Result
			for _, L := range lengths {
				res, _ := rep.Get(va.Name, L)
				kept = append(kept, res)
				res.Scores = nil
				r.Results = append(r.Results, res)
				if progress != nil {
					fmt.Fprintf(progress, "%s %-22s %-18s L=%-6d acc %.4f  loss %.4f  (%d tokens)\n", tag, m, names[i], L, res.Accuracy, res.Loss, res.Tally.Count)
				}
			}
			if o.comm.Rank() == 0 {
				if err := study.WriteScores(filepath.Join(o.out, r.Scores), kept); err != nil {
					return nil, nil, nil, nil, err
				}
			}
			rows = append(rows, r)
		}
	}
	return rows, reps, probe, docIDs, nil
}

// flagSet returns the flags given on the command line.
func flagSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// parseConfigs parses -configs: cosS/METHOD/NORM entries, each once, with
// a suite method and a normalisation the suite knows.
func parseConfigs(list string) ([]study.ConfigKey, error) {
	var keys []study.ConfigKey
	for _, f := range strings.Split(list, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		k, err := study.ParseConfigKey(f)
		if err != nil {
			return nil, fmt.Errorf("-configs: %w", err)
		}
		if _, ok := suiteMethods()[k.SuiteMethod()]; !ok {
			return nil, fmt.Errorf("-configs: %q: %s is not a method of the suite", f, k.SuiteMethod())
		}
		if k.Norm != eval.NormPlusN0 && k.Norm != eval.NormInfoVisible {
			if _, err := attn.ParseNorm(k.Norm); err != nil {
				return nil, fmt.Errorf("-configs: %q: %w", f, err)
			}
		}
		if slices.Contains(keys, k) {
			return nil, fmt.Errorf("-configs: %q appears twice", f)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("-configs: no configuration in %q", list)
	}
	return keys, nil
}

// fineTune trains method m from the base checkpoint (reusing a finished
// fine-tune in dir).
func fineTune(ctx context.Context, base *checkpoint.Checkpoint, m string, docs []corpus.Document, dir string, o options, progress io.Writer) (*checkpoint.Checkpoint, error) {
	cfg := base.Config
	cfg.Method = suiteMethods()[m].Method.String()
	batch := o.batch
	switch m {
	case "pi-ft":
		// PI as Chen et al. fine-tune it: at an extended length L' with
		// scale L'/n0. The checkpoint's training length is L' and its
		// target length L'·L'/n0, so that the scale target/train = L'/n0
		// holds at every evaluation length; InfoScale's and softmax_plus_n0's
		// reference is then L', the length the model was fine-tuned at.
		n0 := cfg.TrainLength
		L := o.piLen
		if L == 0 {
			L = 4 * n0
		}
		if L <= n0 {
			return nil, fmt.Errorf("-pi-length %d must exceed n0 = %d", L, n0)
		}
		cfg.TrainLength, cfg.TargetLength = L, L*L/n0
		batch = max(1, o.batch*n0/L)
	case "pose":
		cfg.TargetLength = 64 * cfg.TrainLength
	case "alibi":
		if o.alibiSlope > 0 {
			cfg.ALiBiSlope = attn.PressALiBiSlope(o.alibiSlope, cfg.KeySize)
		}
	}
	opts := train.DefaultOptions()
	opts.Steps, opts.Batch, opts.LR, opts.Seed = o.steps, batch, o.lr, o.seed
	opts.EvalEvery = max(1, o.steps/4)
	opts.PasskeyEvery = o.passkeyEvery
	if m == "pose" {
		opts.PoSE, opts.PoSETarget = true, cfg.TargetLength
	}
	reuse := false
	if o.comm.Rank() == 0 { // rank 0 decides, before it may clear the folder
		if ck, err := checkpoint.Load(filepath.Join(dir, "best")); err == nil && sameFineTune(ck, cfg, opts) {
			last, err := checkpoint.Load(filepath.Join(dir, "last"))
			reuse = err == nil && last.State != nil && last.State.Step == o.steps
		}
	}
	reuse, err := collective.BroadcastJSON(o.comm, reuse, 0)
	if err != nil {
		return nil, err
	}
	if reuse {
		if progress != nil {
			fmt.Fprintf(progress, "reusing the fine-tuned %s in %s\n", m, dir)
		}
		return checkpoint.Load(filepath.Join(dir, "best"))
	}
	// Validation on the held-out documents that are neither test nor
	// development documents (testset.SplitHeldOut).
	trs, vas, note, err := train.Data(docs, base.Vocab, cfg.TrainLength, train.HeldOut{Rule: o.testset, Test: o.docs, MinLen: o.minLen, Seed: o.seed})
	if err != nil {
		return nil, err
	}
	if note != "" {
		fmt.Fprintf(o.log, "note: fine-tuning %s: %s\n", m, strings.Replace(note, "ask for fewer test documents", "lower -docs", 1))
	}
	if err := checkFineTune(m, cfg, opts, trs, vas); err != nil {
		return nil, err
	}
	params := cloneParams(base)
	tr, err := train.NewRank(o.comm, cfg, base.Vocab, params, trs, vas, opts)
	if err != nil {
		return nil, err
	}
	// The fine-tune's folder is this suite's alone while it runs: the
	// earlier contents go only once its lock is held (by rank 0, which
	// alone writes there).
	lock, err := train.LockRunRank(o.comm, dir)
	if err != nil {
		return nil, err
	}
	if lock != nil {
		defer lock.Release()
	}
	tr.OutDir, tr.Lock, tr.Progress, tr.Corpus = dir, lock, progress, o.corpus
	if err := tr.Use(o.be); err != nil {
		return nil, err
	}
	defer tr.Close()
	if o.comm.Rank() == 0 {
		if err := clearRun(dir); err != nil {
			return nil, err
		}
	}
	if progress != nil {
		fmt.Fprintf(progress, "fine-tuning %s for %d steps of %d×%d tokens into %s\n", m, o.steps, batch, cfg.TrainLength, dir)
	}
	if err := tr.Run(ctx); err != nil {
		return nil, err
	}
	if err := tr.Close(); err != nil {
		return nil, err
	}
	if err := o.comm.Barrier(); err != nil { // rank 0 has written best/
		return nil, err
	}
	return checkpoint.Load(filepath.Join(dir, "best"))
}

// clearRun removes everything in a run folder but its lock file.
func clearRun(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == runlock.FileName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// cloneParams copies the base weights so that every fine-tune starts from
// the same point.
func cloneParams(ck *checkpoint.Checkpoint) *gau.Params {
	p := gau.ZeroParams(ck.Config, tensor.Float32)
	for i, n := range ck.Params.Named() {
		copy(p.Named()[i].T.Data().([]float32), n.T.Data().([]float32))
	}
	return p
}

// sameFineTune reports whether a checkpoint is the fine-tune that cfg and
// opts would make: the same model configuration and training options.
func sameFineTune(ck *checkpoint.Checkpoint, cfg gau.Config, opts train.Options) bool {
	saved, err := train.SavedOptions(ck.State)
	if err != nil || saved != opts {
		return false
	}
	a, err1 := ck.Config.Marshal()
	b, err2 := cfg.Marshal()
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
