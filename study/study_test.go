package study

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/metrics"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A table round-trips its rows (NaN, pooled layers, empty optional cells),
// writes floats as the analyses always have (8 significant digits unless
// the column says otherwise), and refuses a file whose columns are not its
// schema's, naming the file and the column.
func TestTable(t *testing.T) {
	dir := t.TempDir()
	rows := []BandRow{
		{Model: "runs/a, b/best", CosScale: 16, Layer: AllLayers, W: 64, Mass: 0.123456789, Std: 1e-9, Rows: 3},
		{Model: "w", CosScale: math.NaN(), Window: true, Layer: 2, W: 0, Mass: 1, Rows: 1},
	}
	path := filepath.Join(dir, "sub", "band.csv")
	if err := Band.Write(path, rows); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "model,cosscale,windowed_reference,layer,w,mass,std,rows\n\"runs/a, b/best\",16,false,all,64,0.12345679,1e-09,3\nw,NaN,true,2,0,1,0,1\n"
	if string(b) != want {
		t.Errorf("band.csv:\n%s\nwant\n%s", b, want)
	}
	got, err := Band.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Model != rows[0].Model || got[0].Layer != AllLayers || got[0].Mass != 0.12345679 || !math.IsNaN(got[1].CosScale) || !got[1].Window || got[1].Layer != 2 {
		t.Errorf("read back %+v", got)
	}
	loss := 2.5
	tl := []TrainLossRow{{Panel: "p", Run: "r", Dir: "d", Step: 3, Epoch: 0.5, TrainLoss: &loss}, {Step: 4, ValLoss: &loss}}
	if err := TrainLoss.Write(filepath.Join(dir, "tl.csv"), tl); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "tl.csv")); !strings.HasSuffix(string(b), "p,r,d,3,0.5,2.5,\n,,,4,0,,2.5\n") {
		t.Errorf("optional cells:\n%s", b)
	}
	if back, err := TrainLoss.Read(filepath.Join(dir, "tl.csv")); err != nil || back[0].ValLoss != nil || *back[1].ValLoss != 2.5 {
		t.Errorf("optional cells read back %+v, %v", back, err)
	}
	sc := []SuiteCSVRow{{Base: "b", CosScale: 1e6, Method: "pi", FineTuned: true, Norm: "softmax", Length: 128, Accuracy: 0.5, Loss: 1.0 / 3, Perplexity: 2, Tokens: 9}}
	if err := SuiteCSV.Write(filepath.Join(dir, "suite.csv"), sc); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "suite.csv")); !strings.HasSuffix(string(b), "\nb,1e+06,pi,true,softmax,128,0.500000,0.333333,2.000000,9\n") {
		t.Errorf("suite.csv formats:\n%s", b)
	}
	for _, c := range []struct{ text, want string }{
		{"model,cosscale,windowed_reference,layer,w,mass,std\nm,1,false,all,64,1,0\n", `band.csv: missing column "rows" (band.csv schema version 1`},
		{"model,cosscale,windowed_reference,layer,w,mass,std,rows,extra\n", `extra column "extra"`},
		{"cosscale,model,windowed_reference,layer,w,mass,std,rows\n", "out of order"},
		{"model,cosscale,windowed_reference,layer,w,mass,std,rows\nm,x,false,all,64,1,0,1\n", `line 2, column cosscale: bad number "x"`},
		{"model,cosscale,windowed_reference,layer,w,mass,std,rows\nm,1,false,-3,64,1,0,1\n", `column layer: bad layer "-3"`},
		{"model,cosscale,windowed_reference,layer,w,mass,std,rows\nm,1,false,all,64,1,0\n", "wrong number of fields"},
		{"", "empty file"},
	} {
		p := filepath.Join(dir, "band.csv")
		write(t, p, c.text)
		if _, err := Band.Read(p); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: %v, want an error naming %s and %q", c.text, err, p, c.want)
		}
	}
}

