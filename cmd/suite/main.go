// Command suite runs the paper's baseline comparison: starting from models
// trained at n0 with RoPE and softmax (with and without CosScale), it
// fine-tunes the methods that need it (PI, PoSE, ALiBi: 1000 steps each by
// default), applies the training-free ones, and evaluates every method ×
// normalisation at 2x..64x n0 into one table.
//
//	go run ./cmd/suite -base runs/base/best -out runs/suite
//
// Run with -h for every flag.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/internal/device"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/layers"
	"github.com/infoscale/gaualpha/train"
)

func main() { cli.Main("suite", run) }

// fineTuned lists the methods the paper fine-tunes (spec section 3).
var fineTuned = map[string]bool{"pi": true, "pose": true, "alibi": true}

type options struct {
	bases, corpus, out, methods, norms, lengths, protocol, testset string
	device, precision                                              string // cpu or cuda (parsed); f32 or bf16
	steps, batch, docs, offsets                                    int
	lr                                                             float64
	seed                                                           uint64
	quiet                                                          bool
}

func run(args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bases, "base", "", "comma-separated base checkpoint `dirs` (trained at n0 with RoPE; e.g. one with CosScale 0 and one with CosScale s); required")
	fs.StringVar(&o.corpus, "corpus", "embedded", "corpus for fine-tuning and the test documents")
	fs.StringVar(&o.out, "out", "runs/suite", "output `dir`: fine-tuned checkpoints, suite.md, suite.json, suite.csv")
	fs.StringVar(&o.methods, "methods", "rope,pi,ntk,yarn,pose,alibi,streamingllm,lminfinite,rerope,window", "methods to compare")
	fs.StringVar(&o.norms, "norm", "softmax,softmax_plus,infoscale", "normalisations to compare")
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
	fs.StringVar(&o.device, "device", "cpu", "`cpu` or cuda: where the fine-tunes and the evaluations run (cuda needs a binary built with -tags gpu)")
	fs.StringVar(&o.precision, "precision", "f32", "`f32` or bf16: bfloat16 inputs to the matrix products of the fine-tunes and evaluations (float32 accumulation; -device cuda only)")
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
	proto, err := eval.ParseProtocol(o.protocol)
	if err != nil {
		return err
	}
	kind, err := device.Parse(o.device)
	if err != nil {
		return err
	}
	o.device = string(kind)
	if _, err := device.Precision(kind, o.precision); err != nil {
		return err
	}
	var progress io.Writer = stderr
	if o.quiet {
		progress = nil
	}
	docs, err := corpus.Open(o.corpus)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	var all []row
	var n0 int
	var reports []*eval.Report
	for _, base := range strings.Split(o.bases, ",") {
		rows, rep, err := suiteFor(ctx, strings.TrimSpace(base), docs, proto, o, progress)
		if err != nil {
			return err
		}
		all = append(all, rows...)
		reports = append(reports, rep...)
		n0 = rep[0].TrainLen
	}
	s := &summary{Rows: all, Protocol: reports[0].Setup(), Seconds: time.Since(start).Seconds(), TrainLen: n0,
		Command: "suite " + strings.Join(args, " ")}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	md := s.markdown()
	fmt.Fprint(stdout, md)
	if err := os.WriteFile(filepath.Join(o.out, "suite.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "suite.csv"), []byte(s.csv()), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(o.out, "suite.json"), append(js, '\n'), 0o644)
}

// row is one method × normalisation of one base model, across lengths.
type row struct {
	Base     string        `json:"base"`
	CosScale float64       `json:"cosscale"`
	Method   string        `json:"method"`
	Norm     string        `json:"norm"`
	FineTune bool          `json:"fine_tuned"`
	Results  []eval.Result `json:"results"`
}

// suiteFor fine-tunes and evaluates every method from one base model.
func suiteFor(ctx context.Context, base string, docs []corpus.Document, proto eval.Protocol, o options, progress io.Writer) ([]row, []*eval.Report, error) {
	ck, err := train.Load(base)
	if err != nil {
		return nil, nil, err
	}
	if ck.Config.Method != "rope" {
		return nil, nil, fmt.Errorf("base %s was trained with %s; the suite starts from RoPE models", base, ck.Config.Method)
	}
	lengths := eval.DefaultLengths(ck.Config.TrainLength)
	if o.lengths != "" {
		if lengths, err = eval.ParseLengths(o.lengths); err != nil {
			return nil, nil, err
		}
	}
	testDocs, _, err := eval.TestDocumentsBy(o.testset, docs, ck.Vocab, o.docs, slices.Max(lengths), o.seed)
	if err != nil {
		return nil, nil, err
	}
	norms := strings.Split(o.norms, ",")
	tag := fmt.Sprintf("cos%g", ck.Config.CosScale)
	var rows []row
	var reps []*eval.Report
	for _, m := range strings.Split(o.methods, ",") {
		m = strings.TrimSpace(m)
		model := ck
		if fineTuned[m] {
			dir := filepath.Join(o.out, tag, "ft-"+m)
			if model, err = fineTune(ctx, ck, m, docs, dir, o, progress); err != nil {
				return nil, nil, fmt.Errorf("fine-tuning %s: %w", m, err)
			}
		}
		cfg := model.Config
		cfg.Method = m
		variants, err := eval.Variants(cfg, norms)
		if err != nil {
			return nil, nil, err
		}
		rep, err := eval.Evaluate(ctx, cfg, model.Params, model.Vocab, testDocs, variants,
			eval.Options{Lengths: lengths, Protocol: proto, Offsets: o.offsets, Progress: progress, Device: o.device, Precision: o.precision})
		if err != nil {
			return nil, nil, fmt.Errorf("evaluating %s: %w", m, err)
		}
		reps = append(reps, rep)
		for i, va := range variants {
			r := row{Base: base, CosScale: cfg.CosScale, Method: m, Norm: va.Policy.Norm.String(), FineTune: fineTuned[m]}
			for _, L := range lengths {
				res, _ := rep.Get(variants[i].Name, L)
				r.Results = append(r.Results, res)
			}
			rows = append(rows, r)
		}
	}
	return rows, reps, nil
}

// fineTune trains method m from the base checkpoint (reusing a finished
// fine-tune in dir).
func fineTune(ctx context.Context, base *train.Checkpoint, m string, docs []corpus.Document, dir string, o options, progress io.Writer) (*train.Checkpoint, error) {
	if ck, err := train.Load(filepath.Join(dir, "best")); err == nil && ck.State != nil &&
		ck.State.Options.Steps == o.steps && ck.Config.Method == m {
		if last, err := train.Load(filepath.Join(dir, "last")); err == nil && last.State != nil && last.State.Step == o.steps {
			if progress != nil {
				fmt.Fprintf(progress, "reusing the fine-tuned %s in %s\n", m, dir)
			}
			return ck, nil
		}
	}
	cfg := base.Config
	cfg.Method = m
	if m == "pi" || m == "pose" {
		cfg.TargetLength = 64 * cfg.TrainLength
	}
	trDocs, vaDocs := corpus.Split(docs, 0.8)
	trs, err := train.Sequences(trDocs, base.Vocab, cfg.TrainLength)
	if err != nil {
		return nil, err
	}
	vas, err := train.Sequences(vaDocs, base.Vocab, cfg.TrainLength)
	if err != nil {
		return nil, err
	}
	opts := train.DefaultOptions()
	opts.Steps, opts.Batch, opts.LR, opts.Seed = o.steps, o.batch, o.lr, o.seed
	opts.EvalEvery = max(1, o.steps/4)
	if m == "pose" {
		opts.PoSE, opts.PoSETarget = true, cfg.TargetLength
	}
	params := cloneParams(base)
	tr, err := train.New(cfg, base.Vocab, params, trs, vas, opts)
	if err != nil {
		return nil, err
	}
	tr.OutDir, tr.Progress, tr.Corpus, tr.Precision = dir, progress, o.corpus, o.precision
	if err := tr.UseDevice(o.device); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if progress != nil {
		fmt.Fprintf(progress, "fine-tuning %s for %d steps into %s\n", m, o.steps, dir)
	}
	if err := tr.Run(ctx); err != nil {
		return nil, err
	}
	return train.Load(filepath.Join(dir, "best"))
}

// cloneParams copies the base weights so that every fine-tune starts from
// the same point.
func cloneParams(ck *train.Checkpoint) *layers.Params {
	p := layers.ZeroParams(ck.Config, tensor.Float32)
	for i, n := range ck.Params.Named() {
		copy(p.Named()[i].T.Data().([]float32), n.T.Data().([]float32))
	}
	return p
}
