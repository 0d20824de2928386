package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/internal/testfiles"
	"github.com/infoscale/gaualpha/layers"
)

func fixture(t *testing.T) (dir, corpus, base string) {
	t.Helper()
	dir = t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	corpus = testfiles.WriteCorpus(t, filepath.Join(dir, "c.jsonl"), testfiles.RandomDocs(rng, letters, 12, 400))
	return dir, corpus, testfiles.TinyCheckpoint(t, filepath.Join(dir, "base"), rng, letters)
}

func TestSuite(t *testing.T) {
	dir, corpus, base := fixture(t)
	out := filepath.Join(dir, "suite")
	args := []string{"-base", base, "-corpus", corpus, "-out", out, "-methods", "rope,pi,alibi,window",
		"-norm", "softmax,infoscale", "-lengths", "32,64", "-docs", "2", "-finetune-steps", "2", "-batch", "4", "-quiet"}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	md := stdout.String()
	for _, want := range []string{"| pi (ft) | infoscale | 0 |", "| window | softmax | 0 |", "| alibi (ft) | softmax | 0 |", "32 (2x)", "Loss"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
	if strings.Count(md, "| rope | ") != 4 { // 2 norms × (accuracy, loss)
		t.Errorf("rope rows:\n%s", md)
	}
	for _, f := range []string{"suite.md", "suite.csv", "suite.json", "cos0/ft-pi/best/config.json", "cos0/ft-alibi/last/trainer_state.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	ft, err := layers.LoadConfig(filepath.Join(out, "cos0", "ft-pi", "best", "config.json"))
	if err != nil || ft.Method != "pi" || ft.TargetLength != 64*16 {
		t.Errorf("fine-tuned PI config %+v, %v", ft, err)
	}
	csv, _ := os.ReadFile(filepath.Join(out, "suite.csv"))
	if n := strings.Count(string(csv), "\n"); n != 1+4*2*2 {
		t.Errorf("csv has %d lines, want header + 4 methods × 2 norms × 2 lengths", n)
	}
	// A second run reuses the finished fine-tunes.
	stderr.Reset()
	args = args[:len(args)-1] // drop -quiet to see progress
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "reusing the fine-tuned pi") {
		t.Errorf("fine-tune not reused:\n%s", stderr.String())
	}
}

func TestSuiteBadInput(t *testing.T) {
	_, corpus, base := fixture(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "-base is required"},
		{[]string{"-base", base, "-corpus", corpus, "-protocol", "x"}, "unknown protocol"},
		{[]string{"-base", base, "-corpus", corpus, "-methods", "xpos", "-lengths", "32"}, "unknown method"},
		{[]string{"-base", base, "-corpus", corpus, "-device", "tpu"}, "unknown device"},
		{[]string{"-base", base, "-corpus", corpus, "-precision", "bf16"}, "-precision bf16 needs -device cuda"},
		{[]string{"-base", base, "-corpus", corpus, "-precision", "fp8"}, "unknown precision"},
	} {
		var o, e bytes.Buffer
		if err := run(append(c.args, "-quiet"), &o, &e); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