// suite.json round-trips through WriteSuite and ReadSuite, reads version 1
// files (no scores), and refuses unknown or missing fields and rows of
// other lengths.
func TestSuiteFile(t *testing.T) {
	dir := t.TempDir()
	res := func(L int) eval.Result {
		return eval.Result{Variant: "softmax", Length: L, Accuracy: 0.25, Loss: 2, PPL: 7.4, Tally: metrics.Tally{Count: 8, Correct: 2, SumLoss: 16}}
	}
	s := &Suite{Command: "suite -base b", Protocol: "fast", TrainLen: 64, Seconds: 3, Rows: []SuiteRow{
		{Base: "b", Method: "rope", Norm: "softmax", Results: []eval.Result{res(128), res(256)}, Scores: "scores/cos0/rope.softmax.csv.gz"},
		{Base: "b", CosScale: 16, Method: "pi", Norm: "infoscale", FineTune: true, Results: []eval.Result{res(128), res(256)}, Scores: "x"},
	}}
	path := filepath.Join(dir, "suite.json")
	if err := WriteSuite(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSuite(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows[1].Label() != "pi (ft) + infoscale, CosScale 16" || !slices.Equal(got.Lengths(), []int{128, 256}) || got.Rows[0].Results[1].Tally.SumLoss != 16 {
		t.Errorf("read back %+v", got)
	}
	if md := got.Markdown(); !strings.Contains(md, "| pi (ft) | infoscale | 16 | **0.2500** | **0.2500** |") || !strings.Contains(md, "| 128 (2x) | 256 (4x) |") {
		t.Errorf("suite.md:\n%s", md)
	}
	v1 := `{"protocol": "fast", "rows": [{"base": "b", "cosscale": 0, "method": "rope", "norm": "softmax", "fine_tuned": false, "results": [{"length": 128, "accuracy": 0.5, "loss": 2}]}]}`
	write(t, path, v1)
	if got, err := ReadSuite(path); err != nil || got.Rows[0].Scores != "" {
		t.Errorf("version 1 file: %+v, %v", got, err)
	}
	for _, c := range []struct{ text, want string }{
		{`{"rows": []}`, "no rows"},
		{strings.Replace(v1, `"fine_tuned": false, `, "", 1), `row 0: missing field "fine_tuned"`},
		{strings.Replace(v1, `"accuracy": 0.5, `, "", 1), `row 0, result 0: missing field "accuracy"`},
		{strings.Replace(v1, `"base": "b"`, `"base": "b", "colour": "red"`, 1), `unknown field "colour"`},
		{strings.Replace(v1, `]}]}`, `]}, {"base": "b", "cosscale": 0, "method": "pi", "norm": "softmax", "fine_tuned": false, "results": [{"length": 64, "accuracy": 0.5, "loss": 2}]}]}`, 1), "row 1 (pi + softmax, CosScale 0) has lengths [64], row 0 [128]"},
		{`[1, 2]`, "not a suite.json"},
	} {
		write(t, path, c.text)
		if _, err := ReadSuite(path); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an error naming the file and %q", c.text, err, c.want)
		}
	}
}

// The trained models of a study directory with their validation losses,
// read from best/ or else last/.
func TestTrainedModels(t *testing.T) {
	o := Study{Out: t.TempDir(), Profile: Profile{Sweep: []float64{8, 16, 32}, Headline: 128}}
	state := func(m Model, sub string, loss float64) {
		b := `{"step": 10}`
		if loss > 0 {
			b = fmt.Sprintf(`{"step": 10, "best_val_loss": %g}`, loss)
		}
		write(t, filepath.Join(o.Dir(m), sub, "trainer_state.json"), b)
	}
	state(Model{Role: Sweep, CosScale: 8}, "best", 4.0)
	state(Model{Role: Sweep, CosScale: 16}, "last", 4.2)
	state(Model{Role: Sweep, CosScale: 32}, "best", 0)
	state(Model{Role: Plain}, "best", 3)
	state(Model{Role: FineTune, CosScale: 128, Method: "alibi"}, "best", 3.7)
	got := o.TrainedModels()
	var names []string
	for _, m := range got {
		names = append(names, fmt.Sprintf("%s=%v/%v", m.Name(), m.Loss, m.HasLoss))
	}
	want := []string{"cos8=4/true", "cos16=4.2/true", "cos32=0/false", "base-cos0=3/true", "suite/cos128/ft-alibi=3.7/true"}
	if !slices.Equal(names, want) {
		t.Errorf("models %v, want %v", names, want)
	}
	if o.Dir(Model{Role: HeadlineBase, CosScale: 128}) != filepath.Join(o.Out, "models", "base-cos128") {
		t.Errorf("headline base dir %s", o.Dir(Model{Role: HeadlineBase, CosScale: 128}))
	}
	if best, err := o.BestSweepScale(); err == nil {
		t.Errorf("best sweep scale %v without cos32's validation loss", best)
	}
}

// Timings (logs/timings.json of runs before the records) round-trip.
func TestTimings(t *testing.T) {
	dir := t.TempDir()
	tm := map[string]Timing{"a": {Command: "train -x", Seconds: 2}}
	if err := writeJSON(timingsPath(dir), tm); err != nil {
		t.Fatal(err)
	}
	if got := ReadTimings(dir); got["a"] != tm["a"] {
		t.Errorf("timings %v", got)
	}
}

// -precision bf16 (gpu profile) reaches every training, the suite and the
// analyses that run models, which run on the profile's device; float32 and
// the CPU add nothing.
func TestPartsDevice(t *testing.T) {
	for _, c := range []struct{ profile, prec string }{{"gpu", ""}, {"gpu", "bf16"}, {"cpu", ""}} {
		p, err := NamedProfile(c.profile)
		if err != nil {
			t.Fatal(err)
		}
		p.Precision = c.prec
		for _, pt := range (Study{Profile: p, Out: "results", Corpus: "embedded"}).Parts() {
			args := strings.Join(pt.Args, " ")
			runsModels := pt.Tool == "train" || pt.Tool == "suite" || pt.Tool == "analyze" && slices.Contains([]string{"entropy", "eta", "heatmap", "band"}, pt.Args[0])
			if has, want := strings.Contains(args, "-precision bf16"), c.prec == "bf16" && runsModels; has != want {
				t.Errorf("%s profile, precision %q: part %q has -precision bf16: %v, want %v", c.profile, c.prec, pt.Name, has, want)
			}
			if has, want := strings.Contains(args, "-device cuda"), c.profile == "gpu" && runsModels; has != want {
				t.Errorf("%s profile: part %q has -device cuda: %v, want %v", c.profile, pt.Name, has, want)
			}
		}
	}
	if _, err := NamedProfile("tpu"); err == nil || !strings.Contains(err.Error(), "unknown profile") {
		t.Errorf("profile tpu: %v", err)
	}
}

// The study of rules version 3: unique part names, every part it reads
// listed before it, the seeds' models and evaluations in their folders,
// the placeholders where the values are known only at run time.
func TestPartsV3(t *testing.T) {
	p, err := NamedProfile("cpu")
	if err != nil {
		t.Fatal(err)
	}
	o := Study{Profile: p, Out: "results", Corpus: "embedded"}
	parts := o.Parts()
	seen := map[string]int{}
	for i, pt := range parts {
		if _, dup := seen[pt.Name]; dup {
			t.Errorf("part name %q twice", pt.Name)
		}
		seen[pt.Name] = i
		for _, dep := range append(append([]string{}, pt.Needs...), pt.Reads...) {
			if j, ok := seen[dep]; !ok || j >= i {
				t.Errorf("part %q reads %q, which is not an earlier part", pt.Name, dep)
			}
		}
		if pt.Done == "" {
			t.Errorf("part %q has no output", pt.Name)
		}
	}
	// 7 sweep + 3×3 bases + 5 ALiBi slopes + 3 fine-tunes + dev + 3 test + 3
	// matched + 2 calibrations + 2 figures + 3 entropies + eta, heat maps,
	// band + 2 ALiBi analyses + curves + passkey + test set.
	if len(parts) != 7+9+5+3+1+3+3+2+2+3+3+2+3 {
		t.Errorf("%d parts", len(parts))
	}
	cmds := map[string]string{}
	for _, pt := range parts {
		cmds[pt.Name] = pt.Command()
	}
	for name, want := range map[string][]string{
		"seed 43: train the plain model (RoPE, softmax, CosScale off)":                                                                   {"-out results/seeds/s43/models/base-cos0", "-seed 43", "-passkey-every 16", "-passkey-first 400", "-keep-validations", "-no-eval"},
		"seed 42: train the plain model (RoPE, softmax, CosScale off)":                                                                   {"-eval-docs 24", "-seed 42"},
		"seed 44: train the CosScale base model (the sweep's best CosScale)":                                                             {"-cosscale {best-s}", "-keep-validations"},
		"seed 44: fine-tune PI at 4·n0, PoSE and ALiBi from each base model":                                                             {"-finetune-only", "-alibi-slope {alibi-slope}", "-out results/seeds/s44/suite", "-seed 44"},
		"development evaluation: every method × normalisation at 64x on the development documents (chooses each method's configuration)": {"-docset dev", "-lengths 4096", "-offsets 1", "-finetunes results/seeds/s42/suite"},
		"seed 43: test evaluation of ours, the chosen comparators and claim 6's temperatures, with the passkey probe":                    {"-configs {test-configs}", "-lengths '128,512,4096'", "-passkey-lengths '64,128,512,4096'", "-docs 24", "-offsets 2"},
		"seed 42: the comparators without fine-tuning at matched validation loss":                                                        {"-base {matched-bases:42}", "-configs {matched-configs}"},
		"protocol calibration: the paper protocol at 128,256,512":                                                                        {"-docset dev", "-positions 128"},
		"seed 44: attention entropy vs length of the plain model under each temperature":                                                 {"-norm 'softmax,infoscale,softmax_plus_n0,softmax_plus,yarn_temp,llama4_temp'", "-out results/analysis/seeds/s44"},
	} {
		cmd, ok := cmds[name]
		if !ok {
			t.Errorf("no part %q", name)
			continue
		}
		for _, w := range want {
			if !strings.Contains(cmd, w) {
				t.Errorf("%s: %q lacks %q", name, cmd, w)
			}
		}
	}
	if s, ok := ParseMatchedBasesArg(MatchedBasesArg(43)); !ok || s != 43 {
		t.Errorf("matched-bases placeholder: %d %v", s, ok)
	}
	if _, ok := ParseMatchedBasesArg("{best-s}"); ok {
		t.Error("another placeholder parsed as matched-bases")
	}
}
