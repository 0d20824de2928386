// Command reproduce regenerates the paper's study with one command: it
// trains the models (the CosScale sweep, and the base models and fine-tunes
// of every seed), runs the evaluations and every analysis, and writes a
// report (REPORT.md) with the tables, the plots, the commands, seeds,
// protocol, hardware and wall time of each part, and a verdict on each
// claim computed from the numbers by the rules of docs/analysis.md.
//
//	make reproduce                   # CPU profile (small models, fast protocol, three seeds)
//	bin/reproduce -profile gpu       # paper sizes and protocol (needs a -tags gpu build)
//	bin/reproduce -report-only       # REPORT.md again from the outputs in -out
//
// It runs the project's own command-line tools (built into -bin), so every
// step in the report is a command a user can run by hand. Each finished
// part is recorded in logs/parts.json with a fingerprint of the tool's
// binary, its arguments and the weights it read: a part whose fingerprint
// is unchanged and whose output is there does not run again, so a run
// continues where it stopped, on this machine or, from its committed
// outputs, on another. With -launch (a launcher command such as "mpirun
// -np 4" or "srun --mpi=pmix"), the trainings and the suites run on
// several processes, each sharing its work among them (tools built with
// -tags mpi); the analyses run as one process.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/internal/runlock"
	"github.com/infoscale/gaualpha/report"
	"github.com/infoscale/gaualpha/runner"
	"github.com/infoscale/gaualpha/study"
)

func main() { cli.Main("reproduce", run) }

