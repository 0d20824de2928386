package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/testfiles"
	"github.com/infoscale/gaualpha/study"
)

const letters = "abcdefghijklmnopqrstuvwxyz"

// writeCorpus writes 12 random documents of 150..400 letters, in two styles
// (so that the test-set clustering has something to find).
func writeCorpus(t *testing.T, dir string) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var docs []corpus.Document
	for d := 0; d < 12; d++ {
		alpha := letters[:13]
		if d%2 == 1 {
			alpha = letters[13:]
		}
		doc := testfiles.RandomDocs(rng, alpha, 1, 150+rng.IntN(250))[0]
		doc.ID = fmt.Sprintf("doc%02d", d)
		docs = append(docs, doc)
	}
	return testfiles.WriteCorpus(t, filepath.Join(dir, "c.jsonl"), docs)
}

// writeCheckpoint saves testfiles.AnalysisModel and returns its directory.
func writeCheckpoint(t *testing.T, dir string, cosscale float64, seed uint64, edit func(*gau.Params)) string {
	t.Helper()
	ck := testfiles.AnalysisModel(t, cosscale, seed, edit)
	path := filepath.Join(dir, fmt.Sprintf("ck%g", cosscale), "best")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Save(path, ck.Config, ck.Vocab, ck.Params, nil, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

type fixtureSet struct {
	corpus string
	// plain has no CosScale; cos are CosScale 2, 8, 32.
	plain string
	cos   []string
}

func fixture(t *testing.T) fixtureSet {
	t.Helper()
	dir := t.TempDir()
	f := fixtureSet{corpus: writeCorpus(t, dir), plain: writeCheckpoint(t, dir, 0, 1, nil)}
	for i, s := range []float64{32, 2, 8} { // out of order on purpose
		f.cos = append(f.cos, writeCheckpoint(t, dir, s, uint64(10+i), nil))
	}
	return f
}

func runAnalyze(args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	err := run(args, &out, &errb)
	return out.String(), errb.String(), err
}

// checkPNG decodes a PNG and checks its size in pixels.
func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("%s: %dx%d pixels, want %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
	// Not blank: more than one colour.
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			if img.At(x, y) != first {
				return
			}
		}
	}
	t.Errorf("%s is a single colour", path)
}

// readCSV returns the header and rows of a CSV file.
func readCSV(t *testing.T, path string) ([]string, [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s: %v (%d records)", path, err, len(recs))
	}
	return recs[0], recs[1:]
}

// column returns the values of a named column.
func column(t *testing.T, header []string, rows [][]string, name string) []string {
	t.Helper()
	c := slices.Index(header, name)
	if c < 0 {
		t.Fatalf("no column %q in %v", name, header)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r[c])
	}
	return out
}

func TestEntropyEndToEnd(t *testing.T) {
	f := fixture(t)
	out := t.TempDir()
	stdout, _, err := runAnalyze("entropy", "-ckpt", f.plain, "-corpus", f.corpus, "-lengths", "16,64,32", "-docs", "2", "-out", out, "-quiet", "-dpi", "50")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"entropy.png", "entropy_layers.png", "entropy.csv"} {
		if !strings.Contains(stdout, filepath.Join(out, name)) {
			t.Errorf("output does not name %s:\n%s", name, stdout)
		}
	}
	checkPNG(t, filepath.Join(out, "entropy.png"), 300, 200)
	checkPNG(t, filepath.Join(out, "entropy_layers.png"), 330, 140) // 2 layers: 1×2 panels of 3.3×2.8 in at 50 dpi
	h, rows := readCSV(t, filepath.Join(out, "entropy.csv"))
	if !slices.Equal(h, []string{"norm", "layer", "length", "mean_entropy", "std", "rows", "ln_n"}) {
		t.Errorf("header %v", h)
	}
	if len(rows) != 4*3*3 { // norms × lengths × (2 layers + all)
		t.Errorf("%d rows", len(rows))
	}
	// softmax_plus with base n0 has factor ln(n0)/ln(n0) = 1 at n0 (16 for
	// the fixture): its entropy there is softmax's.
	at := map[string]string{}
	for _, r := range rows {
		if r[1] == "all" && r[2] == "16" {
			at[r[0]] = r[3]
		}
	}
	if at["softmax_plus_n0"] == "" || at["softmax_plus_n0"] != at["softmax"] {
		t.Errorf("entropy at n0: softmax %s, softmax_plus_n0 %s", at["softmax"], at["softmax_plus_n0"])
	}
	h, docRows := readCSV(t, filepath.Join(out, "entropy_docs.csv"))
	if !slices.Equal(h, []string{"norm", "length", "doc", "mean_entropy", "rows"}) || len(docRows) != 4*3*2 {
		t.Errorf("entropy_docs.csv: header %v, %d rows (want norms × lengths × 2 documents)", h, len(docRows))
	}
	// Every row of 2 documents × L, pooled over 2 layers.
	for _, r := range rows {
		if r[1] == "all" && r[2] == "64" && r[5] != "256" {
			t.Errorf("row %v: want 256 rows counted", r)
		}
	}
	if !strings.Contains(stdout, "| 64 | 4.159 |") {
		t.Errorf("table:\n%s", stdout)
	}
}

