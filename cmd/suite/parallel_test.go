package main

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/internal/testfiles"
	"github.com/infoscale/gaualpha/study"
)

// Two processes (in-process ranks) share the fine-tunes and the
// evaluations and write, from rank 0, the suite one process writes: the
// training-free methods' results equal to the last bit, the fine-tuned
// ones' within the tolerance of a data-parallel fine-tune (its sums in
// another order); rank 1 prints nothing.
func TestSuiteTwoProcesses(t *testing.T) {
	dir, corpus, base := fixture(t)
	args := func(out string) []string {
		return []string{"-base", base, "-corpus", corpus, "-out", out, "-methods", "rope,pi,pi-ft,alibi,window",
			"-norm", "softmax,infoscale", "-lengths", "32,64", "-docs", "2", "-finetune-steps", "3", "-batch", "8"}
	}
	one, two := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	var stdout, stderr bytes.Buffer
	if err := run(collective.Single{}, append(args(one), "-quiet"), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	printed, err := testfiles.RunRanks(2, run, args(two))
	if err != nil {
		t.Fatal(err)
	}
	if printed[1].All() != "" {
		t.Errorf("rank 1 printed %q", printed[1].All())
	}
	a, err := study.ReadSuite(filepath.Join(one, "suite.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := study.ReadSuite(filepath.Join(two, "suite.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Rows) != len(b.Rows) {
		t.Fatalf("%d rows on one process, %d on two", len(a.Rows), len(b.Rows))
	}
	for i, r := range a.Rows {
		q := b.Rows[i]
		if q.Label() != r.Label() || q.Norm != r.Norm || len(q.Results) != len(r.Results) {
			t.Fatalf("row %d: %s %s on two processes, %s %s on one", i, q.Label(), q.Norm, r.Label(), r.Norm)
		}
		for k, res := range r.Results {
			got := q.Results[k].Tally
			switch {
			case !r.FineTune && got != res.Tally:
				t.Errorf("%s %s L=%d: %+v on two processes, %+v on one", r.Label(), r.Norm, res.Length, got, res.Tally)
			case r.FineTune && (got.Count != res.Tally.Count || math.Abs(got.SumLoss-res.Tally.SumLoss) > 1e-4*res.Tally.SumLoss):
				t.Errorf("%s %s L=%d (fine-tuned): %+v on two processes, %+v on one", r.Label(), r.Norm, res.Length, got, res.Tally)
			}
		}
	}
}
