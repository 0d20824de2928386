package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/internal/runlock"
	"github.com/infoscale/gaualpha/internal/testfiles"
	"github.com/infoscale/gaualpha/layers"
)

// The whole study on a tiny model: every part runs through the real
// command-line tools and REPORT.md carries a verdict for every claim.
func TestReproduceTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tools and runs the whole pipeline")
	}
	dir := t.TempDir()
	if d := os.Getenv("REPRODUCE_TEST_DIR"); d != "" {
		dir = d // keep the outputs for inspection
	}
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "../train", "../suite", "../analyze")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the tools: %v\n%s", err, out)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz的一是不了人我在有他这中大来上"
	corpus := testfiles.WriteCorpus(t, filepath.Join(dir, "c.jsonl"), testfiles.RandomDocs(rng, letters, 20, 3000))
	cfg := layers.DefaultConfig()
	cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers = 8, 12, 4, 1
	cfg.TrainLength = 16 // the suite's lengths 2x..64x n0 end at 1024
	b, _ := cfg.Marshal()
	config := filepath.Join(dir, "config.json")
	os.WriteFile(config, b, 0o644)
	out := filepath.Join(dir, "results")
	args := []string{"-out", out, "-bin", bin, "-corpus", corpus, "-config", config, "-base-steps", "4", "-sweep-steps", "3",
		"-sweep", "4,16,64", "-finetune-steps", "2", "-docs", "1", "-batch", "4"}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	report, err := os.ReadFile(filepath.Join(out, "REPORT.md"))
	if err != nil {
		t.Fatal(err)
	}
	r := string(report)
	if strings.Contains(r, "**not run**") {
		t.Errorf("a claim was not evaluated:\n%s", r)
	}
	for _, want := range []string{"## Verdicts", "analysis/entropy.png", "analysis/heatmap.png", "suite -base", "| cos16 | 16 | 3 |",
		"| suite/cos0/ft-pi | 2 |", "comparator group", "## Rule changes", "## Models that failed to train",
		"## The fast protocol against the paper protocol", "| configuration | length | acc fast |", "analysis/fig2_trainloss.png", "analysis/fig3_finetune.png",
		"Spearman ρ =", "r = InfoScale/softmax entropy growth", "McNemar p (Holm)", "| configuration | length | acc fast | acc paper | b / c | McNemar p |",
		"ALiBi, whose bias favours near keys by construction, measured the same way: mass within ±64 at L = 1024 of ", "the ALiBi fine-tune of the plain model measured the same way"} {
		if !strings.Contains(r, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(r, "(\"Verdict rules\"; rules of commit ") && !strings.Contains(r, "not known: no git checkout") {
		t.Errorf("report does not name the rules' commit:\n%s", r[:min(len(r), 2000)])
	}
	if strings.Contains(r, "departure") {
		t.Errorf("report names a departure from the rules:\n%s", r)
	}
	// A second run skips every finished part.
	stderr.Reset()
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	// 1 plain + 3 sweep + best + headline bases, suite, 2 calibrations, 6
	// analyses, 2 of ALiBi's attention, 2 training-curve figures.
	if n := strings.Count(stderr.String(), "done already"); n != 19 {
		t.Errorf("%d parts skipped on the second run, want 19:\n%s", n, stderr.String())
	}
}

// A failing part stops the run with the tool's own last line in the error.
func TestFailingPart(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"train", "suite", "analyze"} {
		script := "#!/bin/sh\necho \"progress line\"\necho \"" + tool + ": the thing that went wrong\" >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var o, e bytes.Buffer
	err := run([]string{"-bin", bin, "-out", t.TempDir()}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), "part 1") || !strings.Contains(err.Error(), "train: the thing that went wrong") {
		t.Errorf("got %v, want part 1's failure with the tool's last line", err)
	}
}

