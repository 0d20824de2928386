package main

import (
	"encoding/json"
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
