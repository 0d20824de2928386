package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/cli"
	"gorgonia.org/tensor"
)

func TestCheckNewRun(t *testing.T) {
	dir := t.TempDir()
	if err := CheckNewRun(dir, false); err != nil {
		t.Fatalf("empty folder: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "best"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckNewRun(dir, false); err == nil || !strings.Contains(err.Error(), dir+" already holds a run") {
		t.Errorf("folder with best/: %v", err)
	}
	if err := CheckNewRun(dir, true); err != nil {
		t.Errorf("with overwrite: %v", err)
	}
}

// A folder the run created is removed again when the run fails before
// using it; one that existed, or a run that did not fail, keeps it.
func TestFolder(t *testing.T) {
	for _, c := range []struct {
		exists, failed, kept bool
	}{{false, true, false}, {false, false, true}, {true, true, true}} {
		dir := filepath.Join(t.TempDir(), "run")
		if c.exists {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		f, err := OpenFolder(collective.Single{}, dir)
		if err != nil {
			t.Fatal(err)
		}
		if f.Lock == nil {
			t.Fatal("rank 0 holds no lock")
		}
		f.Close(c.failed)
		if _, err := os.Stat(dir); (err == nil) != c.kept {
			t.Errorf("%+v: folder there %v", c, err == nil)
		}
	}
}

func TestWriteResults(t *testing.T) {
	dir := t.TempDir()
	if err := WriteResults(dir, "table\n", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{ResultsMarkdown: "table\n", ResultsJSON: `{"a":1}`} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v", name, b, err)
		}
	}
}

// CheckMemory states the estimate and the budget, and refuses a budget
// below the estimate with what needs it.
func TestCheckMemory(t *testing.T) {
	cfg := gau.DefaultConfig()
	cfg.VocabSize = 100
	o := DefaultOptions()
	line, err := CheckMemory(cli.Budget{Bytes: 1 << 40, Source: "test"}, cfg, o, nil, nil, 1, true)
	if err != nil || !strings.HasPrefix(line, "memory: training needs about ") || !strings.Contains(line, " on the CPU, of a budget of 1024.0 GiB") {
		t.Errorf("line %q, %v", line, err)
	}
	line, err = CheckMemory(cli.Budget{Bytes: 1 << 40, Source: "test"}, cfg, o, nil, nil, 2, false)
	if err != nil || !strings.Contains(line, " in host memory (the device's own memory is not checked here) per process, of a budget") {
		t.Errorf("line %q, %v", line, err)
	}
	_, err = CheckMemory(cli.Budget{Bytes: 1, Source: "test"}, cfg, o, nil, nil, 2, true)
	if err == nil || !strings.Contains(err.Error(), "training on the CPU with -batch 32 -seq-len 64") || !strings.Contains(err.Error(), "16 sequences on each of 2 processes") {
		t.Errorf("over the budget: %v", err)
	}
}

func TestModelLine(t *testing.T) {
	cfg := gau.DefaultConfig()
	cfg.VocabSize = 100
	p := gau.ZeroParams(cfg, tensor.Float32)
	want := fmt.Sprintf("model: %d layers, hidden %d, intermediate %d, key %d, vocab 100 (%.2fM parameters); n0 = %d, %s, CosScale %g, %s",
		cfg.NumLayers, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, float64(p.Count())/1e6, cfg.TrainLength, cfg.Normalization, cfg.CosScale, cfg.Method)
	if got := ModelLine(cfg, p); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