func TestCommandsEndToEnd(t *testing.T) {
	f := fixture(t)
	all := strings.Join(append([]string{f.plain}, f.cos...), ",")
	cases := []struct {
		args  []string
		files map[string][2]int // PNG sizes at -dpi 50
		csvs  map[string]int    // data rows
		want  string            // in stdout
	}{
		{
			args:  []string{"eta", "-ckpt", all, "-L", "48", "-docs", "2"},
			files: map[string][2]int{"eta_hist.png": {500, 200}, "eta_layers.png": {330, 140}, "eta_peak.png": {400, 200}},
			csvs:  map[string]int{"eta_hist.csv": 4 * 3 * 200, "eta_peak.csv": 4 * 3},
			want:  "| ck32/best | 32 |",
		},
		{
			args:  []string{"heatmap", "-ckpt", all, "-L", "40", "-layer", "1"},
			files: map[string][2]int{"heatmap.png": {395, 200}}, // max(6, 1.7·4+1.1) = 7.9 in
			csvs:  map[string]int{"heatmap.csv": 8},
		},
		{
			args:  []string{"band", "-ckpt", all, "-L", "40", "-w", "4", "-docs", "2"},
			files: map[string][2]int{"band.png": {400, 200}, "band_w.png": {400, 200}},
			csvs:  map[string]int{"band.csv": 5 * 3 * 6}, // (4 models + window) × (2 layers + all) × ws {0,1,2,4,8,16}
			want:  "| windowed attention (w = 4) | | 1.0000 |",
		},
		{
			args:  []string{"testset", "-corpus", f.corpus, "-split", "all", "-n", "4", "-clusters", "2", "-min-len", "200", "-neighbors", "3"},
			files: map[string][2]int{"testset.png": {400, 225}},
			csvs:  map[string]int{"testset.csv": 12},
			want:  "12 documents (all split), 2 clusters of sizes [6 6]; drawn per cluster [2 2]",
		},
	}
	for _, c := range cases {
		t.Run(c.args[0], func(t *testing.T) {
			out := t.TempDir()
			args := append(slices.Clone(c.args), "-out", out, "-quiet", "-dpi", "50")
			if c.args[0] != "testset" {
				args = append(args, "-corpus", f.corpus)
			}
			stdout, _, err := runAnalyze(args...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, c.want) {
				t.Errorf("stdout lacks %q:\n%s", c.want, stdout)
			}
			for name, size := range c.files {
				if !strings.Contains(stdout, "wrote "+filepath.Join(out, name)) {
					t.Errorf("stdout does not name %s", name)
				}
				checkPNG(t, filepath.Join(out, name), size[0], size[1])
			}
			for name, n := range c.csvs {
				_, rows := readCSV(t, filepath.Join(out, name))
				if len(rows) != n {
					t.Errorf("%s: %d rows, want %d", name, len(rows), n)
				}
			}
		})
	}
}

// The heat map columns follow CosScale, and the eta table too.
func TestModelsOrderedByCosScale(t *testing.T) {
	f := fixture(t)
	out := t.TempDir()
	if _, _, err := runAnalyze("heatmap", "-ckpt", strings.Join(f.cos, ","), "-corpus", f.corpus, "-L", "20", "-out", out, "-quiet", "-dpi", "30"); err != nil {
		t.Fatal(err)
	}
	h, rows := readCSV(t, filepath.Join(out, "heatmap.csv"))
	got := column(t, h, rows, "cosscale")
	if want := []string{"2", "2", "8", "8", "32", "32"}; !slices.Equal(got, want) {
		t.Errorf("cosscale column %v, want %v", got, want)
	}
	if got := column(t, h, rows, "rope"); !slices.Equal(got[:2], []string{"before", "after"}) {
		t.Errorf("rope column %v", got)
	}
}

