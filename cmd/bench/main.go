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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/infoscale/gaualpha/graph"
)

// torchHint says how to get the PyTorch side.
const torchHint = "apt-get install -y python3-torch libopenblas0-pthread"

// result is what one side reports for one case.
type result struct {
	Case    string    `json:"case"`
	Seconds float64   `json:"seconds"`
	Times   []float64 `json:"times"`
	Warmup  int       `json:"warmup"`
	Runs    int       `json:"runs"`
	// PeakRSS is the child's peak resident set in bytes (from its rusage
	// as the parent reaped it; the child's own report otherwise).
	PeakRSS int64 `json:"peak_rss_bytes"`
	// AllocsPerOp and BytesPerOp are the Go heap allocations per timed
	// run (runtime.MemStats Mallocs and TotalAlloc).
	AllocsPerOp float64 `json:"allocs_per_op,omitempty"`
	BytesPerOp  float64 `json:"bytes_per_op,omitempty"`
	// LiveHeap is the Go heap still in use after the timed runs and a
	// collection, with the case's model alive: weights, optimizer state
	// and the executor's pooled buffers.
	LiveHeap int64 `json:"live_heap_bytes,omitempty"`
	// Vocab is the vocabulary size the Go model was built with.
	Vocab   int    `json:"vocab,omitempty"`
	Threads int    `json:"threads,omitempty"`
	Torch   string `json:"torch,omitempty"`
	// OtherCores is the average number of cores other processes kept busy
	// while the child ran (-1: unknown); filled in by the parent.
	OtherCores float64 `json:"-"`
	// Wall is the child's whole run, setup included; filled in by the
	// parent.
	Wall time.Duration `json:"-"`
}

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
		for _, c := range cases {
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
	sel, err := selectCases(o.cases)
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
		if _, err := findScript(o.script); err != nil {
			return fmt.Errorf("-script %s: %v", o.script, errors.Unwrap(err))
		}
	}
	if o.out != "" {
		return checkOut(o.out)
	}
	return nil
}

// selectCases parses -cases.
func selectCases(s string) ([]benchCase, error) {
	if strings.TrimSpace(s) == "all" {
		return cases, nil
	}
	var sel []benchCase
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		c, ok := findCase(name)
		if !ok {
			var names []string
			for _, c := range cases {
				names = append(names, c.Name)
			}
			return nil, fmt.Errorf("unknown case %q (known: %s)", name, strings.Join(names, ", "))
		}
		if !slices.ContainsFunc(sel, func(x benchCase) bool { return x.Name == name }) {
			sel = append(sel, c)
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("no cases in %q", s)
	}
	return sel, nil
}

// runChild runs one Go case in this process: setup, warm-up runs, timed
// runs, and prints the result as JSON.
func runChild(o options, stdout io.Writer) error {
	c, ok := findCase(o.child)
	if !ok {
		return fmt.Errorf("unknown case")
	}
	runtime.GOMAXPROCS(o.threads)
	c.trainCmd = o.trainCmd
	var prof *graph.OpProfile
	var plan *graph.Plan
	if o.ops {
		c.onTimed = func(p *prepared) {
			if p.machine != nil {
				prof, plan = &graph.OpProfile{}, p.machine.Plan()
				p.machine.Profile = prof
			}
		}
	}
	res, err := measure(c, o.warmup, o.runs)
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
	res.PeakRSS = selfPeakRSS()
	return json.NewEncoder(stdout).Encode(res)
}

