// Command analyze reproduces the paper's analyses of attention on trained
// GAU-α checkpoints. Each subcommand writes PNG plots and the numbers behind
// them as CSV into -out, and prints what it wrote:
//
//	analyze entropy -ckpt DIR      attention entropy per row vs length, per normalisation
//	analyze eta     -ckpt D1,D2    peak η1* of the pre-RoPE cos(q,k) distribution vs CosScale
//	analyze heatmap -ckpt D1,D2    q·k before and after RoPE (the paper's figure 5)
//	analyze band    -ckpt D1,D2    attention mass within ±w of the diagonal vs CosScale
//	analyze curves  -suite FILE    accuracy and loss vs length from cmd/suite's suite.json
//	analyze testset                spectral clustering of the corpus and the stratified test set
//	analyze trainloss -runs ...    training loss against epoch (figures 2 and 3)
//	analyze power   -suite FILE    the power of claim 2's test by documents
//	analyze passkey -in F1,F2      the passkey probe's digit accuracy vs length
//
// The analyses live in package analysis, the tables in package study, the
// plots in package figures; this command parses flags and writes files.
// Run "analyze SUBCOMMAND -h" for the flags of each; docs/analysis.md has
// the exact definitions.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/infoscale/gaualpha/analysis"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/internal/cli"
)

func main() { cli.Main("analyze", run) }

// subcommand is one analysis.
type subcommand struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

