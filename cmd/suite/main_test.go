package main

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/testfiles"
	"github.com/infoscale/gaualpha/metrics"
	"github.com/infoscale/gaualpha/study"
	"github.com/infoscale/gaualpha/train"
)

func fixture(t *testing.T) (dir, corpus, base string) {
	t.Helper()
	dir = t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	corpus = testfiles.WriteCorpus(t, filepath.Join(dir, "c.jsonl"), testfiles.RandomDocs(rng, letters, 30, 400))
	return dir, corpus, testfiles.TinyCheckpoint(t, filepath.Join(dir, "base"), rng, letters)
}

func TestSuite(t *testing.T) {
	dir, corpus, base := fixture(t)
	out := filepath.Join(dir, "suite")
	args := []string{"-base", base, "-corpus", corpus, "-out", out, "-methods", "rope,pi,pi-ft,alibi,window",
		"-norm", "softmax,infoscale,infoscale_visible", "-lengths", "32,64", "-docs", "2", "-finetune-steps", "2", "-batch", "4", "-quiet"}
	var stdout, stderr bytes.Buffer
	if err := run(collective.Single{}, args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	md := stdout.String()
	for _, want := range []string{"| pi (ft) | infoscale | 0 |", "| pi | softmax | 0 |", "| window | softmax | 0 |", "| window | infoscale_visible | 0 |", "| alibi (ft) | softmax | 0 |", "32 (2x)", "Loss"} {
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
	ft, err := gau.LoadConfig(filepath.Join(out, "cos0", "ft-pi", "best", "config.json"))
	// PI fine-tuned at L' = 4·n0 = 64 with scale 4 = target/train = 256/64.
	if err != nil || ft.Method != "pi" || ft.TrainLength != 64 || ft.TargetLength != 256 {
		t.Errorf("fine-tuned PI config %+v, %v", ft, err)
	}
	st, err := study.ReadState(filepath.Join(out, "cos0", "ft-pi", "last"))
	if err != nil {
		t.Fatal(err)
	}
	if ftOpts, err := train.SavedOptions(st); err != nil || ftOpts.Batch != 1 {
		t.Errorf("PI fine-tune batch %+v, %v; want 4·16/64 = 1", ftOpts, err)
	}
	csv, _ := os.ReadFile(filepath.Join(out, "suite.csv"))
	if n := strings.Count(string(csv), "\n"); n != 1+(5*2+1)*2 {
		t.Errorf("csv has %d lines, want header + (5 methods × 2 norms + window's infoscale_visible) × 2 lengths", n)
	}
	s, err := study.ReadSuite(filepath.Join(out, "suite.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, r := range s.Rows {
		if files[r.Scores] {
			t.Errorf("%s: scores file %s shared with another row", r.Label(), r.Scores)
		}
		files[r.Scores] = true
		scores, err := study.ReadScores(filepath.Join(out, r.Scores))
		if err != nil {
			t.Fatalf("%s: %v", r.Label(), err)
		}
		for _, res := range r.Results {
			if res.Scores != nil {
				t.Errorf("%s: per-position scores inside suite.json", r.Label())
			}
			// The file holds every scored position of the length, of both
			// test documents.
			var fromFile metrics.Tally
			docs := map[int]bool{}
			for _, sc := range scores[res.Length] {
				docs[sc.Doc] = true
				fromFile.Count++
				if sc.Correct {
					fromFile.Correct++
				}
				fromFile.SumLoss += sc.Loss
			}
			if fromFile.Count != res.Tally.Count || fromFile.Correct != res.Tally.Correct || math.Abs(fromFile.SumLoss-res.Tally.SumLoss) > 1e-6*float64(res.Tally.Count) {
				t.Errorf("%s L=%d: scores file sums to %+v, result %+v", r.Label(), res.Length, fromFile, res.Tally)
			}
			if len(docs) != 2 {
				t.Errorf("%s L=%d: scores of %d documents, want 2", r.Label(), res.Length, len(docs))
			}
		}
	}
	// A second run reuses the finished fine-tunes.
	stderr.Reset()
	args = args[:len(args)-1] // drop -quiet to see progress
	if err := run(collective.Single{}, args, &stdout, &stderr); err != nil {
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
		{[]string{"-base", base, "-corpus", corpus, "-methods", "rope-ft"}, "unknown method"},
		{[]string{"-base", base, "-corpus", corpus, "-norm", "softmax_plus_17"}, "unknown normalisation"},
		{[]string{"-base", base, "-corpus", corpus, "-precision", "fp8"}, "unknown precision"},
	} {
		var o, e bytes.Buffer
		if err := run(collective.Single{}, append(c.args, "-quiet"), &o, &e); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

// Every flag's bad values are refused with an error naming the flag,
// before any fine-tuning.
func TestSuiteFlagValidation(t *testing.T) {
	_, corpus, base := fixture(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"zero docs", []string{"-docs", "0"}, "-docs 0 must be at least 1"},
		{"zero offsets", []string{"-offsets", "0"}, "-offsets 0 must be at least 1"},
		{"offsets with paper", []string{"-protocol", "paper", "-offsets", "2"}, "-offsets has no effect with -protocol paper"},
		{"positions with fast", []string{"-positions", "5"}, "-positions has no effect with -protocol fast"},
		{"negative finetune steps", []string{"-finetune-steps", "-5"}, "-finetune-steps -5"},
		{"zero batch", []string{"-batch", "0"}, "-batch 0 must be at least 1"},
		{"zero finetune-lr", []string{"-finetune-lr", "0"}, "-finetune-lr 0"},
		{"NaN finetune-lr", []string{"-finetune-lr", "NaN"}, "-finetune-lr NaN"},
		{"empty out", []string{"-out", ""}, "-out must name a directory"},
		{"unknown testset", []string{"-testset", "random"}, "-testset \"random\""},
		{"empty base entry", []string{"-base", base + ",,"}, "has an empty entry"},
		{"malformed lengths", []string{"-lengths", "32,x"}, "-lengths: bad length \"x\""},
		{"huge length", []string{"-lengths", "32,100000000000", "-methods", "rope"}, "-lengths: length 100000000000 needs about"},
		{"huge fine-tune batch", []string{"-batch", "1000000000", "-methods", "alibi", "-lengths", "32"}, "fine-tuning alibi with batch 1000000000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o, e bytes.Buffer
			args := append([]string{"-base", base, "-corpus", corpus, "-out", t.TempDir(), "-docs", "2"}, c.args...)
			if err := run(collective.Single{}, append(args, "-quiet"), &o, &e); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// The study's uses of the suite: fine-tunes alone into one folder, then an
// evaluation of named configurations on the development documents reusing
// them, and one on the test documents with the passkey probe.
func TestSuiteConfigsAndProbe(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "abcdefghijklmnopqrstuvwxyz#KEY=0123456789"
	corpus := testfiles.WriteCorpus(t, filepath.Join(dir, "c.jsonl"), testfiles.RandomDocs(rng, alphabet, 30, 400))
	base := testfiles.TinyCheckpoint(t, filepath.Join(dir, "base"), rng, alphabet)
	// n0 = 24: room for near keys (distances 10..14) at the training length.
	ck, err := checkpoint.Load(base)
	if err != nil {
		t.Fatal(err)
	}
	ck.Config.TrainLength = 24
	if err := checkpoint.Save(base, ck.Config, ck.Vocab, ck.Params, nil, nil); err != nil {
		t.Fatal(err)
	}
	fts := filepath.Join(dir, "fts")
	common := []string{"-base", base, "-corpus", corpus, "-docs", "2", "-finetune-steps", "2", "-batch", "4", "-finetunes", fts}
	var stdout, stderr bytes.Buffer
	common = append(common, "-passkey-every", "4")
	if err := run(collective.Single{}, append(common, "-out", fts, "-methods", "pi-ft,alibi", "-finetune-only", "-alibi-slope", "0.25", "-quiet"), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	cfg, err := gau.LoadConfig(filepath.Join(fts, "cos0", "ft-alibi", "best", "config.json"))
	if err != nil || cfg.ALiBiSlope != 0.25*math.Sqrt(8) {
		t.Errorf("ALiBi slope %v (want 0.25·sqrt(8)), %v", cfg.ALiBiSlope, err)
	}
	if _, err := os.Stat(filepath.Join(fts, "suite.json")); err == nil {
		t.Error("-finetune-only wrote suite.json")
	}
	st, err := study.ReadState(filepath.Join(fts, "cos0", "ft-pi", "last"))
	if err != nil {
		t.Fatal(err)
	}
	if so, err := train.SavedOptions(st); err != nil || so.PasskeyEvery != 4 {
		t.Errorf("fine-tune's passkey share %+v, %v", so, err)
	}
	dev := filepath.Join(dir, "dev")
	stderr.Reset()
	if err := run(collective.Single{}, append(common, "-out", dev, "-docset", "dev", "-lengths", "32,64", "-configs", "cos0/rope/infoscale,cos0/alibi/softmax,cos0/window/infoscale_visible,cos5/ntk/softmax",
		"-alibi-slope", "0.25"), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "reusing the fine-tuned alibi") || strings.Contains(stderr.String(), "fine-tuning pi-ft") {
		t.Errorf("fine-tunes not reused:\n%s", stderr.String())
	}
	s, err := study.ReadSuite(filepath.Join(dev, "suite.json"))
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, r := range s.Rows {
		labels = append(labels, r.Label())
	}
	if want := []string{"rope + infoscale, CosScale 0", "alibi (ft) + softmax, CosScale 0", "window + infoscale_visible, CosScale 0"}; !slices.Equal(labels, want) {
		t.Errorf("rows %v, want %v", labels, want)
	}
	test := filepath.Join(dir, "test")
	if err := run(collective.Single{}, append(common, "-out", test, "-lengths", "32,64", "-configs", "cos0/rope/infoscale", "-passkey-lengths", "24,64", "-passkey-near", "1", "-passkey-far", "2", "-quiet"), &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	ts, err := study.ReadSuite(filepath.Join(test, "suite.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s.DocSet != "dev" || ts.DocSet != "test" || len(ts.Documents) != 2 || len(s.Documents) == 0 || slices.ContainsFunc(s.Documents, func(id string) bool { return slices.Contains(ts.Documents, id) }) || ts.Seed != 42 {
		t.Errorf("dev documents %v, test documents %v (seed %d)", s.Documents, ts.Documents, ts.Seed)
	}
	rows, err := study.Passkey.Read(filepath.Join(test, "passkey.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// Two documents: at 24 = n0 near keys only, at 64 near and far.
	if len(rows) != 2+2*2 {
		t.Fatalf("%d passkey rows: %+v", len(rows), rows)
	}
	for _, r := range rows {
		want := map[string]int{"near": 5, "far": 10}[r.Class]
		if r.Method != "rope" || r.Norm != "infoscale" || r.Digits != want || r.Length == 24 && r.Class != "near" {
			t.Errorf("passkey row %+v", r)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-configs", "cos0/rope/infoscale", "-methods", "rope"}, "-configs names the configurations"},
		{[]string{"-configs", "cos0/rope"}, "want cosS/METHOD/NORM"},
		{[]string{"-configs", "cos0/rope/infoscale,cos0/rope/infoscale"}, "appears twice"},
		{[]string{"-configs", "cos0/rope/sparsemax"}, "unknown normalisation"},
		{[]string{"-configs", "cos0/rope/infoscale_visible"}, "does not apply"},
		{[]string{"-configs", "cos7/rope/softmax"}, "no configuration is on a base"},
		{[]string{"-docset", "train"}, "-docset \"train\""},
		{[]string{"-passkey-lengths", "64"}, "needs keys to ask"},
		{[]string{"-passkey-far", "1"}, "need -passkey-lengths"},
		{[]string{"-finetune-only", "-passkey-lengths", "64", "-passkey-far", "1"}, "-finetune-only evaluates nothing"},
		{[]string{"-alibi-slope", "-1"}, "-alibi-slope -1"},
	} {
		args := append([]string{"-base", base, "-corpus", corpus, "-out", t.TempDir(), "-lengths", "32", "-finetune-steps", "2", "-batch", "4", "-quiet"}, c.args...)
		if err := run(collective.Single{}, args, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
