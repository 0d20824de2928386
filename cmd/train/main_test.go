package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/testfiles"
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
	cfg := gau.DefaultConfig()
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
	err := run(collective.Single{}, args, &out, &errb)
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
	// -overwrite starts a new metrics log: the earlier run's lines go.
	before := metricsSteps(t, out)
	if _, stderr, err := runTrain("-corpus", corpus, "-config", config, "-out", out, "-steps", "4", "-batch", "4",
		"-eval-every", "2", "-log-every", "1", "-no-eval", "-quiet", "-overwrite"); err != nil {
		t.Fatalf("-overwrite: %v\n%s", err, stderr)
	}
	if after := metricsSteps(t, out); !slices.Equal(after, []int{1, 2, 2, 3, 4, 4}) {
		t.Errorf("metrics.jsonl steps after -overwrite: %v (before: %v), want this run's only: [1 2 2 3 4 4]", after, before)
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
	cfg, err := gau.LoadConfig(filepath.Join(ft, "best", "config.json"))
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
		{"unknown precision", []string{"-precision", "fp8"}, "unknown precision"},
		{"resume without out", []string{"-resume"}, "-resume needs -out"},
		{"resume nothing", []string{"-resume", "-out", filepath.Join(dir, "none")}, "cannot resume"},
		{"stray argument", []string{"extra"}, "unexpected argument"},
		{"bad lr", []string{"-corpus", corpus, "-config", config, "-lr", "-1", "-out", filepath.Join(dir, "lr")}, "learning rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append(c.args, "-quiet")
			if !slices.Contains(c.args, "-resume") { // -resume keeps the run's steps
				args = append(args, "-steps", "2")
			}
			_, _, err := runTrain(args...)
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

// Every flag's bad values are refused with an error naming the flag, before
// any training; the corpus and config are valid so that only the flag is
// at fault.
func TestTrainFlagValidation(t *testing.T) {
	dir, corpus, config := fixture(t)
	base := []string{"-corpus", corpus, "-config", config, "-quiet", "-out", filepath.Join(dir, "never")}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"negative steps", []string{"-steps", "-5"}, "-steps -5 must be >= 0"},
		{"zero batch", []string{"-batch", "0"}, "-batch 0 must be at least 1"},
		{"negative batch", []string{"-batch", "-3"}, "-batch -3"},
		{"seq-len 2", []string{"-seq-len", "2"}, "-seq-len 2 must be at least 3"},
		{"negative seq-len", []string{"-seq-len", "-64"}, "-seq-len -64"},
		{"zero lr", []string{"-lr", "0"}, "-lr 0"},
		{"NaN lr", []string{"-lr", "NaN"}, "-lr NaN"},
		{"infinite lr", []string{"-lr", "+Inf"}, "-lr +Inf"},
		{"warmup 1", []string{"-warmup", "1"}, "-warmup 1"},
		{"negative warmup", []string{"-warmup", "-0.1"}, "-warmup -0.1"},
		{"negative weight decay", []string{"-weight-decay", "-0.01"}, "-weight-decay -0.01"},
		{"NaN clip", []string{"-clip", "NaN"}, "-clip NaN"},
		{"negative clip", []string{"-clip", "-1"}, "-clip -1"},
		{"negative eval-every", []string{"-eval-every", "-1"}, "-eval-every -1"},
		{"negative eval-seqs", []string{"-eval-seqs", "-1"}, "-eval-seqs -1"},
		{"negative log-every", []string{"-log-every", "-1"}, "-log-every -1"},
		{"zero min-count", []string{"-min-count", "0"}, "-min-count 0"},
		{"negative vocab-size", []string{"-vocab-size", "-1"}, "-vocab-size -1"},
		{"zero eval-docs", []string{"-eval-docs", "0"}, "-eval-docs 0"},
		{"negative passkey share", []string{"-passkey-every", "-2"}, "-passkey-every -2"},
		{"negative max-memory", []string{"-max-memory", "-2"}, "-max-memory -2"},
		{"NaN max-memory", []string{"-max-memory", "NaN"}, "-max-memory NaN"},
		{"malformed eval-lengths", []string{"-eval-lengths", "128,abc"}, "-eval-lengths: bad length \"abc\""},
		{"eval length 1", []string{"-eval-lengths", "1"}, "-eval-lengths: bad length \"1\""},
		{"empty eval-lengths", []string{"-eval-lengths", ","}, "-eval-lengths: no lengths"},
		{"unknown protocol", []string{"-protocol", "exact"}, "-protocol: unknown protocol \"exact\""},
		{"zero window", []string{"-window", "0"}, "-window 0"},
		{"empty out", []string{"-out", ""}, "-out must name a directory"},
		{"unknown device", []string{"-device", "tpu"}, "tpu"},
		{"resume with steps", []string{"-resume", "-steps", "10"}, "-config, -steps have no effect with -resume"},
		{"resume with config and lr", []string{"-resume", "-lr", "0.1"}, "-config, -lr have no effect with -resume"},
		{"init with vocab-size", []string{"-init", dir, "-vocab-size", "100"}, "-vocab-size has no effect with -init"},
		{"no-eval with eval-lengths", []string{"-no-eval", "-eval-lengths", "128"}, "-eval-lengths has no effect with -no-eval"},
		{"no-eval with protocol and docs", []string{"-no-eval", "-protocol", "paper", "-eval-docs", "3"}, "-protocol, -eval-docs have no effect with -no-eval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := runTrain(append(append([]string{}, base...), c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if _, serr := os.Stat(filepath.Join(dir, "never")); serr == nil {
				t.Errorf("the refused run created its -out directory")
			}
		})
	}
}

