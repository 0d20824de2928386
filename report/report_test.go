package report

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/study"
)

// writeSuite writes a suite of two configurations at L = 4096 with their
// per-position scores: ours right everywhere, ntk on one position in four.
func writeSuite(t *testing.T, dir string) {
	t.Helper()
	const n, L = 40, 4096
	s := &study.Suite{Protocol: "fast", TrainLen: 64}
	for i, r := range []study.SuiteRow{{CosScale: 128, Method: "rope", Norm: "infoscale"}, {Method: "ntk", Norm: "softmax"}} {
		r.Scores = filepath.Join("scores", r.Method+"."+r.Norm+".csv.gz")
		var sc []eval.Score
		correct := 0
		for k := range 2 * n {
			s := eval.Score{Doc: k / n, Pos: k % n, Pred: 1, Loss: 3}
			if i == 0 || k%4 == 0 {
				s.Pred, s.Correct, s.Loss = 0, true, 0.5
				correct++
			}
			sc = append(sc, s)
		}
		if err := study.WriteScores(filepath.Join(dir, r.Scores), []eval.Result{{Length: L, Scores: sc}}); err != nil {
			t.Fatal(err)
		}
		r.Results = []eval.Result{{Length: L, Accuracy: float64(correct) / float64(len(sc)), Loss: 1}}
		s.Rows = append(s.Rows, r)
	}
	if err := study.WriteSuite(filepath.Join(dir, "suite.json"), s); err != nil {
		t.Fatal(err)
	}
}

// The report of a study with only the suite run: claim 2 is judged on the
// per-position scores, the others are not run; a malformed table is an
// error naming it.
func TestWrite(t *testing.T) {
	out := t.TempDir()
	writeSuite(t, filepath.Join(out, "suite"))
	// A directory with suite/suite.json and no run records is a study of
	// rules version 2.
	p, err := study.ProfileOf(out, "cpu")
	if err != nil || p.Rules != 2 {
		t.Fatalf("profile of rules %d, %v", p.Rules, err)
	}
	o := study.Study{Profile: p, Out: out, Corpus: "embedded"}
	path, err := Write(o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	r := string(b)
	for _, want := range []string{
		"| InfoScale + CosScale extrapolates to 64x the training length better than the existing methods | **supported** | at L = 4096, RoPE + InfoScale on the CosScale 128 base: 1 wins, 0 losses, 0 ties",
		"| ntk | ntk + softmax, CosScale 0 | 0.2500 | 2.375 | 60 / 0 | 1.73e-18 |",
		"| **not run** | analysis/entropy_docs.csv has not been produced yet |",
		"## Rule changes", "| InfoScale + CosScale extrapolates to 64x the training length better than the existing methods | supported | supported |",
		"No model is excluded.", "The fast protocol against the paper protocol\n\nNot run yet.",
		"| 1 | train the plain model (RoPE, softmax, CosScale off) | `train -out " + filepath.Join(out, "models", "base-cos0"),
	} {
		if !strings.Contains(r, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	bad := filepath.Join(out, "analysis", "band.csv")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("model,cosscale,layer,w,mass\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(o); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `missing column "windowed_reference"`) {
		t.Errorf("malformed band.csv: %v", err)
	}
}

// ALiBi's band-mass sentence compares with the plain model's mass and says
// the bias is weak only when every ALiBi fine-tune is less local.
func TestALiBiBand(t *testing.T) {
	row := func(s float64, layer study.Layer, window bool, mass float64) study.BandRow {
		return study.BandRow{Model: "a", CosScale: s, Window: window, Layer: layer, W: 64, Mass: mass, Rows: 1}
	}
	cases := []struct {
		name          string
		alibi         []study.BandRow
		plain         float64
		hasPlain      bool
		want, notWant string
	}{
		{"weaker than RoPE", []study.BandRow{row(0, study.AllLayers, false, 0.30), row(128, study.AllLayers, false, 0.31), row(0, 0, false, 0.9), row(0, study.AllLayers, true, 0.9)}, 0.64, true,
			"0.3000 (fine-tuned from the plain model) and 0.3100 (fine-tuned from the CosScale 128 base) (`analysis/alibi/band.csv`), against 0.6400 for the plain RoPE model: with one head", ""},
		{"one more local than RoPE", []study.BandRow{row(0, study.AllLayers, false, 0.70), row(128, study.AllLayers, false, 0.31)}, 0.64, true,
			"against 0.6400 for the plain RoPE model.", "less local"},
		{"no plain model", []study.BandRow{row(0, study.AllLayers, false, 0.30)}, 0, false,
			"0.3000 (fine-tuned from the plain model) (`analysis/alibi/band.csv`).", "against"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := alibiBand(c.alibi, c.plain, c.hasPlain)
			if !strings.Contains(got, c.want) {
				t.Errorf("got %q, want it to contain %q", got, c.want)
			}
			if c.notWant != "" && strings.Contains(got, c.notWant) {
				t.Errorf("got %q, which should not contain %q", got, c.notWant)
			}
		})
	}
	if alibiBand(nil, math.NaN(), false) != "" {
		t.Error("a sentence without ALiBi's band mass")
	}
}

// The setup line names bfloat16 only for a bf16 profile.
func TestDescribeProfile(t *testing.T) {
	for _, prec := range []string{"", "bf16"} {
		p, _ := study.NamedProfile("gpu")
		p.Precision = prec
		if got := strings.Contains(describeProfile(p), "bfloat16"); got != (prec == "bf16") {
			t.Errorf("precision %q: setup line %q", prec, describeProfile(p))
		}
	}
}

// The report of a study of rules version 3 before any part has run: every
// claim not run, no panic, the plan's parts listed with their placeholders.
func TestWriteV3Empty(t *testing.T) {
	out := t.TempDir()
	p, err := study.ProfileOf(out, "cpu")
	if err != nil || p.Rules != 3 {
		t.Fatalf("profile of rules %d, %v", p.Rules, err)
	}
	path, err := Write(study.Study{Profile: p, Out: out, Corpus: "embedded"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	r := string(b)
	if n := strings.Count(r, "| **not run** |"); n != 7 {
		t.Errorf("%d claims not run, want 7:\n%s", n, r)
	}
	for _, want := range []string{"## Verdict history", "| 2026-11-27 (rules 1, results of 05c2f99) | 2026-12-06 (rules 2, results of fbdd13f) | this run (rules 3) |",
		"-configs {test-configs}", "## ALiBi's slope", "| 0.00390625 | not trained yet |", "(no part has run yet)"} {
		if !strings.Contains(r, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
