package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/train"
)

// Two trainings started together into one folder: one of them is refused
// at once, in one line naming the folder and the holder's PID; the folder
// holds the other's checkpoints and a log of its steps only.
func TestTwoWritersOneFolder(t *testing.T) {
	dir, corpus, config := fixture(t)
	out := filepath.Join(dir, "C")
	args := func(seed string) []string {
		return []string{"-corpus", corpus, "-config", config, "-out", out, "-steps", "30", "-batch", "4",
			"-eval-every", "5", "-log-every", "1", "-seed", seed, "-no-eval", "-quiet"}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, seed := range []string{"42", "7"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = runTrain(args(seed)...)
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatal("both runs succeeded")
			}
			winner = i
		case !strings.Contains(err.Error(), "held by another writer") || !strings.Contains(err.Error(), out) ||
			!strings.Contains(err.Error(), fmt.Sprintf("PID %d", os.Getpid())) || strings.Contains(err.Error(), "\n"):
			t.Errorf("the refused run's error: %v", err)
		}
	}
	if winner < 0 {
		t.Fatalf("no run succeeded: %v", errs)
	}
	ck, err := checkpoint.Load(filepath.Join(out, "last"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{42, 7}[winner]; ck.State.Seed != want || ck.State.Step != 30 {
		t.Errorf("last/ holds seed %d step %d, want the winner's seed %d at step 30", ck.State.Seed, ck.State.Step, want)
	}
	if steps := metricsSteps(t, out); len(steps) != 30+6 {
		t.Errorf("metrics.jsonl has %d lines, want 30 steps and 6 validations: %v", len(steps), steps)
	}
}

// A one-document corpus (a single text file) trains: it is cut into
// pieces, and stderr says so.
func TestTrainOnOneTextFile(t *testing.T) {
	dir, _, config := fixture(t)
	all, err := corpus.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, d := range all[:30] {
		sb.WriteString(d.Text + "\n\n")
	}
	path := filepath.Join(dir, "my data.txt")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runTrain("-corpus", path, "-config", config, "-out", filepath.Join(dir, "run"), "-steps", "2", "-batch", "4", "-no-eval", "-quiet")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "note: corpus "+path+" is one document") {
		t.Errorf("stderr does not say the document was cut:\n%s", stderr)
	}
}

// -resume refuses a checkpoint edited after the run saved it, and says to
// use -init; the refusal changes nothing.
func TestResumeRefusesEditedCheckpoint(t *testing.T) {
	dir, corpus, config := fixture(t)
	out := filepath.Join(dir, "run")
	if _, stderr, err := runTrain("-corpus", corpus, "-config", config, "-out", out, "-steps", "4", "-batch", "4", "-eval-every", "2", "-no-eval", "-quiet"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	cfgPath := filepath.Join(out, "last", checkpoint.ConfigFile)
	b, _ := os.ReadFile(cfgPath)
	edited := strings.Replace(string(b), `"num_hidden_layers": 2`, `"num_hidden_layers": 1`, 1)
	if edited == string(b) {
		t.Fatal("no num_hidden_layers in config.json")
	}
	os.WriteFile(cfgPath, []byte(edited), 0o644)
	log, _ := os.ReadFile(filepath.Join(out, train.LogFile))
	_, _, err := runTrain("-corpus", corpus, "-out", out, "-resume", "-quiet", "-no-eval")
	if err == nil || !strings.Contains(err.Error(), "config.json") || !strings.Contains(err.Error(), "-init") {
		t.Fatalf("resume of an edited checkpoint: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(out, train.LogFile)); string(after) != string(log) {
		t.Error("the refused resume changed metrics.jsonl")
	}
}

func TestInterruptedMessage(t *testing.T) {
	cases := []struct {
		step, last int
		want       string
	}{
		{5, -1, "interrupted at step 5, before the first checkpoint: there is nothing to resume"},
		{7, 6, "interrupted at step 7; " + filepath.Join("runs", "x", "last") + " holds step 6 (continue with -resume -out " + filepath.Join("runs", "x") + ")"},
	}
	for _, c := range cases {
		if got := interrupted(c.step, c.last, filepath.Join("runs", "x")).Error(); got != c.want {
			t.Errorf("interrupted(%d, %d) = %q, want %q", c.step, c.last, got, c.want)
		}
	}
}

// The real binary, interrupted: the first interrupt stops the run after its
// step and names the step last/ holds; an interrupt while the run is
// stopping ends the process at once, by the signal. last/ loads after both.
func TestInterrupts(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sends SIGINT")
	}
	if args := os.Getenv("TRAIN_INTERRUPT_ARGS"); args != "" {
		os.Args = append([]string{"train"}, strings.Split(args, "\x1f")...)
		main()
		return
	}
	dir, corpus, config := fixture(t)
	start := func(out string) (*exec.Cmd, *bufio.Reader) {
		t.Helper()
		args := []string{"-corpus", corpus, "-config", config, "-out", out, "-steps", "100000", "-batch", "4",
			"-eval-every", "3", "-eval-seqs", "4", "-no-eval"}
		cmd := exec.Command(os.Args[0], "-test.run=^TestInterrupts$")
		cmd.Env = append(os.Environ(), "TRAIN_INTERRUPT_ARGS="+strings.Join(args, "\x1f"))
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the first checkpoint.
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := os.Stat(filepath.Join(out, "last", checkpoint.StateFile)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("no checkpoint within a minute")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return cmd, bufio.NewReader(stderr)
	}
	// waitLine reads stderr until a line containing want (or EOF).
	waitLine := func(r *bufio.Reader, want string) (string, error) {
		var all strings.Builder
		for {
			line, err := r.ReadString('\n')
			all.WriteString(line)
			if strings.Contains(line, want) {
				return line, nil
			}
			if err != nil {
				return all.String(), err
			}
		}
	}

	out := filepath.Join(dir, "once")
	cmd, stderr := start(out)
	cmd.Process.Signal(os.Interrupt)
	if _, err := waitLine(stderr, "interrupt: stopping after this step"); err != nil {
		t.Fatalf("no interrupt notice: %v", err)
	}
	last, err := waitLine(stderr, "interrupted at step")
	if err != nil {
		t.Fatalf("no final message: %v", err)
	}
	io.Copy(io.Discard, stderr)
	werr := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit after one interrupt: %v, want status 1", werr)
	}
	ck, err := checkpoint.Load(filepath.Join(out, "last"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s holds step %d", filepath.Join(out, "last"), ck.State.Step); !strings.Contains(last, want) {
		t.Errorf("final message %q does not say %q", last, want)
	}

	out = filepath.Join(dir, "twice")
	cmd, stderr = start(out)
	cmd.Process.Signal(os.Interrupt)
	if _, err := waitLine(stderr, "interrupt: stopping after this step"); err != nil {
		t.Fatalf("no interrupt notice: %v", err)
	}
	cmd.Process.Signal(os.Interrupt)
	go io.Copy(io.Discard, stderr)
	werr = cmd.Wait()
	// The run may have finished its step and exited before the second
	// interrupt arrived; if it had not, the signal ended it.
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() != syscall.SIGINT {
			t.Errorf("ended by %v", ws.Signal())
		}
	}
	if _, err := checkpoint.Load(filepath.Join(out, "last")); err != nil {
		t.Errorf("last/ after two interrupts: %v", err)
	}
}