// A run that cannot fit in memory is refused from the estimate, before the
// weights, graphs and batches are allocated: the process allocates far less
// than the estimate while refusing.
func TestTrainRefusesOversizedRuns(t *testing.T) {
	dir, corpus, config := fixture(t)
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, []byte(`{"hidden_size": 1000000, "intermediate_size": 1000000, "attention_key_size": 8, "num_hidden_layers": 1000}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"seq-len 1e8", []string{"-config", config, "-seq-len", "100000000"}, []string{"-seq-len 100000000", "needs about", "over the memory budget of 4.0 GiB, -max-memory"}},
		{"batch 1e8", []string{"-config", config, "-batch", "100000000"}, []string{"-batch 100000000", "needs about"}},
		{"huge config", []string{"-config", huge}, []string{"1000 layers, hidden 1000000", "needs about"}},
		{"final evaluation too long", []string{"-config", config, "-eval-lengths", "32,1000000000"}, []string{"final evaluation at length 1000000000", "-no-eval skips it"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			args := append([]string{"-corpus", corpus, "-max-memory", "4", "-quiet", "-out", filepath.Join(dir, "never")}, c.args...)
			_, _, err := runTrain(args...)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("not refused")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 256<<20 {
				t.Errorf("allocated %d MiB before refusing", got>>20)
			}
		})
	}
}

// -init with -config takes the config's (fewer) layers from the checkpoint.
func TestTrainInitWithFewerLayers(t *testing.T) {
	dir, corpus, config := fixture(t)
	out := filepath.Join(dir, "base")
	if _, stderr, err := runTrain("-corpus", corpus, "-config", config, "-out", out, "-steps", "1", "-batch", "4", "-no-eval", "-quiet"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	one := gau.DefaultConfig()
	one.HiddenSize, one.IntermediateSize, one.KeySize, one.NumLayers, one.TrainLength = 16, 24, 8, 1, 16
	b, _ := one.Marshal()
	onePath := filepath.Join(dir, "one.json")
	if err := os.WriteFile(onePath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ft := filepath.Join(dir, "ft")
	_, stderr, err := runTrain("-corpus", corpus, "-init", filepath.Join(out, "best"), "-config", onePath, "-out", ft, "-steps", "1", "-batch", "4", "-no-eval", "-quiet")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "skipped 4 tensors of layers beyond num_hidden_layers = 1") {
		t.Errorf("no note of the skipped layer:\n%s", stderr)
	}
	got, err := gau.LoadConfig(filepath.Join(ft, "best", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got.NumLayers != 1 {
		t.Errorf("fine-tuned model has %d layers, want the config's 1", got.NumLayers)
	}
}

// The binary on bad input: one line on stderr naming the flag, exit status
// 1, no panic trace or runtime out-of-memory dump.
func TestMainRefusesBadFlags(t *testing.T) {
	if args := os.Getenv("TRAIN_ARGS"); args != "" {
		os.Args = append([]string{"train"}, strings.Split(args, "\x1f")...)
		main()
		return
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-steps", "-5"}, "train: -steps -5 must be >= 0"},
		{[]string{"-seq-len", "100000000", "-max-memory", "4", "-quiet"}, "-seq-len 100000000 (3 layers"},
	}
	for _, c := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMainRefusesBadFlags$")
		cmd.Env = append(os.Environ(), "TRAIN_ARGS="+strings.Join(c.args, "\x1f"))
		cmd.Dir = t.TempDir()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("%v: exit %v, want status 1\n%s", c.args, err, stderr.String())
			continue
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, c.want) || strings.Contains(msg, "goroutine") {
			t.Errorf("%v: stderr is not one line containing %q:\n%s", c.args, c.want, msg)
		}
	}
}

// metricsSteps returns the step of every line of out/metrics.jsonl.
func metricsSteps(t *testing.T, out string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m struct{ Step int }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics.jsonl line %q: %v", line, err)
		}
		steps = append(steps, m.Step)
	}
	return steps
}
