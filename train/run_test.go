package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/internal/runlock"
)

// stopAt is a context that reports cancellation once the trainer reaches
// a step, as an interrupt would between steps.
type stopAt struct {
	context.Context
	tr   *Trainer
	step int
}

func (c stopAt) Err() error {
	if c.tr.State.Step >= c.step {
		return context.Canceled
	}
	return nil
}

// logLine is a metrics line without its timings, which differ between runs.
type logLine struct {
	Step                   int
	Kind                   string
	Loss, GradNorm, ValAcc float64
	ValLoss                float64
}

// readLog parses a metrics log, checking that every line has all the
// fields of its kind (zeros included).
func readLog(t *testing.T, path string) []logLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []logLine
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		l := logLine{Step: int(m["step"].(float64))}
		want := []string{"step", "epoch", "elapsed_seconds", "loss", "lr", "grad_norm", "tokens_per_sec"}
		if _, ok := m["val_loss"]; ok {
			want = []string{"step", "epoch", "elapsed_seconds", "val_loss", "val_accuracy", "best"}
			l.Kind, l.ValLoss, l.ValAcc = "val", m["val_loss"].(float64), m["val_accuracy"].(float64)
		} else {
			l.Kind, l.Loss, l.GradNorm = "step", m["loss"].(float64), m["grad_norm"].(float64)
		}
		if len(m) != len(want) {
			t.Errorf("%s:%d: fields %v, want %v", path, i+1, m, want)
		}
		for _, k := range want {
			if _, ok := m[k]; !ok {
				t.Errorf("%s:%d: no %q: %s", path, i+1, k, line)
			}
		}
		out = append(out, l)
	}
	return out
}

// logTrainer returns a 12-step trainer that logs every step, with seed.
func logTrainer(t *testing.T, out string, seed uint64) *Trainer {
	tr := newTinyTrainer(t, out, 12, func(o *Options) { o.LogEvery, o.Seed = 1, seed })
	tr.Progress = nil
	return tr
}

// A run interrupted after its checkpoint at step 4, at step 6, and resumed
// twice, logs each step once, with the losses of a run that was never
// interrupted.
func TestMetricsLogAfterResume(t *testing.T) {
	straight := t.TempDir()
	if err := logTrainer(t, straight, 42).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := readLog(t, filepath.Join(straight, LogFile))
	if len(want) != 12+3 {
		t.Fatalf("straight run logged %d lines, want 12 steps and 3 validations", len(want))
	}

	dir := t.TempDir()
	tr := logTrainer(t, dir, 42)
	if err := tr.Run(stopAt{context.Background(), tr, 6}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	if tr.LastCheckpoint() != 4 {
		t.Errorf("LastCheckpoint() = %d, want 4", tr.LastCheckpoint())
	}
	// A line cut short by a kill.
	f, _ := os.OpenFile(filepath.Join(dir, LogFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step":7,"epo`)
	f.Close()
	for _, stop := range []int{10, 99} {
		ck, err := checkpoint.Load(filepath.Join(dir, "last"))
		if err != nil {
			t.Fatal(err)
		}
		tr := logTrainer(t, dir, 42)
		if err := tr.Resume(ck); err != nil {
			t.Fatal(err)
		}
		if err := tr.Run(stopAt{context.Background(), tr, stop}); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	got := readLog(t, filepath.Join(dir, LogFile))
	if !slices.Equal(got, want) {
		t.Errorf("log after resuming:\n%v\nwant\n%v", got, want)
	}
}

// A run started from step 0 over an earlier run leaves the earlier run's
// checkpoints, log and results whole until its own first checkpoint, then
// replaces them all.
func TestOverwriteKeepsEarlierRunUntilFirstCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if err := logTrainer(t, dir, 42).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ResultsMarkdown), []byte("table"), 0o644)
	snapshot := func() map[string]string {
		m := map[string]string{}
		for _, p := range []string{LogFile, ResultsMarkdown, "best/" + checkpoint.ModelFile, "last/" + checkpoint.StateFile} {
			b, _ := os.ReadFile(filepath.Join(dir, p))
			m[p] = string(b)
		}
		return m
	}
	earlier := snapshot()

	second := logTrainer(t, dir, 7)
	if err := second.Run(stopAt{context.Background(), second, 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("second run: %v", err)
	}
	if now := snapshot(); !mapsEqual(now, earlier) {
		t.Error("a run stopped before its first checkpoint changed the earlier run's files")
	}
	if temps, _ := filepath.Glob(filepath.Join(dir, ".metrics*")); len(temps) != 0 {
		t.Errorf("temporary logs left: %v", temps)
	}

	third := logTrainer(t, dir, 7)
	if err := third.Run(stopAt{context.Background(), third, 5}); !errors.Is(err, context.Canceled) {
		t.Fatalf("third run: %v", err)
	}
	lines := readLog(t, filepath.Join(dir, LogFile))
	if len(lines) != 6 || lines[0].Step != 1 || lines[4].Kind != "val" || lines[4].Step != 4 {
		t.Errorf("log of the replacing run: %v", lines)
	}
	if _, err := os.Stat(filepath.Join(dir, ResultsMarkdown)); !os.IsNotExist(err) {
		t.Errorf("the earlier run's results.md survived the replacement: %v", err)
	}
	ck, err := checkpoint.Load(filepath.Join(dir, "last"))
	if err != nil || ck.State.Step != 4 || ck.State.Seed != 7 {
		t.Fatalf("last/ after the replacement: %+v, %v", ck.State, err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A checkpoint written in the middle of a replacement (before the
// temporary log took the log's name) resumes with its own log.
func TestResumeFinishesLogReplacement(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, LogFile), []byte(`{"step":1,"loss":9}`+"\n"), 0o644)
	tmp := "." + LogFile + ".tmp-42"
	os.WriteFile(filepath.Join(dir, tmp), []byte(`{"step":1,"loss":2}`+"\n"+`{"step":2,"loss":1}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "."+LogFile+".tmp-7"), []byte("stale"), 0o644)
	l, err := openLog(dir, &checkpoint.State{Step: 1, MetricsLog: tmp}, false)
	if err != nil {
		t.Fatal(err)
	}
	l.close()
	b, _ := os.ReadFile(filepath.Join(dir, LogFile))
	if string(b) != `{"step":1,"loss":2}`+"\n" {
		t.Errorf("log = %q, want the replacing run's line of step 1", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".metrics*")); len(left) != 0 {
		t.Errorf("temporary logs left: %v", left)
	}
}

func TestDivergenceStopsTraining(t *testing.T) {
	tr := logTrainer(t, "", 42)
	tl, err := tr.validate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	loss, uniform := tl.Loss(), math.Log(float64(tr.Config.VocabSize))
	if !(loss > 0.5*uniform) {
		t.Fatalf("the initial loss %v is far below ln V = %v: the cases below need it close", loss, uniform)
	}
	cases := []struct {
		name         string
		first, ratio float64
		diverged     bool
	}{
		{"below the first loss's multiple", loss / 2, 2.1, false},
		{"above the first loss's multiple", loss / 2, 1.9, true},
		{"ln V when the first loss is above it", 1000, 1.01 * loss / uniform, false},
		{"above ln V's multiple", 1000, 0.99 * loss / uniform, true},
		{"rule off", loss / 100, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr.opts.DivergeRatio = c.ratio
			first := c.first
			tr.State.FirstValLoss, tr.State.BestValLoss = &first, nil
			_, err := tr.evaluate(context.Background())
			if errors.Is(err, ErrDiverged) != c.diverged {
				t.Errorf("evaluate: %v, want diverged %v", err, c.diverged)
			}
			if c.diverged && tr.State.BestValLoss != nil {
				t.Error("a diverged validation updated the best loss")
			}
		})
	}
	// The rule applies in Run, before any checkpoint is written.
	dir := t.TempDir()
	tr = logTrainer(t, dir, 42)
	tr.opts.DivergeRatio = 0.5 // any loss is above half of itself
	if err := tr.Run(context.Background()); !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), "step 4") {
		t.Fatalf("Run: %v, want ErrDiverged at step 4", err)
	}
	if HasCheckpoints(dir) {
		t.Error("a diverged run wrote a checkpoint")
	}
}