func TestCurvesEndToEnd(t *testing.T) {
	dir := t.TempDir()
	type res struct {
		Length   int     `json:"length"`
		Accuracy float64 `json:"accuracy"`
		Loss     float64 `json:"loss"`
	}
	type row struct {
		Base      string  `json:"base"`
		CosScale  float64 `json:"cosscale"`
		Method    string  `json:"method"`
		Norm      string  `json:"norm"`
		FineTuned bool    `json:"fine_tuned"`
		Results   []res   `json:"results"`
	}
	var rows []row
	for _, base := range []struct {
		dir string
		s   float64
	}{{"runs/base16/best", 16}, {"runs/base/best", 0}} {
		for m, method := range []string{"rope", "pi", "window"} {
			for n, norm := range []string{"softmax", "infoscale"} {
				r := row{Base: base.dir, CosScale: base.s, Method: method, Norm: norm, FineTuned: method == "pi"}
				for k, L := range []int{128, 256, 512} {
					r.Results = append(r.Results, res{L, 0.5 - 0.1*float64(k) + 0.01*float64(m+n), 2 + float64(k)})
				}
				rows = append(rows, r)
			}
		}
	}
	b, _ := json.Marshal(map[string]any{"protocol": "fast", "train_length": 64, "rows": rows})
	suite := filepath.Join(dir, "suite.json")
	os.WriteFile(suite, b, 0o644)
	out := filepath.Join(dir, "out")
	stdout, _, err := runAnalyze("curves", "-suite", suite, "-out", out, "-dpi", "40")
	if err != nil {
		t.Fatal(err)
	}
	// 2 bases + legend column: 3·2+1.9 = 7.9 in; 2 norms: 2.6·2+0.2 = 5.4 in.
	for _, name := range []string{"curves_accuracy.png", "curves_loss.png"} {
		checkPNG(t, filepath.Join(out, name), 316, 216)
		if !strings.Contains(stdout, name) {
			t.Errorf("stdout does not name %s", name)
		}
	}
	h, data := readCSV(t, filepath.Join(out, "curves.csv"))
	if len(data) != 2*3*2*3 {
		t.Errorf("%d CSV rows", len(data))
	}
	if got := column(t, h, data, "fine_tuned"); got[6] != "true" || got[0] != "false" {
		t.Errorf("fine_tuned column %v", got)
	}
}

