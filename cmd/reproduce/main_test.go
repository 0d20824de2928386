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

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/runlock"
	"github.com/infoscale/gaualpha/internal/testfiles"
	"github.com/infoscale/gaualpha/study"
)

// The whole study on a tiny model: every part runs through the real
// command-line tools and REPORT.md carries a verdict for every claim; a
// second run runs nothing; without the weights (as in a fresh clone of a
// committed run) nothing runs either, until a part that reads them has to
// run again: then the weights are made again (the same ones), and only
// the parts whose fingerprint changed run.
func TestReproduceTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tools and runs the whole pipeline")
	}
	dir := t.TempDir()
	if d := os.Getenv("REPRODUCE_TEST_DIR"); d != "" {
		dir = d // keep the outputs for inspection
	}
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", bin+"/", "../train", "../suite", "../analyze")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the tools: %v\n%s", err, out)
	}
	// 24 training documents, then the held-out ones: four of at least
	// 64·n0 = 1536 tokens (two test, two development documents) and two
	// shorter ones to validate on.
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz的一是不了人我在有他这中大来上#KEY=0123456789"
	docs := testfiles.RandomDocs(rng, letters, 24, 600)
	for _, n := range []int{2000, 400, 2000, 400, 2000, 2000} {
		docs = append(docs, testfiles.RandomDocs(rng, letters, 1, n)...)
	}
	corpus := testfiles.WriteCorpus(t, filepath.Join(dir, "c.jsonl"), docs)
	cfg := gau.DefaultConfig()
	cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers = 8, 12, 4, 1
	cfg.TrainLength = 24 // room for the passkey probe's near keys at n0; 64x = 1536
	b, _ := cfg.Marshal()
	config := filepath.Join(dir, "config.json")
	os.WriteFile(config, b, 0o644)
	out := filepath.Join(dir, "results")
	args := []string{"-out", out, "-bin", bin, "-corpus", corpus, "-config", config, "-base-steps", "4", "-sweep-steps", "3",
		"-sweep", "4,16,64,128", "-finetune-steps", "2", "-docs", "2", "-batch", "4", "-seeds", "42,43"}
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
	for _, want := range []string{"## Verdicts", "## Verdict history", "analysis/seeds/s42/entropy.png", "analysis/heatmap.png", "| cos16 | 16 | 42 | 3 |",
		"| s43/suite/cos0/ft-pi | 0 | 43 | 2 |", "comparator group (identical predictions)", "sign-flip p (Holm)", "McNemar b / c, p (secondary)",
		"### The comparators, chosen on the development documents", "retention (ratio)", "### At matched validation loss", "Digit accuracy (digits right / digits",
		"analysis/passkey.png", "| softmax_plus_n0 | LongRoPE's scale", "## ALiBi's slope", "Chosen: m = ", "## Models that failed to train",
		"## The fast protocol against the paper protocol", "| configuration | length | acc fast | acc paper | b / c | McNemar p |", "analysis/fig2_trainloss.png",
		"analysis/fig3_finetune.png", "Spearman ρ =", "r = InfoScale/softmax entropy growth", "Test documents (2):", "Development documents (2):",
		"(\"Verdict rules\", version 3, fixed in commit ", "logical CPUs"} {
		if !strings.Contains(r, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, f := range []string{"seeds/s43/suite/passkey.csv", "seeds/s42/models/base-cos0/val", "dev/suite.json", "seeds/s43/matched/suite.json", "logs/parts.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	o := options{Study: study.Study{Out: out}}
	parts := func() int {
		p, _ := study.ProfileOf(out, "cpu")
		o.Profile = p
		o.Profile.Seeds = []int{42, 43}
		o.Profile.Sweep = []float64{4, 16, 64, 128}
		o.Profile.Config = config
		return len(o.Parts())
	}()
	// A second run skips every finished part.
	stderr.Reset()
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stderr.String(), "done already"); n != parts {
		t.Errorf("%d parts skipped on the second run, want all %d:\n%s", n, parts, stderr.String())
	}
	// Without any weights nothing needs to run.
	var weights []string
	for _, pattern := range []string{"models/*/best", "seeds/*/models/*/best", "seeds/*/suite/*/*/best", "alibi/*/*/*/best", "seeds/*/models/*/val/*"} {
		w, _ := filepath.Glob(filepath.Join(out, filepath.FromSlash(pattern), "model.safetensors"))
		weights = append(weights, w...)
	}
	// 4 sweep models, 6 bases, 18 fine-tunes, 5 ALiBi slopes, and the
	// plain and best bases' 4 validations in each seed.
	if len(weights) != 4+2*3+2*9+5+2*2*4 {
		t.Errorf("%d weight files, want 49", len(weights))
	}
	for _, w := range weights {
		os.Remove(w)
	}
	stderr.Reset()
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stderr.String(), "done already"); n != parts {
		t.Errorf("without weights %d parts skipped, want all %d:\n%s", n, parts, stderr.String())
	}
	// A part whose record no longer matches runs again, with the weights it
	// reads made again first; those are the same, so nothing else reruns.
	recs, _, err := study.ReadRecords(out)
	if err != nil {
		t.Fatal(err)
	}
	const part = "seed 43: the comparators without fine-tuning at matched validation loss"
	rec := recs.Parts[part]
	rec.Fingerprint = "edited"
	recs.Parts[part] = rec
	if err := study.WriteRecords(out, recs); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	log := stderr.String()
	if n := strings.Count(log, "done already"); n != parts-1 {
		t.Errorf("after one record changed: %d parts skipped, want %d:\n%s", n, parts-1, log)
	}
	if n := strings.Count(log, "weights missing, made again"); n != 3 {
		t.Errorf("%d trainings made again, want seed 43's three base models:\n%s", n, log)
	}
	if strings.Contains(log, "differ from the recorded ones") {
		t.Errorf("weights made again differ:\n%s", log)
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