// A second writer is refused before it changes anything; a reader needs
// no lock.
func TestOneWriterPerRunFolder(t *testing.T) {
	dir := t.TempDir()
	lk, err := LockRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr := logTrainer(t, dir, 42)
	err = tr.Run(context.Background())
	if !errors.Is(err, runlock.ErrHeld) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("Run while another writer holds the folder: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the refused run changed the folder: %v", entries)
	}
	tr.Lock = lk
	if err := tr.Run(context.Background()); err != nil {
		t.Fatalf("Run with the caller's lock: %v", err)
	}
	lk.Release()
	tr2 := logTrainer(t, t.TempDir(), 42)
	tr2.Lock = lk
	if err := tr2.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "not the output folder") {
		t.Errorf("Run with another folder's lock: %v", err)
	}
}

// Training that checkpoints at every step while readers load last/ and
// best/ in a loop: no read fails or mixes two checkpoints, and training
// ends normally.
func TestReadersDuringTraining(t *testing.T) {
	dir := t.TempDir()
	tr := newTinyTrainer(t, dir, 16, func(o *Options) { o.EvalEvery, o.EvalSeqs = 1, 8 })
	tr.Progress = nil
	var wg sync.WaitGroup
	var loads atomic.Int64
	done := make(chan struct{})
	errs := make(chan error, 8)
	for _, sub := range []string{"last", "best", "last"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				ck, err := checkpoint.Load(filepath.Join(dir, sub))
				if err != nil {
					if errors.Is(err, os.ErrNotExist) {
						time.Sleep(time.Millisecond) // before the first checkpoint
						continue
					}
					errs <- fmt.Errorf("loading %s: %w", sub, err)
					return
				}
				if len(ck.Changed) != 0 || ck.State == nil || sub == "last" && ck.Opt.Step != ck.State.Step {
					errs <- fmt.Errorf("%s: inconsistent checkpoint: changed %v, state %+v", sub, ck.Changed, ck.State)
					return
				}
				loads.Add(1)
				time.Sleep(100 * time.Microsecond) // leave the trainer a core
			}
		}()
	}
	err := tr.Run(context.Background())
	close(done)
	wg.Wait()
	close(errs)
	if err != nil {
		t.Fatalf("training with readers: %v", err)
	}
	for err := range errs {
		t.Error(err)
	}
	if loads.Load() == 0 {
		t.Error("no reader loaded a checkpoint")
	}
	t.Logf("%d loads during %d steps", loads.Load(), tr.State.Step)
}
