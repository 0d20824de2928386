package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/eval"
)

// writeSuite writes a suite directory with one row per configuration at
// one length, each with per-position scores: right[i] says which of the
// positions (two documents of n each) the configuration gets right; the
// loss is 0.5 where right, 3 where wrong, plus shift.
func writeSuite(t *testing.T, dir string, L, n int, rows []pairedRow, right [][]bool, shift []float64) {
	t.Helper()
	type result struct {
		Length   int     `json:"length"`
		Accuracy float64 `json:"accuracy"`
		Loss     float64 `json:"loss"`
	}
	var js []map[string]any
	for i, r := range rows {
		r.Scores = filepath.Join("scores", r.Method+"."+r.Norm+".csv.gz")
		var sc []eval.Score
		correct, loss := 0, 0.0
		for k, ok := range right[i] {
			s := eval.Score{Doc: k / n, Pos: k % n, Pred: 1, Correct: ok, Loss: 3 + shift[i]}
			if ok {
				s.Pred, s.Loss = 0, 0.5+shift[i]
				correct++
			}
			loss += s.Loss
			sc = append(sc, s)
		}
		if err := eval.WriteScores(filepath.Join(dir, r.Scores), []eval.Result{{Length: L, Scores: sc}}); err != nil {
			t.Fatal(err)
		}
		js = append(js, map[string]any{"base": r.Base, "cosscale": r.CosScale, "method": r.Method, "norm": r.Norm, "fine_tuned": r.FineTune,
			"scores": r.Scores, "results": []result{{L, float64(correct) / float64(len(sc)), loss / float64(len(sc))}}})
	}
	b, _ := json.Marshal(map[string]any{"rows": js})
	if err := os.WriteFile(filepath.Join(dir, "suite.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Claim 2 from per-position scores: McNemar against each group of
// identical comparators (identical ones counted once), Holm-corrected.
func TestClaimExtrapolationMcNemar(t *testing.T) {
	const n, L = 40, 4096
	pattern := func(f func(k int) bool) []bool {
		out := make([]bool, 2*n)
		for k := range out {
			out[k] = f(k)
		}
		return out
	}
	cases := []struct {
		name    string
		right   [][]bool // ours, ntk, yarn, window
		shift   []float64
		verdict string
		groups  int
	}{
		// Ours right on every position, ntk and yarn identical (right on
		// 1 in 4), window right on 1 in 2: two groups, b = 60 and 40, c = 0.
		{"wins", [][]bool{pattern(func(int) bool { return true }), pattern(func(k int) bool { return k%4 == 0 }), pattern(func(k int) bool { return k%4 == 0 }), pattern(func(k int) bool { return k%2 == 0 })},
			[]float64{0, 0, 0, 0}, "supported", 2},
		// yarn's losses differ by more than the tolerance: three groups;
		// window is right everywhere and ours on 1 in 2: a loss.
		{"loss", [][]bool{pattern(func(k int) bool { return k%2 == 0 }), pattern(func(k int) bool { return k%4 == 0 }), pattern(func(k int) bool { return k%4 == 0 }), pattern(func(int) bool { return true })},
			[]float64{0, 0, 1e-3, 0}, "not supported", 3},
		// Ours differs from the comparators at two positions only: ties.
		{"ties", [][]bool{pattern(func(k int) bool { return k%2 == 0 || k == 1 }), pattern(func(k int) bool { return k%2 == 0 }), pattern(func(k int) bool { return k%2 == 0 || k == 3 }), pattern(func(k int) bool { return k%2 == 0 })},
			[]float64{0, 0, 0, 0}, "inconclusive", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			rows := []pairedRow{{CosScale: 128, Method: "rope", Norm: "infoscale"}, {Method: "ntk", Norm: "softmax"}, {Method: "yarn", Norm: "softmax"}, {Method: "window", Norm: "softmax"}}
			writeSuite(t, filepath.Join(out, "suite"), L, n, rows, c.right, c.shift)
			o := options{profile: profile{Headline: 128}, out: out}
			cl := claimExtrapolationPaired(o, map[string]string{}, math.NaN())
			if cl.verdict != c.verdict {
				t.Errorf("verdict %q, want %q\n%s", cl.verdict, c.verdict, cl.body)
			}
			if !strings.Contains(cl.summary, "comparator groups") || !strings.Contains(cl.body, "McNemar p (Holm)") {
				t.Errorf("summary %q\n%s", cl.summary, cl.body)
			}
			if got := strings.Count(cl.body, "\n| ") - 1; got != c.groups {
				t.Errorf("%d comparator rows, want %d\n%s", got, c.groups, cl.body)
			}
		})
	}
	// One comparator, b = 60, c = 0: p = 2·0.5^60 (Holm over one
	// comparison leaves it); a gap below the bias bound is marked.
	out := t.TempDir()
	all := func(int) bool { return true }
	rows := []pairedRow{{CosScale: 128, Method: "rope", Norm: "infoscale"}, {Method: "ntk", Norm: "softmax"}}
	q := make([]bool, 2*n)
	for k := range q {
		q[k] = k%4 == 0
	}
	a := make([]bool, 2*n)
	for k := range a {
		a[k] = all(k)
	}
	writeSuite(t, filepath.Join(out, "suite"), L, n, rows, [][]bool{a, q}, []float64{0, 0})
	cl := claimExtrapolationPaired(options{profile: profile{Headline: 128}, out: out}, map[string]string{}, 0.9)
	if !strings.Contains(cl.body, "| 60 / 0 | 1.73e-18 |") || !strings.Contains(cl.body, "within the fast protocol's bias") {
		t.Errorf("McNemar's b, c and p (2·0.5^60 = 1.73e-18), or the bias mark, missing:\n%s", cl.body)
	}
	// A suite without per-position scores is not judged.
	os.RemoveAll(filepath.Join(out, "suite", "scores"))
	if cl := claimExtrapolationPaired(options{profile: profile{Headline: 128}, out: out}, map[string]string{}, math.NaN()); cl.verdict != "not run" {
		t.Errorf("verdict without scores: %q", cl.verdict)
	}
}

// The exclusion rule on hand-made runs: validation losses read from best/
// (or last/ when best/ has none), the sweep's median, the plain model and
// the fine-tunes' base models as references, and a run without a recorded
// validation loss kept out of the verdicts.
func TestExcluded(t *testing.T) {
	out := t.TempDir()
	o := options{out: out, profile: profile{Sweep: []float64{8, 16, 32, 64}, Headline: 128}}
	state := func(dir, sub string, loss float64) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		b := []byte(`{"step": 10}`)
		if loss > 0 {
			b = []byte(fmt.Sprintf(`{"step": 10, "best_val_loss": %g}`, loss))
		}
		if err := os.WriteFile(filepath.Join(dir, sub, "trainer_state.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state(o.modelDir("cos8"), "best", 4.0)
	state(o.modelDir("cos16"), "last", 4.2) // median of 4.0, 4.2, 5.1: 4.2; 1.2 × 4.2 = 5.04
	state(o.modelDir("cos32"), "best", 5.1)
	state(o.modelDir("cos64"), "best", 0) // no validation loss
	state(o.modelDir("base-cos0"), "best", 3.0)
	state(o.modelDir("base-cosbest"), "best", 3.5) // 3.5 <= 3.6
	state(o.modelDir("base-cos128"), "best", 3.61) // > 1.2 × 3.0
	state(filepath.Join(out, "suite", "cos0", "ft-pi"), "best", 3.5)
	state(filepath.Join(out, "suite", "cos0", "ft-alibi"), "best", 3.7)
	state(filepath.Join(out, "suite", "cos32", "ft-pose"), "best", 4.3) // base-cos32 absent: base-cosbest's 3.5
	got := excluded(o)
	want := map[string]string{
		"cos32":               "validation loss 5.1000 > 1.2 × the sweep median 4.2000",
		"cos64":               "no validation loss recorded",
		"base-cos128":         "validation loss 3.6100 > 1.2 × the plain model's 3.0000",
		"suite/cos0/ft-alibi": "validation loss 3.7000 > 1.2 × base-cos0's 3.0000",
		"suite/cos32/ft-pose": "validation loss 4.3000 > 1.2 × base-cosbest's 3.5000",
	}
	if len(got) != len(want) {
		t.Errorf("excluded %v, want the %d of %v", got, len(want), want)
	}
	for name, reason := range want {
		if !strings.HasPrefix(got[name], reason) {
			t.Errorf("%s: reason %q, want it to start with %q", name, got[name], reason)
		}
	}
}

// ALiBi's band-mass sentence compares with the plain model's mass and says
// the bias is weak only when every ALiBi fine-tune is less local.
func TestALiBiBand(t *testing.T) {
	const header = "model,cosscale,windowed_reference,layer,w,mass,std,rows\n"
	cases := []struct {
		name, alibi   string
		plain         float64
		hasPlain      bool
		want, notWant string
	}{
		{"weaker than RoPE", "a,0,false,all,64,0.30,0,1\na,128,false,all,64,0.31,0,1\na,0,false,0,64,0.9,0,1\na,0,true,all,64,0.9,0,1\n", 0.64, true,
			"0.3000 (fine-tuned from the plain model) and 0.3100 (fine-tuned from the CosScale 128 base) (`analysis/alibi/band.csv`), against 0.6400 for the plain RoPE model: with one head", ""},
		{"one more local than RoPE", "a,0,false,all,64,0.70,0,1\na,128,false,all,64,0.31,0,1\n", 0.64, true,
			"against 0.6400 for the plain RoPE model.", "less local"},
		{"no plain model", "a,0,false,all,64,0.30,0,1\n", 0, false,
			"0.3000 (fine-tuned from the plain model) (`analysis/alibi/band.csv`).", "against"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			p := filepath.Join(out, "analysis", "alibi", "band.csv")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(header+c.alibi), 0o644); err != nil {
				t.Fatal(err)
			}
			got := alibiBand(options{out: out}, c.plain, c.hasPlain)
			if !strings.Contains(got, c.want) {
				t.Errorf("got %q, want it to contain %q", got, c.want)
			}
			if c.notWant != "" && strings.Contains(got, c.notWant) {
				t.Errorf("got %q, which should not contain %q", got, c.notWant)
			}
		})
	}
}
