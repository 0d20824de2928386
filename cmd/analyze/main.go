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
//
// Run "analyze SUBCOMMAND -h" for the flags of each; docs/analysis.md has
// the exact definitions.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

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
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintf(stderr, "Usage: analyze SUBCOMMAND [flags]\n\nAnalyses of attention in trained GAU-α checkpoints; each writes PNG plots and CSV\nfiles into -out and prints their paths.\n\nSubcommands:\n")
		for _, s := range subcommands() {
			fmt.Fprintf(stderr, "  %-8s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(stderr, "\nRun \"analyze SUBCOMMAND -h\" for its flags.\n")
	}
	if len(args) == 0 {
		usage()
		return fmt.Errorf("no subcommand (want one of %s)", names())
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage()
		return flag.ErrHelp
	}
	for _, s := range subcommands() {
		if s.name == args[0] {
			if err := s.run(args[1:], stdout, stderr); err != nil {
				if errors.Is(err, flag.ErrHelp) {
					return err
				}
				return fmt.Errorf("%s: %w", s.name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("unknown subcommand %q (want one of %s)", args[0], names())
}

func names() string {
	var ns []string
	for _, s := range subcommands() {
		ns = append(ns, s.name)
	}
	return strings.Join(ns, ", ")
}

// newFlags returns a flag set for a subcommand with the flags every
// subcommand has: -out, -dpi and -quiet.
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

// common holds the flags every subcommand has.
type common struct {
	out   string
	dpi   int
	quiet bool
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
	return checkOutDir(c.out)
}

// checkOutDir refuses, before any work, an output directory that cannot be
// created or written: a file in its place or on its path, or a directory
// (it, or the nearest one above it) that is not writable.
func checkOutDir(dir string) error {
	p := filepath.Clean(dir)
	for {
		info, err := os.Stat(p)
		switch {
		case err == nil && !info.IsDir():
			if p == filepath.Clean(dir) {
				return fmt.Errorf("-out %s is a file, not a directory", dir)
			}
			return fmt.Errorf("-out %s: %s is a file, not a directory", dir, p)
		case err == nil:
			if syscall.Access(p, 2 /* W_OK */) != nil {
				return fmt.Errorf("-out %s: %s is not writable", dir, p)
			}
			return nil
		case !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("-out %s: %w", dir, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// progress returns where progress lines go: stderr, or nowhere with -quiet.
func (c *common) progress(stderr io.Writer) io.Writer {
	if c.quiet {
		return io.Discard
	}
	return stderr
}
