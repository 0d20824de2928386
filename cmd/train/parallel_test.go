package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/internal/testfiles"
)

// metricLines reads metrics.jsonl: the training loss of each step and the
// validation losses, in order.
func metricLines(t *testing.T, out string) (loss map[int]float64, val []float64) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	loss = map[int]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m struct {
			Step    int
			Loss    *float64 `json:"loss"`
			ValLoss *float64 `json:"val_loss"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics.jsonl line %q: %v", line, err)
		}
		switch {
		case m.Loss != nil:
			loss[m.Step] = *m.Loss
		case m.ValLoss != nil:
			val = append(val, *m.ValLoss)
		}
	}
	return loss, val
}

// Two processes (in-process ranks) run the command as one: rank 0 writes
// the folder one process writes, with the same losses step by step and
// the same validation losses and extrapolation table (within the
// tolerance of sums in another order), and rank 1 prints nothing.
func TestTrainTwoProcesses(t *testing.T) {
	dir, corpus, config := fixture(t)
	args := func(out string) []string {
		return []string{"-corpus", corpus, "-config", config, "-out", out, "-steps", "8", "-batch", "6",
			"-eval-every", "4", "-log-every", "1", "-eval-lengths", "32,64", "-eval-docs", "2"}
	}
	one := filepath.Join(dir, "one")
	if _, stderr, err := runTrain(append(args(one), "-quiet")...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	two := filepath.Join(dir, "two")
	printed, err := testfiles.RunRanks(2, run, args(two))
	if err != nil {
		t.Fatal(err)
	}
	if printed[1].All() != "" {
		t.Errorf("rank 1 printed %q", printed[1].All())
	}
	if !strings.Contains(printed[0].All(), "on 2 processes (cpu each, 3 sequences of every batch)") || !strings.Contains(printed[0].All(), "| 64 | 4x |") ||
		strings.Count(printed[0].All(), "weights identical on the 2 processes (SHA-256 ") != 2 {
		t.Errorf("rank 0 printed:\n%s", printed[0].All())
	}
	lossOne, valOne := metricLines(t, one)
	lossTwo, valTwo := metricLines(t, two)
	if len(lossOne) != 8 || len(lossTwo) != 8 || len(valOne) != 2 || len(valTwo) != 2 {
		t.Fatalf("metrics: %d and %d steps, %d and %d validations", len(lossOne), len(lossTwo), len(valOne), len(valTwo))
	}
	for s, l := range lossOne {
		if math.Abs(lossTwo[s]-l) > 1e-5*l {
			t.Errorf("step %d: loss %.7f on two processes, %.7f on one", s, lossTwo[s], l)
		}
	}
	for i, v := range valOne {
		if math.Abs(valTwo[i]-v) > 1e-5*v {
			t.Errorf("validation %d: loss %.7f on two processes, %.7f on one", i+1, valTwo[i], v)
		}
	}
	read := func(dir string) eval.Report {
		b, err := os.ReadFile(filepath.Join(dir, "results.json"))
		if err != nil {
			t.Fatal(err)
		}
		var r eval.Report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	ro, rt := read(one), read(two)
	if len(ro.Results) != len(rt.Results) {
		t.Fatalf("results: %d and %d", len(ro.Results), len(rt.Results))
	}
	for i, r := range ro.Results {
		if q := rt.Results[i]; q.Tally.Count != r.Tally.Count || math.Abs(q.Loss-r.Loss) > 1e-4*r.Loss {
			t.Errorf("%s at %d: %+v on two processes, %+v on one", r.Variant, r.Length, q.Tally, r.Tally)
		}
	}
}
