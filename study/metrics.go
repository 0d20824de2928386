package study

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/infoscale/gaualpha/train"
)

// ReadMetrics reads a training run's metrics log (metrics.jsonl, written by
// package train) from dir, or from dir's parent when dir is one of the
// run's checkpoints (run/best): its training-loss lines (Loss > 0) and its
// validation lines (ValLoss > 0). A run with neither is an error, as is an
// unknown field.
func ReadMetrics(dir string) (trainLines, valLines []train.Metrics, err error) {
	path := filepath.Join(dir, "metrics.jsonl")
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(filepath.Dir(dir), "metrics.jsonl")
		if _, perr := os.Stat(path); perr != nil {
			return nil, nil, fmt.Errorf("no metrics.jsonl in %s or its parent (%v)", dir, err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics of %s: %w", dir, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(line)))
		dec.DisallowUnknownFields()
		var m train.Metrics
		if err := dec.Decode(&m); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if m.Loss > 0 {
			trainLines = append(trainLines, m)
		}
		if m.ValLoss > 0 {
			valLines = append(valLines, m)
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
