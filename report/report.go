package report

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/infoscale/gaualpha/study"
	"github.com/infoscale/gaualpha/verdict"
)

// Write writes REPORT.md into the study directory from the outputs there,
// judged by the rules of the version the study's profile was designed for
// (and, for the single-seed study of rules version 2, beside them the
// verdicts of version 1), and returns its path. The date and the hardware
// are the run's, from its records. Outputs not produced yet leave their
// claims "not run"; an output that cannot be read (a missing or extra
// column, a field of another schema) is an error.
func Write(o study.Study) (string, error) {
	run, err := readRun(o)
	if err != nil {
		return "", err
	}
	var text string
	if o.Profile.Rules >= 3 {
		if text, err = renderV3(o, run); err != nil {
			return "", err
		}
	} else {
		a, err := readArtifacts(o)
		if err != nil {
			return "", err
		}
		current, err := verdict.Version(2)
		if err != nil {
			return "", err
		}
		previous, err := verdict.Version(1)
		if err != nil {
			return "", err
		}
		text = render(o, a, previous, current, run)
	}
	path := filepath.Join(o.Out, "REPORT.md")
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, []byte(text), 0o644)
}

// artifacts are the study's outputs that the report reads; nil when not
// produced yet.
type artifacts struct {
	entropy, alibiEntropy []study.EntropyRow
	entropyDocs           []study.EntropyDocRow
	etaPeak               []study.EtaPeakRow
	band, alibiBand       []study.BandRow
	suite, fast, paper    *study.Suite
	suiteMD               []byte
	models                []study.TrainedModel
}

// readTable reads a table, nil when the file does not exist.
func readTable[R any](t study.Table[R], path string) ([]R, error) {
	rows, err := t.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return rows, err
}