func TestErrorsAreOneLine(t *testing.T) {
	f := fixture(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"rows": []}`), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{nil, "no subcommand"},
		{[]string{"plot"}, `unknown subcommand "plot"`},
		{[]string{"entropy"}, "-ckpt is required"},
		{[]string{"entropy", "-ckpt", filepath.Join(dir, "none")}, "no such file"},
		{[]string{"entropy", "-ckpt", f.plain + "," + f.cos[0]}, "one checkpoint"},
		{[]string{"entropy", "-ckpt", f.plain, "-norm", "sparsemax"}, "unknown normalisation"},
		{[]string{"entropy", "-ckpt", f.plain, "-lengths", "1"}, "-lengths"},
		{[]string{"entropy", "-ckpt", f.plain, "-docs", "0", "-corpus", f.corpus}, "-docs"},
		{[]string{"entropy", "-ckpt", f.plain, "-dpi", "0"}, "-dpi"},
		{[]string{"entropy", "extra"}, "unexpected argument"},
		{[]string{"eta", "-ckpt", f.plain, "-smooth", "-1"}, "-smooth"},
		{[]string{"heatmap", "-ckpt", f.plain, "-layer", "2", "-corpus", f.corpus}, "-layer 2"},
		{[]string{"heatmap", "-ckpt", f.plain, "-doc", "10"}, "-doc"},
		{[]string{"band", "-ckpt", f.plain, "-w", "-1"}, "-w"},
		{[]string{"band", "-ckpt", f.plain, "-ws", "a"}, "-ws"},
		{[]string{"curves", "-suite", bad}, "no rows"},
		{[]string{"curves", "-suite", filepath.Join(dir, "none.json")}, "no such file"},
		{[]string{"testset", "-split", "train"}, "-split"},
		{[]string{"testset", "-corpus", filepath.Join(dir, "none.jsonl")}, "no such file"},
		{[]string{"entropy", "-nope"}, "flag provided but not defined"},
	}
	for _, c := range cases {
		args := c.args
		if len(args) > 1 {
			args = append(slices.Clone(args), "-out", filepath.Join(dir, "out"))
		}
		_, _, err := runAnalyze(args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error spans lines", c.args)
		}
	}
}

func TestHelpListsFlags(t *testing.T) {
	_, stderr, err := runAnalyze("-h")
	if err == nil || !strings.Contains(stderr, "heatmap") || !strings.Contains(stderr, "testset") {
		t.Errorf("analyze -h: %v\n%s", err, stderr)
	}
	want := map[string][]string{
		"entropy": {"-ckpt", "-lengths", "-norm", "-docs", "-corpus", "-out", "-dpi", "-quiet", "-max-memory"},
		"eta":     {"-ckpt", "-L", "-docs", "-smooth", "-max-memory"},
		"heatmap": {"-ckpt", "-L", "-layer", "-doc", "-max-memory"},
		"band":    {"-ckpt", "-L", "-w", "-ws", "-norm", "-max-memory"},
		"curves":  {"-suite"},
		"testset": {"-corpus", "-ckpt", "-split", "-n", "-clusters", "-min-len", "-features", "-neighbors", "-seed", "-max-memory"},
	}
	// Where 0 is special, -h says what it means.
	zero := map[string][]string{
		"entropy": {"(0: the memory available at the start"},
		"eta":     {"(0: none)", "(0: the memory available at the start"},
		"heatmap": {"0-based: 0 is the first", "(0-based)"},
		"band":    {"0: the diagonal only"},
		"testset": {"(0: no preference)"},
	}
	for sub, flags := range want {
		_, stderr, err := runAnalyze(sub, "-h")
		if err == nil {
			t.Errorf("%s -h: no ErrHelp", sub)
		}
		for _, fl := range flags {
			if !strings.Contains(stderr, "  "+fl+" ") && !strings.Contains(stderr, "  "+fl+"\n") {
				t.Errorf("%s -h does not document %s:\n%s", sub, fl, stderr)
			}
		}
		for _, z := range zero[sub] {
			if !strings.Contains(stderr, z) {
				t.Errorf("%s -h does not say %q", sub, z)
			}
		}
	}
}

// Bad flag values are refused with one line naming the flag, the value and
// the problem, before any model is built: sizes over the memory budget
// (they would run out of memory, or run for hours, if attempted), counts
// beyond what the corpus holds, half-widths beyond the length, duplicate
// checkpoints or runs, and output directories that cannot be written.
func TestFlagRefusals(t *testing.T) {
	f := fixture(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runDir, "metrics.jsonl"), []byte(`{"step":1,"epoch":0.1,"loss":5}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(append([]string{f.plain}, f.cos...), ",")
	none := filepath.Join(dir, "none")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"huge length", []string{"entropy", "-ckpt", f.plain, "-lengths", "64,100000000", "-max-memory", "4"},
			[]string{"-lengths: length 100000000 needs about", "over the memory budget of 4.0 GiB, -max-memory"}},
		{"default lengths over budget", []string{"entropy", "-ckpt", f.plain, "-max-memory", "0.001"},
			[]string{"the default lengths up to 64·n0 = 1024", "over the memory budget of 0.001 GiB"}},
		{"negative budget", []string{"entropy", "-ckpt", f.plain, "-max-memory", "-1"}, []string{"-max-memory -1 must be"}},
		{"NaN budget", []string{"eta", "-ckpt", f.plain, "-max-memory", "NaN"}, []string{"-max-memory NaN must be"}},
		{"more docs than the corpus", []string{"entropy", "-ckpt", f.plain, "-lengths", "16", "-docs", "100"},
			[]string{"-docs 100: the validation split of corpus", "has only"}},
		{"same checkpoint twice", []string{"eta", "-ckpt", f.plain + "," + f.plain + "/"}, []string{"-ckpt names " + f.plain + " twice"}},
		{"eta docs before loading", []string{"eta", "-ckpt", none, "-docs", "0"}, []string{"-docs 0 must be at least 1"}},
		{"eta huge L", []string{"eta", "-ckpt", f.plain, "-L", "100000000", "-max-memory", "4"}, []string{"-L 100000000 needs about"}},
		{"heatmap L×L", []string{"heatmap", "-ckpt", all, "-L", "100000", "-max-memory", "4"},
			[]string{"-L 100000 (two L×L matrices per model, 4 models) needs about 596.", "4.0 GiB"}},
		{"heatmap layer before any model runs", []string{"heatmap", "-ckpt", f.cos[0], "-layer", "-1"}, []string{"-layer -1"}},
		{"band w beyond L", []string{"band", "-ckpt", f.plain, "-L", "40", "-w", "40"}, []string{"-w 40 outside 0..39"}},
		{"band ws beyond L", []string{"band", "-ckpt", f.plain, "-L", "40", "-w", "4", "-ws", "1,1000"}, []string{"-ws: half-width 1000 outside 0..39"}},
		{"band docs before loading", []string{"band", "-ckpt", none, "-docs", "-3"}, []string{"-docs -3 must be at least 1"}},
		{"band huge L", []string{"band", "-ckpt", f.plain, "-L", "100000000", "-max-memory", "4"}, []string{"-L 100000000 needs about"}},
		{"testset n", []string{"testset", "-corpus", f.corpus, "-split", "all", "-n", "13"}, []string{"-n 13: at most 12 for the 12 documents (all split)"}},
		{"testset clusters", []string{"testset", "-corpus", f.corpus, "-split", "all", "-clusters", "100"}, []string{"-clusters 100: at most 12"}},
		{"testset neighbors", []string{"testset", "-corpus", f.corpus, "-split", "all", "-neighbors", "12"}, []string{"-neighbors 12: at most 11"}},
		{"testset zero", []string{"testset", "-features", "0"}, []string{"-features 0 must be at least 1"}},
		{"testset min-len", []string{"testset", "-min-len", "-1"}, []string{"-min-len -1 must be at least 0"}},
		{"testset split before reading", []string{"testset", "-corpus", none, "-split", "VAL"}, []string{`-split "VAL"`}},
		{"testset over budget", []string{"testset", "-corpus", f.corpus, "-split", "all", "-max-memory", "0.000001"},
			[]string{"-split all (12 documents) needs about", "over the memory budget"}},
		{"trainloss same label", []string{"trainloss", "-runs", "a=" + runDir + ",a=" + runDir}, []string{`label "a" appears twice in panel ""`}},
		{"trainloss empty label", []string{"trainloss", "-runs", "p:=" + runDir}, []string{"empty LABEL"}},
		{"trainloss no metrics", []string{"trainloss", "-runs", "a=" + none}, []string{"no metrics.jsonl in " + none + " or its parent"}},
		{"out is a file", []string{"curves", "-out", file}, []string{"-out " + file + " is a file"}},
		{"out below a file", []string{"entropy", "-ckpt", f.plain, "-out", filepath.Join(file, "sub")}, []string{file + " is a file"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := slices.Clone(c.args)
			if !slices.Contains(args, "-out") {
				args = append(args, "-out", filepath.Join(dir, "out"))
			}
			if slices.Contains([]string{"entropy", "eta", "heatmap", "band"}, args[0]) && !slices.Contains(args, "-corpus") {
				args = append(args, "-corpus", f.corpus)
			}
			_, _, err := runAnalyze(args...)
			if err == nil {
				t.Fatalf("%v accepted", c.args)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: error %q lacks %q", c.args, err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Errorf("%v wrote -out before refusing", c.args)
			}
		})
	}
}