func TestBadFlags(t *testing.T) {
	var o, e bytes.Buffer
	if err := run([]string{"-profile", "tpu"}, &o, &e); err == nil || !strings.Contains(err.Error(), "unknown profile") {
		t.Errorf("bad profile: %v", err)
	}
	if err := run([]string{"-bin", t.TempDir()}, &o, &e); err == nil || !strings.Contains(err.Error(), "not built") {
		t.Errorf("missing tools: %v", err)
	}
	if err := run([]string{"-sweep", "0,x"}, &o, &e); err == nil || !strings.Contains(err.Error(), "-sweep") {
		t.Errorf("bad sweep: %v", err)
	}
	if err := run([]string{"-precision", "bf16"}, &o, &e); err == nil || !strings.Contains(err.Error(), "needs the gpu profile") {
		t.Errorf("bf16 on the cpu profile: %v", err)
	}
	if err := run([]string{"-profile", "gpu", "-precision", "fp8"}, &o, &e); err == nil || !strings.Contains(err.Error(), "unknown precision") {
		t.Errorf("bad precision: %v", err)
	}
}

// Every flag's bad values are refused with an error naming the flag and
// the value.
func TestReproduceFlagValidation(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"negative base steps", []string{"-base-steps", "-5"}, "-base-steps -5 must be >= 0 (0: the profile's 4000)"},
		{"negative sweep steps", []string{"-sweep-steps", "-1"}, "-sweep-steps -1"},
		{"negative finetune steps", []string{"-finetune-steps", "-1"}, "-finetune-steps -1"},
		{"negative docs", []string{"-docs", "-2"}, "-docs -2"},
		{"negative batch", []string{"-batch", "-32"}, "-batch -32"},
		{"NaN in sweep", []string{"-sweep", "8,NaN"}, "bad CosScale \"NaN\" in -sweep"},
		{"infinite sweep", []string{"-sweep", "Inf"}, "bad CosScale \"Inf\" in -sweep"},
		{"empty sweep entry", []string{"-sweep", "8,,16"}, "bad CosScale \"\" in -sweep"},
		{"missing config", []string{"-config", filepath.Join(t.TempDir(), "none.json")}, "-config:"},
		{"empty out", []string{"-out", ""}, "-out must name a directory"},
		{"stray argument", []string{"gpu"}, "unexpected argument \"gpu\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o, e bytes.Buffer
			if err := run(append(c.args, "-bin", t.TempDir()), &o, &e); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// A second reproduce into an output folder being written is refused, in one
// line naming the folder and the holder's PID, before it writes anything.
func TestOneReproducePerFolder(t *testing.T) {
	out := t.TempDir()
	lk, err := runlock.Acquire(out)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release()
	var o, e bytes.Buffer
	err = run([]string{"-report-only", "-out", out}, &o, &e)
	if !errors.Is(err, runlock.ErrHeld) || !strings.Contains(err.Error(), out) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("reproduce into a held folder: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "REPORT.md")); !os.IsNotExist(err) {
		t.Errorf("the refused reproduce wrote REPORT.md: %v", err)
	}
}

// With -launch, the trainings run through the launcher (here a script that
// records its arguments and runs them), which passes the tool's failure
// on; a launcher that cannot be found is refused.
func TestLaunch(t *testing.T) {
	bin := t.TempDir()
	record := filepath.Join(bin, "launched.txt")
	launcher := filepath.Join(bin, "fake-mpirun")
	if err := os.WriteFile(launcher, []byte("#!/bin/sh\nshift 2\necho \"$@\" >> "+record+"\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"train", "suite", "analyze"} {
		script := "#!/bin/sh\necho \"" + tool + ": failed on purpose\" >&2\nexit 1\n"
		if err := os.WriteFile(filepath.Join(bin, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var o, e bytes.Buffer
	err := run([]string{"-bin", bin, "-out", t.TempDir(), "-launch", launcher + " -np 2"}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), "part 1") || !strings.Contains(err.Error(), "train: failed on purpose") {
		t.Errorf("got %v, want part 1's failure through the launcher", err)
	}
	got, _ := os.ReadFile(record)
	if !strings.HasPrefix(string(got), filepath.Join(bin, "train")+" -out ") {
		t.Errorf("the launcher ran %q, want the train binary and its arguments", got)
	}
	if !strings.Contains(e.String(), launcher+" -np 2 train -out ") {
		t.Errorf("the log does not show the launched command:\n%s", e.String())
	}
	err = run([]string{"-bin", bin, "-out", t.TempDir(), "-launch", "no-such-launcher -np 2"}, &o, &e)
	if err == nil || !strings.Contains(err.Error(), `-launch "no-such-launcher -np 2"`) {
		t.Errorf("missing launcher: %v", err)
	}
}
