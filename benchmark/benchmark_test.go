package benchmark

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/infoscale/gaualpha/gau"
)

// tinyCase shrinks a case to a model and shapes that run in milliseconds,
// keeping its kind, method and normalisation.
func tinyCase(c Case) Case {
	c.config = func() gau.Config {
		cfg := gau.DefaultConfig()
		cfg.VocabSize = 64
		cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers = 16, 32, 8, 2
		cfg.TrainLength = 16
		return cfg
	}
	switch c.Kind {
	case kindTrain:
		c.B, c.L = 4, 16
	case kindLayerFwd, kindLayerFwdBwd:
		c.B, c.L = 2, 40
	case kindCmdTrain:
		c.trainArgs = []string{"-steps", "2", "-batch", "4", "-eval-seqs", "8", "-no-eval"}
	case kindEval:
		c.B, c.L = min(c.B, 3), min(c.L, 300)
	default:
		c.L = min(c.L, 300)
	}
	return c
}

// Every case builds and runs at a tiny size (the real sizes are for
// go run ./cmd/bench only).
func TestCasesRunTiny(t *testing.T) {
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) {
			res, err := Measure(tinyCase(c), 1, 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Runs != 2 || len(res.Times) != 2 || res.Case != c.Name {
				t.Fatalf("Result %+v", res)
			}
			if c.Kind == kindTrain && res.Vocab < 6 {
				t.Errorf("training case reports vocabulary %d", res.Vocab)
			}
		})
	}
}

// The PyTorch script knows every case that has a PyTorch side, and no
// other.
func TestScriptListsTheSameCases(t *testing.T) {
	src, err := os.ReadFile("../scripts/bench_torch.py")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, c := range Cases() {
		has := strings.Contains(s, `"`+c.Name+`": dict(`)
		if has == (c.NoTorch != "") {
			t.Errorf("case %s: in bench_torch.py %v, has a PyTorch side %v", c.Name, has, c.NoTorch == "")
		}
	}
}

func TestSelect(t *testing.T) {
	all, err := Select("all")
	if err != nil || len(all) != len(Cases()) {
		t.Fatalf("all: %d cases, %v", len(all), err)
	}
	sel, err := Select("layer_fwd, eval_4096,layer_fwd")
	if err != nil || len(sel) != 2 || sel[0].Name != "layer_fwd" || sel[1].Name != "eval_4096" {
		t.Fatalf("got %v, %v", sel, err)
	}
	if _, err := Select("nope"); err == nil || !strings.Contains(err.Error(), `unknown case "nope"`) {
		t.Fatalf("unknown case: %v", err)
	}
	if _, err := Select(" , "); err == nil {
		t.Fatal("empty list accepted")
	}
}

func TestParseResult(t *testing.T) {
	out := []byte("warming up\n{\"case\":\"x\",\"seconds\":1.5,\"times\":[1.5],\"warmup\":0,\"runs\":1,\"peak_rss_bytes\":1024}\n\n")
	r, err := parseResult(out)
	if err != nil || r.Case != "x" || r.Seconds != 1.5 || r.PeakRSS != 1024 {
		t.Fatalf("got %+v, %v", r, err)
	}
	for _, bad := range []string{"", "not json", `{"case":"x","runs":2,"times":[1]}`} {
		if _, err := parseResult([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		x    []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {nil, 0}} {
		if got := median(c.x); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}

func TestReportAndOut(t *testing.T) {
	env := Environment{CPU: "Test CPU", Cores: 2, Threads: 2, Go: "go1.x", Torch: "1.13", Date: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
		Command: "go run ./cmd/bench", Elapsed: 90 * time.Second}
	lf, _ := Find("layer_fwdbwd")
	win, _ := Find("eval_window_65536")
	rows := []Row{
		{Case: lf, Go: &Result{Seconds: 0.9, Warmup: 1, Runs: 5, PeakRSS: 600 << 20, AllocsPerOp: 2000, BytesPerOp: 20 << 20},
			Torch: &Result{Seconds: 1.2, Warmup: 1, Runs: 5, PeakRSS: 800 << 20}},
		{Case: win, Go: &Result{Seconds: 50, Warmup: 0, Runs: 1, PeakRSS: 3 << 30, OtherCores: 0.5}},
	}
	rep := Render(env, rows)
	for _, want := range []string{"2025-01-02", "Test CPU", "| `layer_fwdbwd` |", "| 900.0 ms | 1.20 s | 0.75 | 600 MiB | 800 MiB | 0.75 | 2000 (20 MiB) |",
		"| 50.00 s † | not run |", "3.00 GiB", "PyTorch not run: eager PyTorch materialises", "(of 2, on average: 0.50 during Go)"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "b.md")
	if err := WriteOut(path, "first\n"); err != nil {
		t.Fatal(err)
	}
	doc := "# Title\n\nintro\n\n" + mustRead(t, path) + "\nafter\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteOut(path, "second\n"); err != nil {
		t.Fatal(err)
	}
	got := mustRead(t, path)
	if !strings.HasPrefix(got, "# Title\n\nintro\n\n"+beginMarker) || !strings.Contains(got, "second") || strings.Contains(got, "first") || !strings.HasSuffix(got, endMarker+"\n\nafter\n") {
		t.Fatalf("rewritten file:\n%s", got)
	}
	plain := filepath.Join(dir, "plain.md")
	os.WriteFile(plain, []byte("no markers\n"), 0o644)
	if err := WriteOut(plain, "x"); err == nil || mustRead(t, plain) != "no markers\n" {
		t.Fatalf("file without markers: %v", err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A failed child's error names its panic or fatal error, not the last line
// of its stack trace; a Python failure's last line is its exception.
func TestFailureLine(t *testing.T) {
	for _, c := range []struct{ stderr, want string }{
		{"warming up\nfatal error: runtime: out of memory\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:10 +0x1d\n", "fatal error: runtime: out of memory"},
		{"panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.f(...)\n", "panic: runtime error: index out of range [3] with length 3"},
		{"Traceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError: boom\n", "RuntimeError: boom"},
	} {
		if got := failureLine(c.stderr); got != c.want {
			t.Errorf("failureLine(%q) = %q, want %q", c.stderr, got, c.want)
		}
	}
}