// -norm names are case-insensitive and each is analysed once.
func TestEntropyNormsOnce(t *testing.T) {
	f := fixture(t)
	out := t.TempDir()
	stdout, _, err := runAnalyze("entropy", "-ckpt", f.plain, "-corpus", f.corpus, "-lengths", "16", "-docs", "1",
		"-norm", "softmax,SOFTMAX,Softmax_Plus_N0", "-out", out, "-quiet", "-dpi", "30")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "| n | ln n | softmax | softmax_plus_n0 |\n") {
		t.Errorf("table header:\n%s", stdout)
	}
	_, rows := readCSV(t, filepath.Join(out, "entropy.csv"))
	if len(rows) != 2*3 { // norms × (2 layers + all)
		t.Errorf("%d rows in entropy.csv, want 6", len(rows))
	}
}

// A checkpoint with a NaN weight is refused with one line naming the
// tensor (checkpoint.Load checks every tensor; the analyses themselves
// refuse non-finite layer inputs too, which package analysis tests), and
// nothing is written: before, entropy reported no rows for the layers
// after it and an "all layers" row equal to layer 0's (issue 18).
func TestNonFiniteCheckpointRefused(t *testing.T) {
	f := fixture(t)
	nan := writeCheckpoint(t, t.TempDir(), 0, 1, func(p *gau.Params) {
		p.Layers[0].ODense.Data().([]float32)[0] = float32(math.NaN())
	})
	for _, sub := range [][]string{
		{"entropy", "-ckpt", nan, "-lengths", "16,32", "-docs", "1"},
		{"band", "-ckpt", nan, "-L", "32", "-w", "4", "-docs", "1"},
		{"eta", "-ckpt", nan, "-L", "32", "-docs", "1"},
	} {
		out := filepath.Join(t.TempDir(), "out")
		_, _, err := runAnalyze(append(sub, "-corpus", f.corpus, "-out", out, "-quiet")...)
		if err == nil || !strings.Contains(err.Error(), "layer.0.gau.o_dense.weight has 1 NaN") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line naming the tensor with a NaN", sub[0], err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s wrote %s", sub[0], out)
		}
	}
}

