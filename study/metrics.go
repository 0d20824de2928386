package study

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/infoscale/gaualpha/train"
)

// ReadMetrics reads a training run's metrics log (metrics.jsonl, written by
// package train) from dir, or from dir's parent when dir is one of the
// run's checkpoints (run/best): its training lines (those with a "loss")
// and its validation lines (those with a "val_loss"). A run with neither
// is an error, as is a line of neither kind or with an unknown field.
func ReadMetrics(dir string) (trainLines []train.StepMetrics, valLines []train.ValMetrics, err error) {
	path := filepath.Join(dir, train.LogFile)
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(filepath.Dir(dir), train.LogFile)
		if _, perr := os.Stat(path); perr != nil {
			return nil, nil, fmt.Errorf("no %s in %s or its parent (%v)", train.LogFile, dir, err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics of %s: %w", dir, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	strict := func(line []byte, v any) error {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		return dec.Decode(v)
	}
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var kind struct {
			Loss    *float64 `json:"loss"`
			ValLoss *float64 `json:"val_loss"`
		}
		if err := json.Unmarshal(line, &kind); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		switch {
		case kind.ValLoss != nil:
			var m train.ValMetrics
			if err := strict(line, &m); err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
			valLines = append(valLines, m)
		case kind.Loss != nil:
			var m train.StepMetrics
			if err := strict(line, &m); err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %w", path, n, err)
			}
			trainLines = append(trainLines, m)
		default:
			return nil, nil, fmt.Errorf("%s:%d: neither a training line (loss) nor a validation line (val_loss)", path, n)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(trainLines) == 0 && len(valLines) == 0 {
		return nil, nil, fmt.Errorf("%s: no training or validation loss lines", path)
	}
	return trainLines, valLines, nil
}

// ValCheckpoint is the checkpoint a training run kept at the validation of
// a step (cmd/train -keep-validations): val/step-NNNNNN in its folder.
func ValCheckpoint(dir string, step int) string { return train.ValCheckpointDir(dir, step) }

// MatchedStep returns the step of the run in dir whose validation loss is
// closest to target (the earlier of equally close ones), and that loss.
func MatchedStep(dir string, target float64) (step int, loss float64, err error) {
	_, val, err := ReadMetrics(dir)
	if err != nil {
		return 0, 0, err
	}
	if len(val) == 0 {
		return 0, 0, fmt.Errorf("%s: no validation in its metrics log", dir)
	}
	best := -1
	for i, v := range val {
		if best < 0 || math.Abs(v.ValLoss-target) < math.Abs(val[best].ValLoss-target) {
			best = i
		}
	}
	return val[best].Step, val[best].ValLoss, nil
}
