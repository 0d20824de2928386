// Command eval measures how a trained GAU-α checkpoint extrapolates beyond
// its training length: masked-token accuracy, cross-entropy and perplexity
// at 2x..64x n0 (or any lengths), under one or several attention
// normalisations, with the paper's exact protocol or a faster one.
//
//	go run ./cmd/eval -ckpt runs/<run>/best -norm softmax,infoscale
//
// Built with -tags mpi and started by mpirun or srun, its processes share
// the evaluation's forward passes and rank 0 prints the report, the same
// as one process's (docs/parallel.md).
//
// Run with -h for every flag.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/collective/mpi"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/internal/methodflags"
)

func main() { mpi.Main("eval", run) }

// run is the command as member c of the group of processes (rank 0 alone
// prints).
func run(c collective.Comm, args []string, stdout, stderr io.Writer) error {
	if c.Rank() != 0 {
		stdout, stderr = io.Discard, io.Discard
	}
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ckpt := fs.String("ckpt", "", "checkpoint `dir` (config.json, vocab.txt, model.safetensors); required")
	corpusPath := fs.String("corpus", "embedded", "`path` of the corpus the test documents come from (its validation split, the last 20% of documents)")
	lengths := fs.String("lengths", "", "comma-separated evaluation lengths (default 2x..64x the training length n0)")
	norms := fs.String("norm", "softmax,infoscale", "comma-separated normalisations to compare: "+strings.Join(attn.NormNames(), ", ")+", or "+eval.NormPlusN0+" (softmax_plus with base n0)")
	mf := methodflags.Register(fs, "evaluate with")
	protocol := fs.String("protocol", "fast", "paper: one [MASK] per forward pass at every position (exact, L passes per document); fast: every -stride-th token masked at once, -offsets passes per document")
	positions := fs.Int("positions", 0, "paper protocol: score this many evenly spaced positions per document instead of all L (0: all L)")
	stride := fs.Int("stride", 32, "fast protocol: distance between masked tokens")
	offsets := fs.Int("offsets", 4, "fast protocol: passes per document (offsets of the masked grid)")
	docs := fs.Int("docs", 10, "number of test documents (the paper uses 10)")
	rule := fs.String("testset", eval.TestSetLong, "test-set selection: long (long documents evenly spaced in the validation split) or spectral (the paper's spectral clustering and stratified sampling)")
	jsonOut := fs.Bool("json", false, "print the report as JSON instead of a markdown table")
	dev := fs.String("device", backend.DefaultDevice, "`cpu`, cuda or auto (auto: cuda where a GPU can be used, else cpu, said on stderr; cuda needs a binary built with -tags gpu)")
	precision := fs.String("precision", "f32", "`f32` or bf16: bfloat16 inputs to the matrix products and the attention, float32 accumulation (on the CPU and on -device cuda)")
	attention := fs.String("attention", "auto", "`auto`, fused or materialized: how -device cuda computes attention (auto: the L×L matrices on cuBLAS where they fit and no window removes pairs, else the fused kernels; see docs/gpu.md)")
	budget := fs.Float64("max-memory", 8, "refuse lengths whose forward pass needs more than this many `GiB` (0: the memory available at the start, MemAvailable in /proc/meminfo)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: eval -ckpt DIR [flags]\n\nScores a checkpoint's masked-token predictions on long test documents at lengths\nbeyond its training length, per attention normalisation.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if *ckpt == "" {
		return fmt.Errorf("-ckpt is required (a checkpoint directory such as runs/<run>/best)")
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	ef := evalFlags{protocol: *protocol, lengths: *lengths, norms: *norms, testset: *rule,
		positions: *positions, stride: *stride, offsets: *offsets, docs: *docs, maxMemory: *budget}
	if err := ef.validate(set); err != nil {
		return err
	}
	mem, err := cli.MemoryBudget("max-memory", *budget)
	if err != nil {
		return err
	}
	proto, err := eval.ParseProtocol(*protocol)
	if err != nil {
		return err
	}
	be, err := backend.OpenOptions(backend.Options{Device: *dev, Precision: *precision, Attention: *attention, Log: stderr, Ordinal: c.LocalRank()})
	if err != nil {
		return err
	}
	defer be.Close()
	ck, err := checkpoint.Load(*ckpt)
	if err != nil {
		return err
	}
	ls := eval.DefaultLengths(ck.Config.TrainLength)
	lengthsFlag := "the default -lengths (64 n0)"
	if *lengths != "" {
		if ls, err = eval.ParseLengths(*lengths); err != nil {
			return fmt.Errorf("-lengths: %w", err)
		}
		lengthsFlag = "-lengths"
	}
	if err := checkLengths(ck.Config, ls, mem, lengthsFlag); err != nil {
		return err
	}
	cfg := ck.Config
	if err := mf.Apply(&cfg); err != nil {
		return err
	}
	variants, err := eval.Variants(cfg, strings.Split(*norms, ","))
	if err != nil {
		return err
	}
	all, note, err := corpus.Load(*corpusPath)
	if err != nil {
		return err
	}
	if note != "" && !*quiet {
		fmt.Fprintln(stderr, "note:", note)
	}
	testDocs, ids, err := eval.TestDocumentsBy(*rule, all, ck.Vocab, *docs, slices.Max(ls), 42)
	if err != nil {
		return err
	}
	o := eval.Options{Lengths: ls, Protocol: proto, Positions: *positions, Stride: *stride, Offsets: *offsets,
		MemoryBudget: mem.Bytes, Backend: be, Comm: c}
	if !*quiet {
		o.Progress = stderr
		fmt.Fprintf(stderr, "test documents: %s\n", strings.Join(ids, ", "))
		if c.Size() > 1 {
			fmt.Fprintf(stderr, "processes: %d (the forward passes shared among them; progress lines at the end)\n", c.Size())
		}
	}
	ctx, stop := cli.OnInterrupt(context.Background(), stderr, "stopping")
	defer stop()
	rep, err := eval.Evaluate(ctx, cfg, ck.Params, ck.Vocab, testDocs, variants, o)
	if err != nil {
		return err
	}
	if *jsonOut {
		b, err := rep.JSON()
		if err != nil {
			return err
		}
		_, err = stdout.Write(b)
		return err
	}
	fmt.Fprintf(stdout, "%s\n%s", rep.Describe(), rep.Markdown())
	return nil
}