// The power analysis of the 2026-12-06 run (its suite.json and the score
// files the analysis reads, kept in testdata): eleven comparisons,
// one row per comparator, and the numbers docs/analysis.md quotes for the
// closest one (fine-tuned PI); verdict's tests check the arithmetic on
// hand-computed cases.
func TestPowerOnCommittedRun(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run([]string{"power", "-suite", "testdata/power-2026-12-06/suite.json", "-out", dir, "-n", "10,20"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"11 comparisons; Holm's first step at alpha = 0.004545", "| pi (ft) | pi (ft) + softmax_plus_n0, CosScale 32 | +0.0016 | 0.0156 | true |", "wrote " + filepath.Join(dir, "power.csv")} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err := run([]string{"power", "-suite", "testdata/power-2026-12-06/suite.json", "-out", dir, "-power", "1"}, &stdout, &stderr); err == nil {
		t.Error("-power 1 accepted")
	}
}

// The passkey figure pools the files (seeds) and documents per
// configuration, length and class.
func TestPasskeyFigure(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for s := range 2 {
		rows := []study.PasskeyRow{
			{Method: "rope", Norm: "infoscale", CosScale: 128, Length: 64, Class: "near", Doc: 0, Keys: 1, Digits: 5, DigitsRight: 4},
			{Method: "rope", Norm: "infoscale", CosScale: 128, Length: 128, Class: "far", Doc: 0, Keys: 1, Digits: 5, DigitsRight: s},
			{Method: "rope", Norm: "infoscale", CosScale: 128, Length: 128, Class: "far", Doc: 1, Keys: 1, Digits: 5, DigitsRight: 1},
			{Method: "window", Norm: "softmax", Length: 128, Class: "far", Doc: 0, Keys: 1, Digits: 5, DigitsRight: 0},
		}
		f := filepath.Join(dir, fmt.Sprintf("s%d.csv", s))
		if err := study.Passkey.Write(f, rows); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"passkey", "-in", strings.Join(files, ","), "-configs", "cos128/rope/infoscale", "-out", out}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	curve, err := study.PasskeyCurve.Read(filepath.Join(out, "passkey_curve.csv"))
	if err != nil {
		t.Fatal(err)
	}
	// Far at 128: (0 + 1) + (1 + 1) right of 20 digits.
	if len(curve) != 2 || curve[1].Class != "far" || curve[1].Digits != 20 || curve[1].DigitsRight != 3 || curve[0].Accuracy != 0.8 {
		t.Errorf("curve %+v", curve)
	}
	if _, err := os.Stat(filepath.Join(out, "passkey.png")); err != nil {
		t.Error(err)
	}
	if err := run([]string{"passkey", "-in", files[0], "-configs", "cos0/ntk/softmax", "-out", out}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "no passkey scores") {
		t.Errorf("a configuration without scores: %v", err)
	}
	if err := run([]string{"passkey", "-out", out}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "-in is required") {
		t.Errorf("no -in: %v", err)
	}
}
