package benchmark

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// RunProcess runs a child that prints one JSON Result as its last line of
// output: a Go case (cmd/bench -case NAME) or a PyTorch one
// (scripts/bench_torch.py --case NAME --json). It first waits up to quiet
// for the machine to be idle (WaitQuiet; 0: not at all), gives the child
// at most timeout, and fills in the result's peak RSS from the child's
// resource usage, the load other processes put on the machine meanwhile
// and the child's wall time. A failed child's error carries the line of
// its standard error that says why.
func RunProcess(prog string, args, env []string, quiet, timeout time.Duration) (*Result, error) {
	if quiet > 0 {
		WaitQuiet(quiet)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	before, t0 := readCPU(), time.Now()
	err := cmd.Run()
	wall, after := time.Since(t0), readCPU()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("timed out after %v", timeout)
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

// parseResult decodes the last non-empty line of a child's output.
func parseResult(out []byte) (*Result, error) {
	line := lastLine(string(out))
	if line == "" {
		return nil, fmt.Errorf("no result printed")
	}
	var res Result
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

// FindScript locates scripts/bench_torch.py, the PyTorch side: the given
// path, or (path empty) the module's copy found from the working
// directory upwards.
func FindScript(path string) (string, error) {
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

// TorchVersion imports torch with the given Python and returns its
// version; the error is Python's last line where it printed one.
func TorchVersion(python string) (string, error) {
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
