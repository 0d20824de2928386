package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/internal/atomicfile"
)

// Files of a run folder besides its checkpoints (best/, last/).
const (
	// LogFile is the metrics log: one JSON object per line, a StepMetrics
	// every LogEvery steps and a ValMetrics at every validation.
	LogFile = "metrics.jsonl"
	// ResultsMarkdown and ResultsJSON hold cmd/train's final table of the
	// run's best checkpoint.
	ResultsMarkdown = "results.md"
	ResultsJSON     = "results.json"
)

// StepMetrics is a training line of the metrics log.
type StepMetrics struct {
	Step      int     `json:"step"`
	Epoch     float64 `json:"epoch"`
	Loss      float64 `json:"loss"`
	LR        float64 `json:"lr"`
	GradNorm  float64 `json:"grad_norm"`
	TokPerSec float64 `json:"tokens_per_sec"`
	Elapsed   float64 `json:"elapsed_seconds"`
	// CommSeconds is the wall time the steps of this process have spent
	// so far in the sums over the processes of a data-parallel run
	// (waiting for the slowest included; absent in one process).
	CommSeconds float64 `json:"comm_seconds,omitempty"`
}

// ValMetrics is a validation line of the metrics log.
type ValMetrics struct {
	Step    int     `json:"step"`
	Epoch   float64 `json:"epoch"`
	ValLoss float64 `json:"val_loss"`
	ValAcc  float64 `json:"val_accuracy"`
	Best    bool    `json:"best"`
	Elapsed float64 `json:"elapsed_seconds"`
}

// metricsLog is the metrics log of the run that holds a run folder's lock.
// It holds every step's lines once, however often the run was resumed: a
// resumed run first drops the lines logged after the checkpoint it resumes.
// A run that starts over an earlier run's checkpoints writes a temporary
// file until its first checkpoints replace the earlier run (replace), so
// that a failure before then leaves the earlier run's log whole.
type metricsLog struct {
	dir  string
	name string // in dir: LogFile, or the temporary file until replace
	f    *os.File
	enc  *json.Encoder
}

// openLog opens the metrics log of the run in dir that continues from st
// (st.Step 0: a new run). replacing reports that dir holds an earlier run's
// checkpoints, which a new run replaces at its first checkpoint.
func openLog(dir string, st *checkpoint.State, replacing bool) (*metricsLog, error) {
	l := &metricsLog{dir: dir, name: LogFile}
	path := filepath.Join(dir, LogFile)
	var err error
	if st.Step == 0 {
		// Temporary logs of runs killed before their first checkpoint.
		if err := atomicfile.RemoveTemps(path); err != nil {
			return nil, fmt.Errorf("metrics log %s: %w", path, err)
		}
	}
	switch {
	case st.Step > 0:
		err = l.resume(st)
	case replacing:
		if l.f, err = os.CreateTemp(dir, "."+LogFile+".tmp-*"); err == nil {
			l.name = filepath.Base(l.f.Name())
		}
	default:
		l.f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("metrics log %s: %w", path, err)
	}
	l.enc = json.NewEncoder(l.f)
	return l, nil
}

// resume finishes a replacement that the checkpoint st was written in the
// middle of, removes other runs' temporary logs, keeps the lines of the
// steps up to st.Step and opens the log for appending.
func (l *metricsLog) resume(st *checkpoint.State) error {
	path := filepath.Join(l.dir, LogFile)
	if st.MetricsLog != "" && st.MetricsLog != LogFile && filepath.Base(st.MetricsLog) == st.MetricsLog {
		if err := os.Rename(filepath.Join(l.dir, st.MetricsLog), path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := atomicfile.RemoveTemps(path); err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	kept := linesUpTo(old, st.Step)
	if !bytes.Equal(kept, old) {
		err := atomicfile.WriteFile(path, 0o644, func(w io.Writer) error {
			_, err := w.Write(kept)
			return err
		})
		if err != nil {
			return err
		}
	}
	l.f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	return err
}

// linesUpTo returns the lines of a metrics log whose step is at most step,
// dropping lines that do not parse (a line cut short by a kill).
func linesUpTo(log []byte, step int) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Step == nil || *l.Step > step {
			continue
		}
		out.Write(sc.Bytes())
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// write appends one line.
func (l *metricsLog) write(v any) error {
	if err := l.enc.Encode(v); err != nil {
		return fmt.Errorf("metrics log %s: %w", filepath.Join(l.dir, l.name), err)
	}
	return nil
}

// replace makes a temporary log the run's log once the run's first
// checkpoints have replaced an earlier run's, and removes that run's
// results, which described its checkpoints. It does nothing otherwise.
func (l *metricsLog) replace() error {
	if l.name == LogFile {
		return nil
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	if err := os.Rename(filepath.Join(l.dir, l.name), filepath.Join(l.dir, LogFile)); err != nil {
		return fmt.Errorf("metrics log: %w", err)
	}
	l.name = LogFile
	for _, name := range []string{ResultsMarkdown, ResultsJSON} {
		if err := os.Remove(filepath.Join(l.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the earlier run's %s: %w", name, err)
		}
	}
	return nil
}

// close closes the file; a temporary log that never replaced the earlier
// run's is removed.
func (l *metricsLog) close() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	if l.name != LogFile {
		os.Remove(filepath.Join(l.dir, l.name))
	}
	l.f = nil
	return err
}
