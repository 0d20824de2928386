// Command bench times the Go implementation against plain PyTorch eager on
// the same CPU cores and prints one table: per case, the Go and PyTorch
// times, their ratio, the peak memory of each, and the Go allocations per
// operation.
//
//	go run ./cmd/bench                        # every case, 2 threads, table on stdout
//	go run ./cmd/bench -cases layer_fwdbwd    # some cases (comma-separated)
//	go run ./cmd/bench -out docs/benchmarks.md
//
// Every case runs in a fresh process on each side (this program re-executed
// with -case NAME; /usr/bin/python3 scripts/bench_torch.py --case NAME), so
// its peak RSS, read from the child's resource usage, is its own. Threads
// are pinned equal: GOMAXPROCS on the Go side; torch.set_num_threads,
// OMP_NUM_THREADS and OPENBLAS_NUM_THREADS on the PyTorch side. Each case
// runs its warm-up runs, then reports the median of its timed runs. See
// docs/benchmarks.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/infoscale/gaualpha/benchmark"
	"github.com/infoscale/gaualpha/graph"
)

// torchHint says how to get the PyTorch side.
const torchHint = "apt-get install -y python3-torch libopenblas0-pthread"

type options struct {
	cases   string
	threads int
	torch   string
	script  string
	out     string
	runs    int
	warmup  int
	timeout time.Duration
	quiet   time.Duration
	list    bool
	child   string
	// trainCmd is the cmd/train binary of the train_cmd case.
	trainCmd string
	// ops prints, with -case, the time of the case's graph by op.
	ops bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.cases, "cases", "all", "cases to run: all, or a comma-separated list (-list shows them)")
	fs.IntVar(&o.threads, "threads", min(2, runtime.NumCPU()), "threads on each side (GOMAXPROCS; torch, OpenMP and OpenBLAS threads), at most the machine's CPUs")
	fs.StringVar(&o.torch, "torch", "/usr/bin/python3", "Python with PyTorch for the PyTorch column (empty: Go only)")
	fs.StringVar(&o.script, "script", "", "the PyTorch side (default: scripts/bench_torch.py of this module)")
	fs.StringVar(&o.out, "out", "", "also write the table to this file (replacing the part between the bench markers of an existing file)")
	fs.IntVar(&o.runs, "runs", 0, fmt.Sprintf("timed runs per case, at most %d (0: each case's own count)", maxRuns))
	fs.IntVar(&o.warmup, "warmup", -1, fmt.Sprintf("warm-up runs per case, at most %d (-1: each case's own count; 0: none)", maxRuns))
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "time limit of one case on one side (positive)")
	fs.DurationVar(&o.quiet, "quiet", 20*time.Second, "before each case, wait up to this long for the machine to be idle (0: do not wait)")
	fs.BoolVar(&o.list, "list", false, "list the cases and exit")
	fs.BoolVar(&o.ops, "ops", false, "with -case: also print where the case's graph spends its time, by op (graph.OpProfile), before the JSON result")
	fs.StringVar(&o.trainCmd, "train-cmd", "", "the cmd/train binary the train_cmd case times (default: built from this module; another commit's binary gives a before/after)")
	fs.StringVar(&o.child, "case", "", "run one Go case in this process and print its JSON result (used by the parent run)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./cmd/bench [flags]\n\nTimes Go against PyTorch eager on the same cores; see docs/benchmarks.md.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := o.validate(set); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if o.list {
		for _, c := range benchmark.Cases() {
			fmt.Fprintf(stdout, "%-18s %s\n", c.Name, c.Desc)
		}
		return 0
	}
	if o.child != "" {
		if err := runChild(o, stdout); err != nil {
			fmt.Fprintf(stderr, "bench: case %s: %v\n", o.child, err)
			return 1
		}
		return 0
	}
	sel, err := benchmark.Select(o.cases)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if err := runParent(o, sel, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

// maxRuns bounds -runs and -warmup: each timed run keeps its time, and a
// case's runs should end within the -timeout.
const maxRuns = 10000

// validate checks the flags before anything runs; set holds the flags
// given on the command line.
func (o *options) validate(set map[string]bool) error {
	switch {
	case o.threads < 1 || o.threads > runtime.NumCPU():
		return fmt.Errorf("-threads %d outside 1..%d (the CPUs of this machine)", o.threads, runtime.NumCPU())
	case o.trainCmd != "" && !isFile(o.trainCmd):
		return fmt.Errorf("-train-cmd %s: no such file", o.trainCmd)
	case o.runs < 0 || o.runs > maxRuns:
		return fmt.Errorf("-runs %d outside 0..%d (0: each case's own count)", o.runs, maxRuns)
	case o.warmup < -1 || o.warmup > maxRuns:
		return fmt.Errorf("-warmup %d outside -1..%d (-1: each case's own count)", o.warmup, maxRuns)
	case o.timeout <= 0:
		return fmt.Errorf("-timeout %v must be positive", o.timeout)
	case o.quiet < 0:
		return fmt.Errorf("-quiet %v must be at least 0 (0: do not wait)", o.quiet)
	}
	// Flags a mode does not use: -list only lists; -case (the parent's
	// call of a child) runs one case with -threads, -runs and -warmup.
	only := func(mode string, allowed ...string) error {
		for _, name := range []string{"cases", "threads", "torch", "script", "out", "runs", "warmup", "timeout", "quiet", "list", "case"} {
			if set[name] && name != mode && !slices.Contains(allowed, name) {
				return fmt.Errorf("-%s has no effect with -%s", name, mode)
			}
		}
		return nil
	}
	switch {
	case o.list:
		return only("list")
	case o.child != "":
		return only("case", "threads", "runs", "warmup")
	}
	if o.torch == "" && set["script"] {
		return fmt.Errorf("-script has no effect with -torch empty (Go only)")
	}
	if o.torch != "" && set["torch"] {
		if _, err := exec.LookPath(o.torch); err != nil {
			return fmt.Errorf("-torch %s: %v", o.torch, errors.Unwrap(err))
		}
	}
	if set["script"] {
		if _, err := benchmark.FindScript(o.script); err != nil {
			return fmt.Errorf("-script %s: %v", o.script, errors.Unwrap(err))
		}
	}
	if o.out != "" {
		return benchmark.CheckOut("-out", o.out)
	}
	return nil
}

// runChild runs one Go case in this process: setup, warm-up runs, timed
// runs, and prints the result as JSON.
func runChild(o options, stdout io.Writer) error {
	c, ok := benchmark.Find(o.child)
	if !ok {
		return fmt.Errorf("unknown case")
	}
	runtime.GOMAXPROCS(o.threads)
	c.TrainCmd = o.trainCmd
	var prof *graph.OpProfile
	var plan *graph.Plan
	var onTimed func(*benchmark.Prepared)
	if o.ops {
		onTimed = func(p *benchmark.Prepared) {
			if p.Machine != nil {
				prof, plan = &graph.OpProfile{}, p.Machine.Plan()
				p.Machine.Profile = prof
			}
		}
	}
	res, err := benchmark.Measure(c, o.warmup, o.runs, onTimed)
	if err != nil {
		return err
	}
	if o.ops {
		if prof == nil {
			return fmt.Errorf("-ops: case %s runs no graph", c.Name)
		}
		if err := prof.Write(stdout, plan); err != nil {
			return err
		}
	}
	res.Threads = runtime.GOMAXPROCS(0)
	res.PeakRSS = benchmark.SelfPeakRSS()
	return json.NewEncoder(stdout).Encode(res)
}

// runParent runs the selected cases, each side in a fresh process, prints
// the table and writes it to -out.
func runParent(o options, sel []benchmark.Case, stdout, stderr io.Writer) error {
	start := time.Now()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to run the cases: %w", err)
	}
	env := benchmark.NewEnvironment(o.threads, o.torch != "", strings.TrimSpace("go run ./cmd/bench "+strings.Join(os.Args[1:], " ")))
	if o.quiet > 0 {
		benchmark.WaitQuiet(o.quiet)
	}
	env.Peak = benchmark.MeasurePeak(o.threads)
	if env.Peak != nil {
		fmt.Fprintf(stderr, "bench: %s\n", env.Peak.Describe())
	}
	torchOK := false
	if o.torch != "" {
		script, err := benchmark.FindScript(o.script)
		switch {
		case err != nil:
			env.TorchNote = err.Error()
		default:
			o.script = script
			v, err := benchmark.TorchVersion(o.torch)
			if err != nil {
				env.TorchNote = fmt.Sprintf("PyTorch not available at %s (%v); install it with `%s`", o.torch, err, torchHint)
			} else {
				env.Torch, torchOK = v, true
			}
		}
		if !torchOK {
			fmt.Fprintf(stderr, "bench: %s; printing the Go column only\n", env.TorchNote)
		}
	} else {
		env.TorchNote = "PyTorch side not run (-torch is empty)"
	}
	var rows []benchmark.Row
	failed := 0
	for i, c := range sel {
		r := benchmark.Row{Case: c}
		r.Go, err = runGoCase(self, c, o)
		if err != nil {
			r.GoErr = err.Error()
			failed++
		}
		if torchOK && c.NoTorch == "" {
			vocab := 0
			if r.Go != nil {
				vocab = r.Go.Vocab
			}
			r.Torch, err = runTorchCase(c, o, vocab)
			if err != nil {
				r.TorchErr = err.Error()
				failed++
			}
		}
		fmt.Fprintf(stderr, "[%d/%d] %s\n", i+1, len(sel), r.Progress())
		rows = append(rows, r)
	}
	env.Elapsed = time.Since(start)
	table := benchmark.Render(env, rows)
	fmt.Fprint(stdout, table)
	if o.out != "" {
		if err := benchmark.WriteOut(o.out, table); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: table written to %s\n", o.out)
	}
	if failed > 0 {
		return fmt.Errorf("%d case run(s) failed (see the table)", failed)
	}
	return nil
}

