//go:build gpu || gpuemu

package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/infoscale/gaualpha/gpu"
)

// The suite on the device (fine-tunes and evaluations) gives the CPU's table:
// the same scored positions and correct predictions, losses within 1e-4.
func TestSuiteOnDevice(t *testing.T) {
	if err := gpu.Available(); err != nil {
		t.Skipf("no GPU to test on: %v", err)
	}
	dir, corpus, base := fixture(t)
	table := func(device string) summary {
		out := filepath.Join(dir, device)
		args := []string{"-base", base, "-corpus", corpus, "-out", out, "-methods", "rope,pi", "-norm", "infoscale",
			"-lengths", "32,64", "-docs", "2", "-finetune-steps", "3", "-batch", "4", "-device", device, "-quiet"}
		var stdout, stderr bytes.Buffer
		if err := run(args, &stdout, &stderr); err != nil {
			t.Fatalf("-device %s: %v\n%s", device, err, stderr.String())
		}
		b, err := os.ReadFile(filepath.Join(out, "suite.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s summary
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	want, got := table("cpu"), table("cuda")
	if len(got.Rows) != len(want.Rows) || len(want.Rows) != 2 {
		t.Fatalf("%d rows on the device, %d on the CPU, want 2", len(got.Rows), len(want.Rows))
	}
	for i, w := range want.Rows {
		for j, wr := range w.Results {
			gr := got.Rows[i].Results[j]
			if gr.Tally.Count != wr.Tally.Count || gr.Tally.Correct != wr.Tally.Correct ||
				!(math.Abs(gr.Tally.SumLoss-wr.Tally.SumLoss) <= 1e-4*math.Abs(wr.Tally.SumLoss)) {
				t.Errorf("%s at %d: device %+v, CPU %+v", w.Method, wr.Length, gr.Tally, wr.Tally)
			}
		}
	}
}
