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
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/baseline"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/collective/mpi"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/study"
)

func main() { mpi.Main("suite", run) }

// defaultNorms are the normalisations the suite compares by default.
const defaultNorms = "softmax,softmax_plus,softmax_plus_n0,infoscale,infoscale_visible"

type options struct {
	bases, corpus, out, methods, norms, lengths, protocol, testset string
	device, precision                                              string // cpu or cuda; f32 or bf16 (opened as be)
	steps, batch, docs, offsets, piLen, positions, docLen          int
	lr                                                             float64
	seed                                                           uint64
	quiet                                                          bool
	attention                                                      string // the device's attention path (backend.Options)

	docset, configs, finetunes, passkeyLengths string
	finetuneOnly                               bool
	alibiSlope                                 float64
	passkeyNear, passkeyFar, passkeyEvery      int
	// keys is -configs parsed (nil: every method × normalisation).
	keys []study.ConfigKey
}

// run is the command as member c of the group of processes (rank 0 alone
// writes and prints).
func run(c collective.Comm, args []string, stdout, stderr io.Writer) error {
	if c.Rank() != 0 {
		stdout, stderr = io.Discard, io.Discard
	}
	var o options
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
		if _, ok := baseline.Method(strings.TrimSpace(m)); !ok {
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
	be, err := backend.OpenOptions(backend.Options{Device: o.device, Precision: o.precision, Attention: o.attention, Log: stderr, Ordinal: c.LocalRank()})
	if err != nil {
		return err
	}
	defer be.Close()
	so := baseline.Options{Out: o.out, FineTunes: o.finetunes, Corpus: o.corpus, Methods: strings.Split(o.methods, ","), Norms: strings.Split(o.norms, ","), Keys: o.keys,
		DocLen: o.docLen, Protocol: proto, Positions: o.positions, Offsets: o.offsets, TestSet: o.testset, DocSet: o.docset, Docs: o.docs, Seed: o.seed,
		FineTuneOnly: o.finetuneOnly, Steps: o.steps, Batch: o.batch, LR: o.lr, PiLen: o.piLen, AlibiSlope: o.alibiSlope, PasskeyEvery: o.passkeyEvery,
		PasskeyNear: o.passkeyNear, PasskeyFar: o.passkeyFar, Backend: be, Comm: c, Progress: stderr, Log: stderr}
	if o.lengths != "" {
		so.Lengths, _ = eval.ParseLengths(o.lengths) // validated above
	}
	if o.passkeyLengths != "" {
		so.PasskeyLengths, _ = eval.ParseLengths(o.passkeyLengths) // validated above
	}
	if o.quiet || c.Rank() != 0 {
		so.Progress = nil
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
		res, err := baseline.FromBase(ctx, strings.TrimSpace(base), docs, so)
		if err != nil {
			return err
		}
		if o.finetuneOnly {
			continue
		}
		all = append(all, res.Rows...)
		reports = append(reports, res.Reports...)
		probe = append(probe, res.Passkey...)
		if len(res.Reports) > 0 {
			n0 = res.Reports[0].TrainLen
			docIDs = res.Documents
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
		if _, ok := baseline.Method(k.SuiteMethod()); !ok {
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
