package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/collective/mpi"
	"github.com/infoscale/gaualpha/internal/testfiles"
)

// fixture writes a corpus and a (randomly initialised) checkpoint.
func fixture(t *testing.T) (corpus, ckpt string) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyz"
	corpus = testfiles.WriteCorpus(t, filepath.Join(dir, "c.jsonl"), testfiles.RandomDocs(rng, letters, 10, 300))
	return corpus, testfiles.TinyCheckpoint(t, filepath.Join(dir, "ck"), rng, letters)
}

func runEval(args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := run(collective.Single{}, append(args, "-quiet"), &out, &errb)
	return out.String(), err
}

func TestEvalTableAndJSON(t *testing.T) {
	corpus, ckpt := fixture(t)
	out, err := runEval("-ckpt", ckpt, "-corpus", corpus, "-lengths", "32,64", "-docs", "2", "-norm", "softmax,softmax_plus,infoscale")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "| 64 | 4x |") || !strings.Contains(out, "softmax_plus acc") {
		t.Errorf("table:\n%s", out)
	}
	out, err = runEval("-ckpt", ckpt, "-corpus", corpus, "-lengths", "32", "-docs", "2", "-json", "-protocol", "paper", "-positions", "3")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Protocol string `json:"protocol"`
		Results  []struct {
			Variant string `json:"variant"`
			Tally   struct {
				Count int `json:"count"`
			} `json:"tally"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Protocol != "paper" || len(rep.Results) != 2 || rep.Results[0].Tally.Count != 6 {
		t.Errorf("report %+v", rep)
	}
}

func TestEvalBadInput(t *testing.T) {
	corpus, ckpt := fixture(t)
	cases := []struct {
		args []string
		want string
	}{
		{nil, "-ckpt is required"},
		{[]string{"-ckpt", filepath.Join(t.TempDir(), "none")}, "no such file"},
		{[]string{"-ckpt", ckpt, "-corpus", corpus, "-lengths", "4096", "-max-memory", "0.0001"}, "memory budget"},
		{[]string{"-ckpt", ckpt, "-corpus", corpus, "-protocol", "slow"}, "unknown protocol"},
		{[]string{"-ckpt", ckpt, "-corpus", corpus, "-norm", "sparsemax"}, "unknown normalisation"},
		{[]string{"-ckpt", ckpt, "-corpus", corpus, "-lengths", "a,b"}, "bad length"},
		{[]string{"-ckpt", ckpt, "-corpus", corpus, "-cosscale", "-2"}, "-cosscale"},
		{[]string{"-ckpt", ckpt, "-corpus", corpus, "-docs", "0"}, "-docs"},
		{[]string{"-ckpt", ckpt, "-device", "cuda"}, "built without GPU support"},
		{[]string{"-ckpt", ckpt, "-precision", "fp8"}, `unknown precision "fp8"`},
		{[]string{"-ckpt", ckpt, "-precision", "f16"}, "unknown precision"},
	}
	for _, c := range cases {
		if _, err := runEval(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

// Every flag's bad values are refused with an error naming the flag.
func TestEvalFlagValidation(t *testing.T) {
	corpus, ckpt := fixture(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"negative positions", []string{"-protocol", "paper", "-positions", "-1"}, "-positions -1 must be >= 0"},
		{"positions with fast", []string{"-positions", "8"}, "-positions has no effect with -protocol fast"},
		{"zero stride", []string{"-stride", "0"}, "-stride 0 must be at least 1"},
		{"negative stride", []string{"-stride", "-32"}, "-stride -32"},
		{"zero offsets", []string{"-offsets", "0"}, "-offsets 0 must be at least 1"},
		{"offsets with paper", []string{"-protocol", "paper", "-offsets", "2"}, "no effect with -protocol paper"},
		{"negative docs", []string{"-docs", "-3"}, "-docs -3"},
		{"unknown testset", []string{"-testset", "random"}, "-testset \"random\""},
		{"empty norm entry", []string{"-norm", "softmax,,infoscale"}, "-norm \"softmax,,infoscale\""},
		{"unknown norm", []string{"-norm", "softmax,sparsemax"}, "-norm \"softmax,sparsemax\""},
		{"malformed lengths", []string{"-lengths", "64,x"}, "-lengths: bad length \"x\""},
		{"length 1", []string{"-lengths", "1"}, "-lengths: bad length \"1\""},
		{"negative max-memory", []string{"-max-memory", "-1"}, "-max-memory -1"},
		{"infinite max-memory", []string{"-max-memory", "Inf"}, "-max-memory +Inf"},
		{"huge length", []string{"-lengths", "64,1000000000000", "-max-memory", "4"}, "-lengths: length 1000000000000 needs about"},
		{"absurd length", []string{"-lengths", "9000000000000000000"}, "needs about"},
		{"zero window", []string{"-window", "0"}, "-window 0"},
		{"stray argument", []string{"extra"}, "unexpected argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runEval(append([]string{"-ckpt", ckpt, "-corpus", corpus}, c.args...)...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// seconds matches the report's timings, which differ from run to run.
var seconds = regexp.MustCompile(`"seconds": [0-9.e+-]+`)

// Two and three processes (in-process ranks) print, on rank 0, the JSON
// report one process prints (the timings aside); the other ranks print
// nothing; a bad flag fails on every rank, naming it.
func TestEvalSharded(t *testing.T) {
	corpus, ckpt := fixture(t)
	args := []string{"-ckpt", ckpt, "-corpus", corpus, "-lengths", "32,64", "-docs", "3", "-json", "-protocol", "paper", "-positions", "5"}
	one, err := runEval(args...) // with -quiet: the report alone
	if err != nil {
		t.Fatal(err)
	}
	want := seconds.ReplaceAllString(one, `"seconds": 0`)
	for _, n := range []int{2, 3} {
		printed, err := testfiles.RunRanks(n, run, args)
		if err != nil {
			t.Fatalf("%d processes: %v", n, err)
		}
		if got := seconds.ReplaceAllString(printed[0].Stdout, `"seconds": 0`); got != want {
			t.Errorf("%d processes: rank 0 printed\n%s\nwant\n%s", n, got, want)
		}
		if !strings.Contains(printed[0].Stderr, fmt.Sprintf("processes: %d", n)) || strings.Count(printed[0].Stderr, "\neval ") != 4 {
			t.Errorf("%d processes: rank 0's progress:\n%s", n, printed[0].Stderr)
		}
		for r := 1; r < n; r++ {
			if printed[r].All() != "" {
				t.Errorf("%d processes: rank %d printed %q", n, r, printed[r].All())
			}
		}
	}
	err = collective.RunLocal(2, func(c collective.Comm) error {
		return mpi.RunWith(c, func(c collective.Comm) error {
			return run(c, []string{"-ckpt", ckpt, "-protocol", "slow"}, &bytes.Buffer{}, &bytes.Buffer{})
		})
	})
	for r := range 2 {
		if want := fmt.Sprintf("rank %d of 2: -protocol: unknown protocol", r); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad flag on 2 processes: %v, want %q", err, want)
		}
	}
}