// readSuite reads a suite.json, nil when the file does not exist.
func readSuite(path string) (*study.Suite, error) {
	s, err := study.ReadSuite(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return s, err
}

func readArtifacts(o study.Study) (*artifacts, error) {
	a := &artifacts{models: o.TrainedModels()}
	an := filepath.Join(o.Out, "analysis")
	var errs [9]error
	a.entropy, errs[0] = readTable(study.Entropy, filepath.Join(an, "entropy.csv"))
	a.entropyDocs, errs[1] = readTable(study.EntropyDocs, filepath.Join(an, "entropy_docs.csv"))
	a.etaPeak, errs[2] = readTable(study.EtaPeak, filepath.Join(an, "eta_peak.csv"))
	a.band, errs[3] = readTable(study.Band, filepath.Join(an, "band.csv"))
	a.alibiBand, errs[4] = readTable(study.Band, filepath.Join(an, "alibi", "band.csv"))
	a.alibiEntropy, errs[5] = readTable(study.Entropy, filepath.Join(an, "alibi", "entropy.csv"))
	a.suite, errs[6] = readSuite(filepath.Join(o.Out, "suite", "suite.json"))
	a.fast, errs[7] = readSuite(filepath.Join(o.Out, "calibration", "fast", "suite.json"))
	a.paper, errs[8] = readSuite(filepath.Join(o.Out, "calibration", "paper", "suite.json"))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	a.suiteMD, _ = os.ReadFile(filepath.Join(o.Out, "suite", "suite.md"))
	return a, nil
}

// claim is one claim's rendering: verdict, one-line evidence, section.
type claim struct {
	title, verdict, summary, body string
}

// notRun is a claim whose evidence is missing.
func notRun(title string, err error) claim {
	return claim{title: title, verdict: "not run", summary: err.Error(), body: "Not run yet.\n"}
}

// The claims' titles.
const (
	titleEntropy = "InfoScale keeps attention entropy invariant as the context grows (softmax's grows like ln n)"
	titleExtrap  = "InfoScale + CosScale extrapolates to 64x the training length better than the existing methods"
	titleEta     = "The peak η1* of the pre-RoPE q·k cosine distribution shifts toward 1 as CosScale grows (Theorem 3.4)"
	titleWindow  = "A large CosScale approximates windowed attention"
)

// outcomes are the verdicts of the four claims under one version of the
// rules, without their sections.
func outcomes(o study.Study, a *artifacts, r verdict.Rules) []string {
	ex := r.Exclude(a.models)
	v := func(out verdict.Outcome, err error) string {
		if err != nil {
			return "not run"
		}
		return out.String()
	}
	e, err1 := r.JudgeEntropy(verdict.EntropyInput{Pooled: a.entropy, PerDoc: a.entropyDocs})
	x, err2 := r.JudgeExtrapolation(extrapolationInput(o, a, ex, math.NaN()))
	t, err3 := r.JudgeEta(a.etaPeak, ex)
	w, err4 := r.JudgeWindow(a.band, ex)
	return []string{v(e.Outcome, err1), v(x.Outcome, err2), v(t.Outcome, err3), v(w.Outcome, err4)}
}

// extrapolationInput is claim 2's evidence.
func extrapolationInput(o study.Study, a *artifacts, ex verdict.Exclusions, bias float64) verdict.ExtrapolationInput {
	in := verdict.ExtrapolationInput{Excluded: ex, Headline: o.Profile.Headline, Bias: bias,
		Scores: study.NewScoreReader(filepath.Join(o.Out, "suite")).At}
	if a.suite != nil {
		in.Rows = a.suite.Rows
	}
	return in
}

// runInfo is what the report says about the run itself: when its parts
// finished, on which machines, how long they took.
type runInfo struct {
	date, hardware string
	total          float64
	timings        map[string]study.Timing
	records        study.Records
	hasRecords     bool
}

// readRun reads the run's records (logs/parts.json), or, for a run made
// before they were kept, its timings (logs/timings.json), which name no
// machine.
func readRun(o study.Study) (runInfo, error) {
	rec, ok, err := study.ReadRecords(o.Out)
	if err != nil {
		return runInfo{}, err
	}
	ri := runInfo{timings: map[string]study.Timing{}, records: rec, hasRecords: ok}
	if ok {
		for name, r := range rec.Parts {
			ri.timings[name] = study.Timing{Command: r.Command, Seconds: r.Seconds, Finished: r.Finished}
		}
		first, last, hosts := rec.Span()
		var hs []string
		for _, h := range hosts {
			hs = append(hs, h.String())
		}
		ri.hardware = strings.Join(hs, "; and ")
		switch {
		case last.IsZero():
			ri.date = "(no part has run yet)"
		case first.Format("2006-01-02") == last.Format("2006-01-02"):
			ri.date = last.UTC().Format("2006-01-02")
		default:
			ri.date = first.UTC().Format("2006-01-02") + " to " + last.UTC().Format("2006-01-02")
		}
	} else {
		ri.timings = study.ReadTimings(o.Out)
		var last time.Time
		for _, t := range ri.timings {
			if f, err := time.Parse(time.RFC3339, t.Finished); err == nil && f.After(last) {
				last = f
			}
		}
		ri.date = "(no part has run yet)"
		if !last.IsZero() {
			ri.date = last.UTC().Format("2006-01-02")
		}
		ri.hardware = "not recorded in the run's outputs (runs before logs/parts.json did not record it)"
	}
	if len(ri.timings) == 0 {
		ri.hardware = "(no part has run yet)"
	}
	for _, t := range ri.timings {
		ri.total += t.Seconds
	}
	return ri, nil
}

// render is REPORT.md of a study of rules version 2.
func render(o study.Study, a *artifacts, previous, current verdict.Rules, run runInfo) string {
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p := o.Profile
	timings, total := run.timings, run.total
	w("# Reproduction report: Information Entropy Invariance (InfoScale, CosScale) on GAU-α\n\n")
	w("Generated by `make reproduce` (`bin/reproduce -profile %s -out %s`) on %s.\n\n", p.Name, o.Out, run.date)
	w("- **Hardware:** %s.\n", run.hardware)
	w("- **Profile `%s`:** %s.\n", p.Name, describeProfile(p))
	w("- **Corpus:** `%s` (the embedded Simplified-Chinese man pages unless stated; provenance in `corpus/data/PROVENANCE.md`); documents split 80/20 in corpus order; the test set is %d long documents of the validation split.\n", o.Corpus, p.Docs)
	w("- **Seeds:** %d for every model (weights, data order, masking, dropout) and for the fine-tunes; evaluation is deterministic.\n", p.Seed)
	w("- **Total wall time of the parts:** %s.\n\n", dur(total))

	w("## Verdicts\n\n")
	w("Each verdict follows the rules of `docs/analysis.md` (\"Verdict rules\", version %d; rules of commit %s, %s), committed before this run: four outcomes (supported, partly supported, not supported, inconclusive), paired statistics on the same documents and positions, models that failed to train excluded.\n\n", current.Version, current.Commit, current.Date)
	ex := current.Exclude(a.models)
	calibration, bias := calibrationSection(current, o, a)
	claims := []claim{entropyClaim(current, a), extrapolationClaim(current, o, a, ex, bias), etaClaim(current, a, ex), windowClaim(current, a, ex)}
	prev := outcomes(o, a, previous)
	w("| claim | verdict | evidence |\n|---|---|---|\n")
	for _, c := range claims {
		w("| %s | **%s** | %s |\n", c.title, c.verdict, c.summary)
	}
	w("\n")
	for i, c := range claims {
		w("## %d. %s\n\n%s\n", i+1, c.title, c.body)
	}
	w("## Rule changes\n\nThe rules of `docs/analysis.md` were written after the %s report had been read, so each is a rule changed after seeing data (of that run). The verdict under the rule of that report (%s) stands beside the current one:\n\n| claim | current rule | previous rule |\n|---|---|---|\n", previous.Date, previous.Description)
	for i := range claims {
		w("| %s | %s | %s |\n", claims[i].title, claims[i].verdict, prev[i])
	}
	w("\n")
	w("## Models that failed to train\n\n%s\n", exclusionSection(current, ex))
	w("## The fast protocol against the paper protocol\n\n%s\n", calibration)
	w("%s", trainingCurves(o))

	w("## Models\n\n%s\n", modelsTable(o))
	w("## Test set\n\nThe evaluations use the `long` rule (10 documents of the validation split with at least as many tokens as the longest evaluation length, evenly spaced in corpus order). The paper's own rule, spectral clustering of character-frequency features with stratified sampling (`-testset spectral`), is shown here for the same split:\n\n")
	if exists(o, "analysis/testset.png") {
		w("![spectral test-set selection](analysis/testset.png)\n\n")
	} else {
		w("(not run yet)\n\n")
	}
	w("## Parts, commands and wall time\n\nEach command can be run by hand from the repository root after `go build -o bin/ ./cmd/...`; logs are in `%s/logs/`.\n\n| # | part | command | wall time |\n|---:|---|---|---:|\n", o.Out)
	for i, pt := range o.Parts() {
		t, ok := timings[pt.Name]
		cmd, secs := pt.Command(), "not run"
		if ok {
			cmd, secs = t.Command, dur(t.Seconds)
		}
		w("| %d | %s | `%s` | %s |\n", i+1, pt.Name, cmd, secs)
	}
	w("\n## Protocol notes\n\n%s\n", protocolNotes)
	return sb.String()
}

// exclusionSection lists the excluded models.
func exclusionSection(r verdict.Rules, ex verdict.Exclusions) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Rule (docs/analysis.md): a model whose best validation loss is more than %.0f%% above its reference (sweep models: the sweep's median; CosScale bases: the plain model; fine-tunes: their base model) failed to train and is left out of every verdict.\n\n", 100*(r.FailFactor-1))
	if len(ex) == 0 {
		sb.WriteString("No model is excluded.\n")
		return sb.String()
	}
	reasons := map[string]string{}
	var names []string
	for m, why := range ex {
		names = append(names, m.Name())
		reasons[m.Name()] = why
	}
	sort.Strings(names)
	sb.WriteString("| excluded model | reason |\n|---|---|\n")
	for _, n := range names {
		fmt.Fprintf(&sb, "| %s | %s |\n", n, reasons[n])
	}
	return sb.String()
}

// modelsTable lists the trained models with their validation scores.
func modelsTable(o study.Study) string {
	var sb strings.Builder
	sb.WriteString("| model | CosScale | steps | best validation loss | at step | training time |\n|---|---:|---:|---:|---:|---:|\n")
	names := []string{"base-cos0", "base-cosbest", "base-" + study.CosName(o.Profile.Headline)}
	for _, s := range o.Profile.Sweep {
		names = append(names, study.CosName(s))
	}
	for _, n := range names {
		last := filepath.Join(o.ModelDir(n), "last")
		st, err := study.ReadState(last)
		if err != nil || st.BestValLoss == nil {
			fmt.Fprintf(&sb, "| %s | | | not trained yet | | |\n", n)
			continue
		}
		cos := "?"
		if cfg, err := study.ReadConfig(last); err == nil {
			cos = fmt.Sprint(cfg.CosScale)
		}
		fmt.Fprintf(&sb, "| %s | %s | %d | %.4f | %d | %s |\n", n, cos, st.Step, *st.BestValLoss, st.BestStep, dur(st.Elapsed))
	}
	var fts []study.TrainedModel
	for _, m := range o.TrainedModels() {
		if m.Role == study.FineTune {
			fts = append(fts, m)
		}
	}
	if len(fts) > 0 {
		sb.WriteString("\nThe suite's fine-tunes (from the base model of the same CosScale; validation at the training length, so a loss far above the base's means the method lost what the base model knew at n0, not that it extrapolates badly):\n\n| fine-tune | steps | best validation loss | at step | training time |\n|---|---:|---:|---:|---:|\n")
		for _, m := range fts {
			st, err := study.ReadState(filepath.Join(o.Dir(m.Model), "last"))
			if err != nil || st.BestValLoss == nil {
				continue
			}
			fmt.Fprintf(&sb, "| %s | %d | %.4f | %d | %s |\n", m.Name(), st.Step, *st.BestValLoss, st.BestStep, dur(st.Elapsed))
		}
	}
	if md, err := os.ReadFile(filepath.Join(o.ModelDir("base-cos0"), "results.md")); err == nil {
		sb.WriteString("\nThe plain model's extrapolation (the table `go run ./cmd/train` ends with):\n\n")
		sb.Write(md)
	}
	return sb.String()
}

func describeProfile(p study.Profile) string {
	size := "the default small model (3 layers, hidden 128, intermediate 256, key size 64), trained from scratch at n0 = 64"
	if p.Config == "paper" {
		size = "the paper's size (6 layers, hidden 768, intermediate 1536, key size 128, vocabulary up to 12000), trained from scratch at n0 = 64"
	}
	proto := fmt.Sprintf("%s protocol", p.Protocol)
	if p.Protocol == "fast" {
		proto = fmt.Sprintf("fast protocol (every 32nd token masked per pass, %d passes per document at long lengths, at least 128 positions per document)", p.Offsets)
	}
	dev := p.Device
	if p.Precision == "bf16" {
		dev += " (bfloat16 inputs to the matrix products, float32 accumulation)"
	}
	return fmt.Sprintf("%s; plain model %d steps, CosScale sweep %v at %d steps each, batch %d; fine-tunes %d steps; %s, %d test documents; device %s",
		size, p.BaseSteps, p.Sweep, p.SweepSteps, p.Batch, p.FineTune, proto, p.Docs, dev)
}

const protocolNotes = `- The paper fine-tunes the first 6 layers of the pre-trained 24-layer GAU-α (Chinese, 12000 characters) on WanJuan patents; neither is available here, so the models are trained from scratch on the embedded corpus. The methods, normalisations and evaluation are the paper's (docs/methods.md lists every formula and where this project departs from the authors' released code).
- The sweep models are trained for fewer steps than the plain model to keep the CPU profile under two hours; the suite's CosScale base (base-cosbest) is trained as long as the plain model, at the CosScale whose sweep model had the lowest validation loss.
- Accuracy is the argmax over the whole vocabulary at the masked position; loss is the mean cross-entropy there; every number of the suite comes from the same test documents.
- Every table and figure above is regenerated by the command in the parts table; REPORT.md itself by ` + "`bin/reproduce -report-only`" + `.
`

func exists(o study.Study, rel string) bool {
	_, err := os.Stat(filepath.Join(o.Out, rel))
	return err == nil
}

// trainingCurves is the section of the training curves' figures (the
// paper's figures 2 and 3), those of them that exist.
func trainingCurves(o study.Study) string {
	var sb strings.Builder
	sb.WriteString("## Training curves (the paper's figures 2 and 3)\n\n")
	if exists(o, "analysis/fig2_trainloss.png") {
		sb.WriteString("![training loss of the base model with and without CosScale](analysis/fig2_trainloss.png)\n\n")
	}
	if exists(o, "analysis/fig3_finetune.png") {
		sb.WriteString("Fine-tunes run at their own training length, where InfoScale's factor is 1: a fine-tune with InfoScale is the fine-tune with softmax.\n\n![fine-tuning loss of every fine-tuned baseline](analysis/fig3_finetune.png)\n\n")
	}
	return sb.String()
}