// measure prepares c and times it: warmup untimed runs (negative: the
// case's own count), then runs timed ones (0: the case's own count).
func measure(c benchCase, warmup, runs int) (*result, error) {
	if warmup < 0 {
		warmup = c.Warmup
	}
	if runs <= 0 {
		runs = c.Runs
	}
	p, err := prepare(c)
	if err != nil {
		return nil, err
	}
	for range warmup {
		if err := p.step(); err != nil {
			return nil, err
		}
	}
	if c.onTimed != nil {
		c.onTimed(p)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	// Times has its room before the first run: the loop allocates nothing
	// of its own, so that the allocation columns are the case's.
	res := &result{Case: c.Name, Warmup: warmup, Runs: runs, Vocab: p.vocab, Times: make([]float64, 0, runs)}
	for range runs {
		t0 := time.Now()
		if err := p.step(); err != nil {
			return nil, err
		}
		res.Times = append(res.Times, time.Since(t0).Seconds())
	}
	runtime.ReadMemStats(&after)
	res.Seconds = median(res.Times)
	res.AllocsPerOp = float64(after.Mallocs-before.Mallocs) / float64(runs)
	res.BytesPerOp = float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.LiveHeap = int64(after.HeapAlloc)
	runtime.KeepAlive(p)
	return res, nil
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// selfPeakRSS reads this process's peak resident set (VmHWM) in bytes; 0
// where /proc is not available.
func selfPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// row is one case's outcome on both sides.
type row struct {
	c               benchCase
	goRes, torchRes *result
	goErr, torchErr string
}

// runParent runs the selected cases, each side in a fresh process, prints
// the table and writes it to -out.
func runParent(o options, sel []benchCase, stdout, stderr io.Writer) error {
	start := time.Now()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding this program to run the cases: %w", err)
	}
	env := machineInfo(o)
	if o.quiet > 0 {
		waitQuiet(o.quiet)
	}
	env.Peak = measurePeak(o.threads)
	if env.Peak != nil {
		fmt.Fprintf(stderr, "bench: %s\n", env.Peak.describe())
	}
	torchOK := false
	if o.torch != "" {
		script, err := findScript(o.script)
		switch {
		case err != nil:
			env.TorchNote = err.Error()
		default:
			o.script = script
			v, err := torchVersion(o.torch)
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
	var rows []row
	failed := 0
	for i, c := range sel {
		r := row{c: c}
		r.goRes, err = runGoCase(self, c, o)
		if err != nil {
			r.goErr = err.Error()
			failed++
		}
		if torchOK && c.NoTorch == "" {
			vocab := 0
			if r.goRes != nil {
				vocab = r.goRes.Vocab
			}
			r.torchRes, err = runTorchCase(c, o, vocab)
			if err != nil {
				r.torchErr = err.Error()
				failed++
			}
		}
		fmt.Fprintf(stderr, "[%d/%d] %s\n", i+1, len(sel), progressLine(r))
		rows = append(rows, r)
	}
	env.Elapsed = time.Since(start)
	table := renderReport(env, rows)
	fmt.Fprint(stdout, table)
	if o.out != "" {
		if err := writeOut(o.out, table); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench: table written to %s\n", o.out)
	}
	if failed > 0 {
		return fmt.Errorf("%d case run(s) failed (see the table)", failed)
	}
	return nil
}

func progressLine(r row) string {
	side := func(name string, res *result, errText string) string {
		switch {
		case errText != "":
			return name + " failed: " + errText
		case res == nil:
			return name + " not run"
		}
		line := fmt.Sprintf("%s %s (peak RSS %s", name, fmtSeconds(res.Seconds), fmtBytes(res.PeakRSS))
		if res.LiveHeap > 0 {
			line += fmt.Sprintf(", live heap after the runs %s", fmtBytes(res.LiveHeap))
		}
		line += fmt.Sprintf("; process %.0fs", res.Wall.Seconds())
		if res.OtherCores >= busyThreshold {
			line += fmt.Sprintf("; other processes busy on %.2f cores", res.OtherCores)
		}
		return line + ")"
	}
	return fmt.Sprintf("%s: %s | %s", r.c.Name, side("Go", r.goRes, r.goErr), side("PyTorch", r.torchRes, r.torchErr))
}

// runGoCase runs one Go case in a fresh process.
func runGoCase(self string, c benchCase, o options) (*result, error) {
	args := []string{"-case", c.Name, "-threads", strconv.Itoa(o.threads),
		"-runs", strconv.Itoa(o.runs), "-warmup", strconv.Itoa(o.warmup)}
	if o.trainCmd != "" {
		args = append(args, "-train-cmd", o.trainCmd)
	}
	env := append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(o.threads))
	return runCaseProcess(self, args, env, o)
}

// runTorchCase runs one PyTorch case in a fresh Python process.
func runTorchCase(c benchCase, o options, vocab int) (*result, error) {
	args := []string{o.script, "--case", c.Name, "--threads", strconv.Itoa(o.threads), "--json",
		"--warmup", strconv.Itoa(o.warmup)}
	if o.runs > 0 {
		args = append(args, "--runs", strconv.Itoa(o.runs))
	}
	if vocab > 0 && c.Model == "default" {
		args = append(args, "--vocab", strconv.Itoa(vocab))
	}
	return runCaseProcess(o.torch, args, append(os.Environ(), threadEnv(o.threads)...), o)
}

// threadEnv pins the PyTorch side's thread pools.
func threadEnv(n int) []string {
	s := strconv.Itoa(n)
	return []string{"OMP_NUM_THREADS=" + s, "OPENBLAS_NUM_THREADS=" + s, "MKL_NUM_THREADS=" + s}
}

// runCaseProcess runs a child that prints one JSON result as its last line
// of output (after waiting for the machine to be quiet, up to o.quiet), and
// fills in its peak RSS from the child's resource usage and the load other
// processes put on the machine meanwhile.
func runCaseProcess(prog string, args, env []string, o options) (*result, error) {
	if o.quiet > 0 {
		waitQuiet(o.quiet)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	before, t0 := readCPU(), time.Now()
	err := cmd.Run()
	wall, after := time.Since(t0), readCPU()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %v", o.timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, failureLine(errb.String()))
	}
	res, err := parseResult(out.Bytes())
	if err != nil {
		return nil, err
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if ru != nil && ru.Maxrss > 0 {
		res.PeakRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	res.OtherCores = otherLoad(before, after, ru, wall)
	res.Wall = wall
	return res, nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// parseResult decodes the last non-empty line of a child's output.
func parseResult(out []byte) (*result, error) {
	line := lastLine(string(out))
	if line == "" {
		return nil, fmt.Errorf("no result printed")
	}
	var res result
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return nil, fmt.Errorf("bad result line %q: %v", line, err)
	}
	if res.Runs < 1 || len(res.Times) != res.Runs {
		return nil, fmt.Errorf("result of case %q has %d times for %d runs", res.Case, len(res.Times), res.Runs)
	}
	return &res, nil
}

// failureLine picks the line of a failed child's standard error that says
// why: a Go panic's or fatal error's first line (the stack trace follows
// it), else the last line (a Python exception's).
func failureLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") {
			return strings.TrimSpace(line)
		}
	}
	return lastLine(s)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// findScript locates scripts/bench_torch.py: the given path, or the
// module's copy found from the working directory upwards.
func findScript(path string) (string, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return "", fmt.Errorf("PyTorch script: %w", err)
		}
		return path, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "bench_torch.py")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("scripts/bench_torch.py not found from the working directory (run from the repository, or pass -script)")
		}
		dir = parent
	}
}

// torchVersion imports torch with the given Python and returns its version.
func torchVersion(python string) (string, error) {
	cmd := exec.Command(python, "-c", "import torch; print(torch.__version__)")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		if msg := lastLine(errb.String()); msg != "" {
			return "", errors.New(msg)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}