// runGoCase runs one Go case in a fresh process.
func runGoCase(self string, c benchmark.Case, o options) (*benchmark.Result, error) {
	args := []string{"-case", c.Name, "-threads", strconv.Itoa(o.threads),
		"-runs", strconv.Itoa(o.runs), "-warmup", strconv.Itoa(o.warmup)}
	if o.trainCmd != "" {
		args = append(args, "-train-cmd", o.trainCmd)
	}
	env := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(o.threads))
	return benchmark.RunProcess(self, args, env, o.quiet, o.timeout)
}

// runTorchCase runs one PyTorch case in a fresh Python process.
func runTorchCase(c benchmark.Case, o options, vocab int) (*benchmark.Result, error) {
	args := []string{o.script, "--case", c.Name, "--threads", strconv.Itoa(o.threads), "--json",
		"--warmup", strconv.Itoa(o.warmup)}
	if o.runs > 0 {
		args = append(args, "--runs", strconv.Itoa(o.runs))
	}
	if vocab > 0 && c.Model == "default" {
		args = append(args, "--vocab", strconv.Itoa(vocab))
	}
	return benchmark.RunProcess(o.torch, args, append(os.Environ(), threadEnv(o.threads)...), o.quiet, o.timeout)
}

// threadEnv pins the PyTorch side's thread pools.
func threadEnv(n int) []string {
	s := strconv.Itoa(n)
	return []string{"OMP_NUM_THREADS=" + s, "OPENBLAS_NUM_THREADS=" + s, "MKL_NUM_THREADS=" + s}
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