func subcommands() []subcommand {
	return []subcommand{
		{"entropy", "attention entropy per row vs sequence length, per normalisation (the paper: softmax grows like ln n, InfoScale stays nearly flat)", runEntropy},
		{"eta", "histogram of pre-RoPE cos(q_i, k_j) and its peak η1* vs CosScale, with the vMF-tilt prediction", runEta},
		{"heatmap", "q·k matrices before and after RoPE, one column per model ordered by CosScale (figure 5)", runHeatmap},
		{"band", "share of attention mass within ±w of the diagonal vs CosScale, and vs w; windowed attention as reference", runBand},
		{"curves", "accuracy and loss vs length per method × normalisation from cmd/suite's suite.json", runCurves},
		{"testset", "spectral clustering of the corpus and the stratified test-set sample (figure 1)", runTestset},
		{"trainloss", "training loss against epoch from the runs' metrics.jsonl (figures 2 and 3)", runTrainLoss},
		{"power", "the power analysis of claim 2's test by documents, from a suite's per-position scores", runPower},
		{"passkey", "the passkey probe's digit accuracy vs length from cmd/suite's passkey.csv files", runPasskey},
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	var names []string
	for _, s := range subcommands() {
		names = append(names, s.name)
	}
	usage := func() {
		fmt.Fprintf(stderr, "Usage: analyze SUBCOMMAND [flags]\n\nAnalyses of attention in trained GAU-α checkpoints; each writes PNG plots and CSV\nfiles into -out and prints their paths.\n\nSubcommands:\n")
		for _, s := range subcommands() {
			fmt.Fprintf(stderr, "  %-8s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(stderr, "\nRun \"analyze SUBCOMMAND -h\" for its flags.\n")
	}
	if len(args) == 0 {
		usage()
		return fmt.Errorf("no subcommand (want one of %s)", strings.Join(names, ", "))
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage()
		return flag.ErrHelp
	}
	for _, s := range subcommands() {
		if s.name == args[0] {
			if err := s.run(args[1:], stdout, stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
				return fmt.Errorf("%s: %w", s.name, err)
			} else if err != nil {
				return err
			}
			return nil
		}
	}
	return fmt.Errorf("unknown subcommand %q (want one of %s)", args[0], strings.Join(names, ", "))
}

// common holds the flags every subcommand has (-out, -dpi, -quiet) and
// collects the files it writes.
type common struct {
	out   string
	dpi   int
	quiet bool
	files []string
}

// newFlags returns a flag set for a subcommand with the common flags.
func newFlags(name, synopsis, about string, stderr io.Writer) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet("analyze "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &common{}
	fs.StringVar(&c.out, "out", "runs/analysis", "output `dir` for the PNG and CSV files (created if missing)")
	fs.IntVar(&c.dpi, "dpi", 100, "resolution of the PNG files in dots per inch")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress lines on stderr")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: analyze %s %s\n\n%s\n\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs, c
}

// parse parses args and checks the common flags.
func (c *common) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if c.dpi < 10 || c.dpi > 1200 {
		return fmt.Errorf("-dpi %d outside [10, 1200]", c.dpi)
	}
	if c.out == "" {
		return fmt.Errorf("-out must name a directory")
	}
	return cli.CheckOutDir("-out", c.out)
}

// progress returns where progress lines go: stderr, or nowhere with -quiet.
func (c *common) progress(stderr io.Writer) io.Writer {
	if c.quiet {
		return io.Discard
	}
	return stderr
}

// path returns the path of an output file and records it.
func (c *common) path(name string) string {
	p := filepath.Join(c.out, name)
	c.files = append(c.files, p)
	return p
}

// save runs the steps that write the outputs, in order, then prints text
// and the files written.
func (c *common) save(stdout io.Writer, text string, steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Fprint(stdout, text)
	for _, f := range c.files {
		fmt.Fprintln(stdout, "wrote", f)
	}
	return nil
}

// models holds the flags of the analyses that run models: the checkpoints,
// the corpus of the test documents, the memory budget and the executor.
type models struct {
	ckpt, corpus, device, precision string
	docs                            int
	withDocs                        bool
	maxMemory                       float64
}

// modelFlags registers the models' flags on fs; docs says whether the
// analysis takes -docs.
func modelFlags(fs *flag.FlagSet, ckptUsage string, docs bool) *models {
	m := &models{withDocs: docs}
	fs.StringVar(&m.ckpt, "ckpt", "", ckptUsage)
	fs.StringVar(&m.corpus, "corpus", "embedded", "`path` of the corpus the test documents come from (its validation split)")
	if docs {
		fs.IntVar(&m.docs, "docs", 10, "number of test documents")
	}
	fs.Float64Var(&m.maxMemory, "max-memory", 0, "refuse a run whose estimated memory exceeds this many `GiB` (0: the memory available at the start, MemAvailable in /proc/meminfo)")
	fs.StringVar(&m.device, "device", backend.DefaultDevice, "`cpu`, cuda or auto: where the models' forward passes run (auto: cuda where a GPU can be used, else cpu; cuda needs a binary built with -tags gpu); the statistics run on the CPU from the layers' inputs")
	fs.StringVar(&m.precision, "precision", "f32", "`f32` or bf16: bfloat16 inputs to the forward passes' matrix products (on the CPU and on -device cuda)")
	return m
}

// prepare parses args, runs check (the analysis's own flags, before
// anything is read), checks -docs and -max-memory, loads the checkpoints,
// refuses a run whose estimate (from need, which also checks the flags
// that depend on the models) is over the budget, and opens the executor.
func (m *models) prepare(c *common, fs *flag.FlagSet, args []string, check func() error, need func([]analysis.Model) (string, float64, error)) ([]analysis.Model, backend.Backend, error) {
	if err := c.parse(fs, args); err != nil {
		return nil, nil, err
	}
	if err := check(); err != nil {
		return nil, nil, err
	}
	if m.withDocs && m.docs < 1 {
		return nil, nil, fmt.Errorf("-docs %d must be at least 1", m.docs)
	}
	budget, err := cli.MemoryBudget("max-memory", m.maxMemory)
	if err != nil {
		return nil, nil, err
	}
	ms, err := analysis.Load(m.ckpt, "-ckpt")
	if err != nil {
		return nil, nil, err
	}
	what, bytes, err := need(ms)
	if err != nil {
		return nil, nil, err
	}
	if err := budget.Check(what, int64(min(math.Ceil(bytes), math.MaxInt64/2))); err != nil {
		return nil, nil, err
	}
	budget.SoftLimit()
	be, err := backend.OpenOptions(backend.Options{Device: m.device, Precision: m.precision, Log: fs.Output()})
	return ms, be, err
}

// documents returns the -docs test documents of a model, at least minLen
// tokens long where possible; fewer is an error naming -docs.
func (m *models) documents(minLen int) analysis.Documents {
	return func(md analysis.Model) ([][]int, []string, error) {
		toks, ids, err := analysis.TestDocuments(m.corpus, md, m.docs, minLen)
		if err == nil && len(toks) < m.docs {
			return nil, nil, fmt.Errorf("-docs %d: the validation split of corpus %s has only %d documents with tokens", m.docs, m.corpus, len(toks))
		}
		return toks, ids, err
	}
}

// plural is "n thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