type options struct {
	study.Study
	bin    string
	launch []string // the launcher and its arguments before a tool (empty: none)
	log    io.Writer
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reproduce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prof := fs.String("profile", "cpu", "cpu (small models, fast protocol, under 2 hours on 2 cores) or gpu (paper sizes and protocol; -tags gpu build)")
	out := fs.String("out", "results", "output `dir`: models/, suite/, analysis/, logs/, REPORT.md")
	bin := fs.String("bin", "bin", "`dir` holding the built train, suite and analyze binaries (make reproduce builds them)")
	corpusPath := fs.String("corpus", "embedded", "corpus (the embedded Chinese man pages by default)")
	reportOnly := fs.Bool("report-only", false, "only rewrite REPORT.md from the outputs already in -out")
	config := fs.String("config", "", "model config.json instead of the profile's (for quick trials)")
	baseSteps := fs.Int("base-steps", 0, "override the plain model's training steps (0: the profile's)")
	sweepSteps := fs.Int("sweep-steps", 0, "override the CosScale models' training steps (0: the profile's)")
	sweep := fs.String("sweep", "", "override the CosScale values, comma-separated")
	seeds := fs.String("seeds", "", "override the seeds of the base models and fine-tunes, comma-separated (rules version 3 profiles)")
	ftSteps := fs.Int("finetune-steps", 0, "override the fine-tuning steps (0: the profile's)")
	docs := fs.Int("docs", 0, "override the number of test documents (0: the profile's)")
	batch := fs.Int("batch", 0, "override the batch size (0: the profile's)")
	precision := fs.String("precision", "f32", "`f32` or bf16: bfloat16 inputs to the matrix products of the training, fine-tuning and evaluation on the GPU (gpu profile only)")
	launch := fs.String("launch", "", "`launcher` command that starts the trainings and suites on several processes, e.g. \"mpirun -np 4\" or, in a Slurm allocation, \"srun --mpi=pmix\" (split at spaces; the tools in -bin built with -tags mpi); the analyses run as one process")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: reproduce [-profile cpu|gpu] [flags]\n\nRegenerates the paper's study: models, baseline suite, analyses and results/REPORT.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if *out == "" {
		return fmt.Errorf("-out must name a directory")
	}
	if *config != "" {
		if _, err := os.Stat(*config); err != nil {
			return fmt.Errorf("-config: %w", err)
		}
	}
	p, err := study.NamedProfile(*prof)
	if *reportOnly {
		p, err = study.ProfileOf(*out, *prof)
	}
	if err != nil {
		return err
	}
	if *config != "" {
		p.Config = *config
	}
	for _, ov := range []struct {
		name string
		v    int
		dst  *int
	}{{"base-steps", *baseSteps, &p.BaseSteps}, {"sweep-steps", *sweepSteps, &p.SweepSteps}, {"finetune-steps", *ftSteps, &p.FineTune}, {"docs", *docs, &p.Docs}, {"batch", *batch, &p.Batch}} {
		if ov.v < 0 {
			return fmt.Errorf("-%s %d must be >= 0 (0: the profile's %d)", ov.name, ov.v, *ov.dst)
		}
		if ov.v > 0 {
			*ov.dst = ov.v
		}
	}
	if *docs > 0 {
		p.EntropyDocs = min(p.EntropyDocs, *docs)
	}
	if *sweep != "" {
		p.Sweep = nil
		for _, f := range strings.Split(*sweep, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				return fmt.Errorf("bad CosScale %q in -sweep (want finite numbers > 0, comma-separated)", f)
			}
			p.Sweep = append(p.Sweep, v)
		}
	}
	if *seeds != "" {
		if p.Rules < 3 {
			return fmt.Errorf("-seeds: the %s profile trains one seed", p.Name)
		}
		p.Seeds = nil
		for _, f := range strings.Split(*seeds, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || v < 1 || slices.Contains(p.Seeds, v) {
				return fmt.Errorf("bad seed %q in -seeds (want distinct integers >= 1, comma-separated)", f)
			}
			p.Seeds = append(p.Seeds, v)
		}
	}
	switch *precision {
	case "", "f32":
	case "bf16":
		if p.Device != "cuda" {
			return fmt.Errorf("-precision bf16 needs the gpu profile (the CPU runs in float32)")
		}
		p.Precision = "bf16"
	default:
		return fmt.Errorf("-precision: unknown precision %q (f32 or bf16)", *precision)
	}
	o := options{Study: study.Study{Profile: p, Out: *out, Corpus: *corpusPath}, bin: *bin, launch: strings.Fields(*launch), log: stderr}
	if len(o.launch) > 0 {
		if _, err := exec.LookPath(o.launch[0]); err != nil {
			return fmt.Errorf("-launch %q: %w", *launch, err)
		}
	}
	if !*reportOnly {
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name == "bin" })
		if o.bin, err = findTools(o.bin, set); err != nil {
			return err
		}
	}
	// One writer per output folder: a second reproduce into it is refused
	// (the trainings it runs lock their own model folders).
	lock, err := runlock.Acquire(*out)
	if err != nil {
		return err
	}
	defer lock.Release()
	if !*reportOnly {
		ctx, stop := cli.OnInterrupt(context.Background(), stderr, "stopping the running part; the parts already finished stay done")
		defer stop()
		r, err := runner.New(o.Study, runner.Options{Bin: o.bin, Launch: o.launch, Log: o.log})
		if err != nil {
			return err
		}
		if err := r.Run(ctx); err != nil {
			return err
		}
	}
	rep, err := report.Write(o.Study)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", rep)
	return nil
}

// findTools returns the folder holding the commands reproduce runs: dir,
// or, when -bin was not given and dir lacks them, the folder of this
// executable (as in the container image, where every command is in one
// folder on PATH).
func findTools(dir string, given bool) (string, error) {
	has := func(dir string) error {
		for _, tool := range runner.Tools() {
			if _, err := os.Stat(filepath.Join(dir, tool)); err != nil {
				return fmt.Errorf("%s not built: run `go build -o %s/ ./cmd/...` (or make reproduce)", filepath.Join(dir, tool), dir)
			}
		}
		return nil
	}
	err := has(dir)
	if err == nil || given {
		return dir, err
	}
	if exe, xerr := os.Executable(); xerr == nil && has(filepath.Dir(exe)) == nil {
		return filepath.Dir(exe), nil
	}
	return dir, err
}
