//go:build gpu || gpuemu

package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/train"
)

// cmd/train on the device in float32 and with -precision bf16: the bf16
// run says so in its log and its final table, and its step losses stay
// within 2e-2 of the float32 run's (the same data, masks and dropout) and
// differ from them (the rounding ran).
func TestTrainOnDevice(t *testing.T) {
	if err := gpu.Available(); err != nil {
		t.Skipf("no GPU to test on: %v", err)
	}
	dir, corpus, config := fixture(t)
	losses := func(precision string) []float64 {
		out := filepath.Join(dir, precision)
		stdout, stderr, err := runTrain("-corpus", corpus, "-config", config, "-out", out, "-vocab-size", "100", "-steps", "8", "-batch", "4",
			"-log-every", "1", "-eval-every", "4", "-eval-seqs", "8", "-eval-lengths", "32", "-eval-docs", "1", "-device", "cuda",
			"-precision", precision, "-quiet")
		if err != nil {
			t.Fatalf("-precision %s: %v\n%s", precision, err, stderr)
		}
		if bf := strings.Contains(stderr, "bf16 products"); bf != (precision == "bf16") {
			t.Errorf("-precision %s: the log does not say which precision ran:\n%s", precision, stderr)
		}
		if bf := strings.Contains(stdout, "bf16 inputs"); bf != (precision == "bf16") {
			t.Errorf("-precision %s: the table does not say which precision ran:\n%s", precision, stdout)
		}
		b, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var ls []float64
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var m train.StepMetrics
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			if m.Loss != 0 {
				ls = append(ls, m.Loss)
			}
		}
		if len(ls) != 8 {
			t.Fatalf("-precision %s: %d step losses in metrics.jsonl, want 8", precision, len(ls))
		}
		return ls
	}
	f32, bf16 := losses("f32"), losses("bf16")
	for i := range f32 {
		if e := math.Abs(bf16[i]-f32[i]) / f32[i]; !(e < 2e-2) || f32[i] == bf16[i] {
			t.Errorf("step %d: loss %.6f with bf16, %.6f in float32 (want within 2e-2, not equal)", i+1, bf16[i], f32[i])
		}
	}
	t.Logf("losses, float32: %.4f; bf16: %.4f", f32, bf16)
}
