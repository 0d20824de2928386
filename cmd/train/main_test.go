package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/internal/testfiles"
	"github.com/infoscale/gaualpha/layers"
)

// fixture writes a small JSON-lines corpus and a tiny model config.
func fixture(t *testing.T) (dir, corpusPath, configPath string) {
	t.Helper()
	dir = t.TempDir()
	all, err := corpus.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	corpusPath = testfiles.WriteCorpus(t, filepath.Join(dir, "corpus.jsonl"), all[:40])
	cfg := layers.DefaultConfig()
	cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = 16, 24, 8, 2, 16
	b, _ := cfg.Marshal()
	configPath = filepath.Join(dir, "config.json")
	if err := os.WriteFile(configPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, corpusPath, configPath
}

func runTrain(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := run(args, &out, &errb)
	return out.String(), errb.String(), err
}

// The whole job on a tiny model: train, checkpoint, then the table.
func TestTrainEndToEnd(t *testing.T) {
	dir, corpus, config := fixture(t)
	out := filepath.Join(dir, "run")
	stdout, stderr, err := runTrain("-corpus", corpus, "-config", config, "-out", out, "-steps", "6", "-batch", "4",
		"-eval-every", "3", "-eval-lengths", "32,64", "-eval-docs", "2", "-quiet")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, f := range []string{"best/config.json", "best/vocab.txt", "best/model.safetensors", "last/optimizer.safetensors",
		"last/trainer_state.json", "metrics.jsonl", "results.md", "results.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	if !strings.Contains(stdout, "| 64 | 4x |") || !strings.Contains(stdout, "infoscale acc") {
		t.Errorf("no extrapolation table in the output:\n%s", stdout)
	}
	// Starting again over the same directory is refused; -resume of a
	// finished run has nothing left to do and succeeds.
	if _, _, err := runTrain("-corpus", corpus, "-config", config, "-out", out, "-steps", "6", "-quiet"); err == nil || !strings.Contains(err.Error(), "already holds a run") {
		t.Errorf("second run over the same -out: %v", err)
	}
	if _, stderr, err := runTrain("-corpus", corpus, "-out", out, "-resume", "-quiet", "-no-eval"); err != nil {
		t.Errorf("resume of a finished run: %v\n%s", err, stderr)
	}
	// Fine-tuning: -init from the base model with another method; the
	// checkpoint records the method (and PoSE's target length) and the
	// final table evaluates with it.
	ft := filepath.Join(dir, "ft")
	stdout, stderr, err = runTrain("-corpus", corpus, "-init", filepath.Join(out, "best"), "-method", "pose", "-out", ft,
		"-steps", "3", "-batch", "4", "-eval-lengths", "32", "-eval-docs", "1", "-quiet")
	if err != nil {
		t.Fatalf("fine-tuning: %v\n%s", err, stderr)
	}
	cfg, err := layers.LoadConfig(filepath.Join(ft, "best", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Method != "pose" || cfg.TargetLength != 64*16 {
		t.Errorf("fine-tuned config: method %q, target length %d", cfg.Method, cfg.TargetLength)
	}
	if !strings.Contains(stdout, "pose+infoscale acc") {
		t.Errorf("fine-tuned table does not name the method:\n%s", stdout)
	}
}

func TestTrainBadInput(t *testing.T) {
	dir, corpus, config := fixture(t)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	emptyCorpus := write("empty.jsonl", "\n\n")
	badUTF8 := write("bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"\xff\xfe\"}\n")
	oddKey := write("odd.json", `{"attention_key_size": 7, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1}`)
	negCos := write("neg.json", `{"cosscale": -3, "attention_key_size": 8, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1}`)
	zeroN0 := write("n0.json", `{"train_length": 0, "attention_key_size": 8, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1}`)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing corpus", []string{"-corpus", filepath.Join(dir, "nope.jsonl")}, "no such file"},
		{"empty corpus", []string{"-corpus", emptyCorpus}, "no documents"},
		{"non-UTF-8 corpus", []string{"-corpus", badUTF8}, "UTF-8"},
		{"odd key size", []string{"-corpus", corpus, "-config", oddKey}, "attention_key_size 7"},
		{"negative CosScale in config", []string{"-corpus", corpus, "-config", negCos}, "CosScale -3"},
		{"n0 zero", []string{"-corpus", corpus, "-config", zeroN0}, "train_length"},
		{"negative CosScale flag", []string{"-corpus", corpus, "-config", config, "-cosscale", "-1"}, "-cosscale"},
		{"unknown norm", []string{"-corpus", corpus, "-config", config, "-norm", "sparsemax"}, "unknown normalisation"},
		{"unknown method", []string{"-corpus", corpus, "-config", config, "-method", "xpos"}, "unknown method"},
		{"missing config", []string{"-corpus", corpus, "-config", filepath.Join(dir, "nope.json")}, "no such file"},
		{"cuda without the gpu tag", []string{"-device", "cuda"}, "built without GPU support"},
		{"bf16 on the CPU", []string{"-precision", "bf16"}, "-precision bf16 needs -device cuda"},
		{"unknown precision", []string{"-precision", "fp8"}, "unknown precision"},
		{"resume without out", []string{"-resume"}, "-resume needs -out"},
		{"resume nothing", []string{"-resume", "-out", filepath.Join(dir, "none")}, "cannot resume"},
		{"stray argument", []string{"extra"}, "unexpected argument"},
		{"bad lr", []string{"-corpus", corpus, "-config", config, "-lr", "-1", "-out", filepath.Join(dir, "lr")}, "learning rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := runTrain(append(c.args, "-quiet", "-steps", "2")...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// A bad checkpoint given to -init: truncated weights, or a vocabulary
// without [MASK]. The checkpoint is left as it was.
func TestTrainBadCheckpoint(t *testing.T) {
	dir, corpus, config := fixture(t)
	out := filepath.Join(dir, "run")
	if _, stderr, err := runTrain("-corpus", corpus, "-config", config, "-out", out, "-steps", "2", "-batch", "4", "-no-eval", "-quiet"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	best := filepath.Join(out, "best")
	model := filepath.Join(best, "model.safetensors")
	good, _ := os.ReadFile(model)
	os.WriteFile(model, good[:len(good)-100], 0o644)
	_, _, err := runTrain("-corpus", corpus, "-init", best, "-out", filepath.Join(dir, "ft"), "-steps", "2", "-quiet")
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated weights: %v", err)
	}
	os.WriteFile(model, good, 0o644)
	vocab := filepath.Join(best, "vocab.txt")
	v, _ := os.ReadFile(vocab)
	os.WriteFile(vocab, bytes.Replace(v, []byte("[MASK]\n"), []byte("[MASQ]\n"), 1), 0o644)
	_, _, err = runTrain("-corpus", corpus, "-init", best, "-out", filepath.Join(dir, "ft2"), "-steps", "2", "-quiet")
	if err == nil || !strings.Contains(err.Error(), "[MASK]") {
		t.Errorf("vocab without [MASK]: %v", err)
	}
	after, _ := os.ReadFile(model)
	if !bytes.Equal(after, good) {
		t.Error("the checkpoint's weights changed")
	}
}

// The binary itself: one line on stderr, exit status 1, no panic trace.
func TestMainExitsWithOneLine(t *testing.T) {
	if os.Getenv("TRAIN_MAIN") == "1" {
		os.Args = []string{"train", "-corpus", "/nonexistent/corpus.jsonl"}
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=TestMainExitsWithOneLine")
	cmd.Env = append(os.Environ(), "TRAIN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") != 0 || !strings.HasPrefix(msg, "train: ") || strings.Contains(msg, "goroutine") {
		t.Errorf("stderr is not one error line:\n%s", msg)
	}
}
