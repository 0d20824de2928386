package study

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/infoscale/gaualpha/gau"
)

// Placeholders of a part's arguments, known only when the parts before it
// have run; package runner resolves them.
const (
	// AlibiSlopeArg is the ALiBi slope of the grid whose fine-tune of the
	// first seed's plain model has the lowest validation loss.
	AlibiSlopeArg = "{alibi-slope}"
	// TestConfigsArg are the configurations of the test evaluation
	// (verdict.Rules.TestConfigs: ours, the comparators chosen on the
	// development documents, the cells of claim 6).
	TestConfigsArg = "{test-configs}"
	// Claim2ConfigsArg are ours (on the headline and the best base) and
	// the comparators chosen on the development documents.
	Claim2ConfigsArg = "{claim2-configs}"
	// MatchedConfigsArg are the comparators chosen on the development
	// documents that need no fine-tuning and run on the plain or the best
	// CosScale base: those evaluated again at matched validation loss.
	MatchedConfigsArg = "{matched-configs}"
)

// MatchedBasesArg is the placeholder of a seed's matched checkpoints: the
// checkpoint of the plain and of the best CosScale base model, among those
// kept at each validation, whose validation loss is closest to the best of
// the headline base of the same seed.
func MatchedBasesArg(seed int) string { return fmt.Sprintf("{matched-bases:%d}", seed) }

// ParseMatchedBasesArg returns the seed of a MatchedBasesArg.
func ParseMatchedBasesArg(s string) (seed int, ok bool) {
	body, ok := strings.CutPrefix(s, "{matched-bases:")
	if !ok {
		return 0, false
	}
	body, ok = strings.CutSuffix(body, "}")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(body)
	return n, err == nil
}

// AlibiGridDir is the folder of the ALiBi fine-tune of slope index i of
// the grid.
func (o Study) AlibiGridDir(i int) string {
	return filepath.Join(o.Out, "alibi", fmt.Sprintf("m%d", i))
}

// DevDir is the folder of the development evaluation.
func (o Study) DevDir() string { return filepath.Join(o.Out, "dev") }

// TestDir is the folder of a seed's fine-tunes and test evaluation.
func (o Study) TestDir(seed int) string { return filepath.Join(o.SeedDir(seed), "suite") }

// MatchedDir is the folder of a seed's evaluation at matched validation
// loss.
func (o Study) MatchedDir(seed int) string { return filepath.Join(o.SeedDir(seed), "matched") }

// EntropyDir is the folder of a seed's entropy analysis.
func (o Study) EntropyDir(seed int) string {
	return filepath.Join(o.Out, "analysis", "seeds", SeedName(seed))
}

// Part names of the study of rules version 3 that other parts refer to.
func trainPartName(m Model, p Profile) string {
	switch m.Role {
	case Sweep:
		name := fmt.Sprintf("train the CosScale %g model", m.CosScale)
		if lr, ok := p.SweepLR[m.CosScale]; ok {
			name += fmt.Sprintf(" (peak lr %g)", lr)
		}
		return name
	case Plain:
		return fmt.Sprintf("seed %d: train the plain model (RoPE, softmax, CosScale off)", m.Seed)
	case BestBase:
		return fmt.Sprintf("seed %d: train the CosScale base model (the sweep's best CosScale)", m.Seed)
	}
	return fmt.Sprintf("seed %d: train the headline CosScale base model (CosScale %g)", m.Seed, m.CosScale)
}

func alibiPartName(m float64) string {
	return fmt.Sprintf("ALiBi slope grid: fine-tune the first seed's plain model with slope %g", m)
}

func fineTunePartName(seed int) string {
	return fmt.Sprintf("seed %d: fine-tune PI at 4·n0, PoSE and ALiBi from each base model", seed)
}

// TrainLength is the training length n0 of the profile's models: the
// config's (a file, or the paper's) or the default model's.
func (o Study) TrainLength() int {
	switch o.Profile.Config {
	case "":
		return gau.DefaultConfig().TrainLength
	case "paper":
		return gau.PaperConfig().TrainLength
	}
	if cfg, err := gau.OpenConfig(o.Profile.Config); err == nil && cfg.TrainLength > 0 {
		return cfg.TrainLength
	}
	return gau.DefaultConfig().TrainLength
}

// lengths are factors times n0, comma-separated.
func (o Study) lengths(factors []int) string {
	n0 := o.TrainLength()
	var s []string
	for _, f := range factors {
		s = append(s, fmt.Sprint(f*n0))
	}
	return strings.Join(s, ",")
}

// partsV3 lists the parts of the study of rules version 3: the CosScale
// sweep (one seed), the base models of every seed, the ALiBi slope grid,
// the fine-tunes of every seed, the development evaluation that chooses
// each method's configuration, the test evaluation of every seed with the
// passkey probe, the evaluation at matched validation loss, the protocol
// calibration and the analyses.
func (o Study) partsV3() []Part {
	p := o.Profile
	dev := []string{"-device", p.Device}
	var prec []string
	if p.Precision == "bf16" {
		prec = []string{"-precision", "bf16"}
	}
	var cfgArgs []string
	switch p.Config {
	case "":
	case "paper":
		cfgArgs = []string{"-config", filepath.Join(o.Out, "models", "config.json")}
	default:
		cfgArgs = []string{"-config", p.Config}
	}
	passkey := []string{}
	if p.PasskeyEvery > 0 {
		passkey = []string{"-passkey-every", fmt.Sprint(p.PasskeyEvery)}
	}
	trainCommon := func(seed int) []string {
		args := []string{"-corpus", o.Corpus, "-seed", fmt.Sprint(seed), "-batch", fmt.Sprint(p.Batch)}
		args = append(args, dev...)
		args = append(args, "-quiet", "-overwrite")
		args = append(args, passkey...)
		args = append(args, prec...)
		return append(args, cfgArgs...)
	}
	// warm gives a training of steps its passkey warm-up.
	warm := func(steps int) []string {
		if p.PasskeyEvery == 0 || p.PasskeyWarmup == 0 {
			return nil
		}
		return []string{"-passkey-first", fmt.Sprint(int(p.PasskeyWarmup * float64(steps)))}
	}
	trainPart := func(m Model, args []string, keep bool) Part {
		dir := o.Dir(m)
		pt := Part{Name: trainPartName(m, p), Tool: "train", Args: append([]string{"-out", dir}, args...),
			Done:    filepath.Join(dir, "last", "trainer_state.json"),
			Weights: []string{filepath.Join(dir, "best", "model.safetensors")}}
		if keep {
			pt.Args = append(pt.Args, "-keep-validations")
			pt.Weights = append(pt.Weights, filepath.Join(dir, "val", "*", "model.safetensors"))
		}
		return pt
	}
	longest := fmt.Sprint(64 * o.TrainLength())
	if n := len(p.LengthFactors); n > 0 {
		longest = fmt.Sprint(p.LengthFactors[n-1] * o.TrainLength())
	}
	var parts []Part
	// The CosScale sweep, once, with the profile's seed.
	var sweepNames, sweepDirs []string
	for _, s := range p.Sweep {
		m := Model{Role: Sweep, CosScale: s}
		args := append([]string{"-cosscale", fmt.Sprint(s), "-steps", fmt.Sprint(p.SweepSteps), "-no-eval"}, warm(p.SweepSteps)...)
		if lr, ok := p.SweepLR[s]; ok {
			args = append(args, "-lr", fmt.Sprint(lr))
		}
		pt := trainPart(m, append(args, trainCommon(p.Seed)...), false)
		parts = append(parts, pt)
		sweepNames, sweepDirs = append(sweepNames, pt.Name), append(sweepDirs, o.Dir(m)+"/best")
	}
	// The base models of every seed.
	first := p.Seeds[0]
	bases := map[int][]string{} // seed → checkpoints: plain, best, headline
	baseParts := map[int][]string{}
	for _, seed := range p.Seeds {
		plain := Model{Role: Plain, Seed: seed}
		args := append([]string{"-steps", fmt.Sprint(p.BaseSteps)}, warm(p.BaseSteps)...)
		if seed == first {
			args = append(args, "-protocol", p.Protocol, "-eval-docs", fmt.Sprint(p.Docs))
		} else {
			args = append(args, "-no-eval")
		}
		pt := trainPart(plain, append(args, trainCommon(seed)...), true)
		if seed == first {
			pt.Done = filepath.Join(o.Dir(plain), "results.json")
		}
		parts = append(parts, pt)
		best := Model{Role: BestBase, Seed: seed}
		bp := trainPart(best, append(append([]string{"-cosscale", BestSweepScaleArg, "-steps", fmt.Sprint(p.BaseSteps), "-no-eval"}, warm(p.BaseSteps)...), trainCommon(seed)...), true)
		bp.Reads = sweepNames
		hl := Model{Role: HeadlineBase, CosScale: p.Headline, Seed: seed}
		hp := trainPart(hl, append(append([]string{"-cosscale", fmt.Sprint(p.Headline), "-steps", fmt.Sprint(p.BaseSteps), "-no-eval"}, warm(p.BaseSteps)...), trainCommon(seed)...), false)
		parts = append(parts, bp, hp)
		bases[seed] = []string{o.Dir(plain) + "/best", o.Dir(best) + "/best", o.Dir(hl) + "/best"}
		baseParts[seed] = []string{pt.Name, bp.Name, hp.Name}
	}
	suiteCommon := func(seed int) []string {
		args := []string{"-corpus", o.Corpus, "-seed", fmt.Sprint(seed), "-batch", fmt.Sprint(p.Batch),
			"-finetune-steps", fmt.Sprint(p.FineTune), "-docs", fmt.Sprint(p.Docs)}
		args = append(args, dev...)
		args = append(args, "-quiet")
		args = append(args, passkey...)
		return append(args, prec...)
	}
	// The ALiBi slope grid on the first seed's plain model.
	var gridNames []string
	for i, m := range p.AlibiSlopes {
		dir := o.AlibiGridDir(i)
		ft := filepath.Join(dir, "cos0", "ft-alibi")
		pt := Part{Name: alibiPartName(m), Tool: "suite",
			Args: append([]string{"-base", bases[first][0], "-out", dir, "-methods", "alibi", "-finetune-only", "-alibi-slope", fmt.Sprint(m)}, suiteCommon(first)...),
			Done: filepath.Join(ft, "last", "trainer_state.json"), Weights: []string{filepath.Join(ft, "best", "model.safetensors")},
			Needs: []string{baseParts[first][0]}}
		parts = append(parts, pt)
		gridNames = append(gridNames, pt.Name)
	}
	// The fine-tunes of every seed.
	ftParts := map[int]string{}
	for _, seed := range p.Seeds {
		dir := o.TestDir(seed)
		var weights []string
		for _, b := range []string{"cos0", "cos" + BestSweepScaleArg, CosName(p.Headline)} {
			for _, m := range []string{"pi", "pose", "alibi"} {
				weights = append(weights, filepath.Join(dir, b, "ft-"+m, "best", "model.safetensors"))
			}
		}
		pt := Part{Name: fineTunePartName(seed), Tool: "suite",
			Args: append([]string{"-base", strings.Join(bases[seed], ","), "-out", dir, "-methods", "pi-ft,pose,alibi", "-finetune-only", "-alibi-slope", AlibiSlopeArg}, suiteCommon(seed)...),
			Done: filepath.Join(dir, CosName(p.Headline), "ft-alibi", "last", "trainer_state.json"), Weights: weights,
			Needs: baseParts[seed], Reads: gridNames}
		parts = append(parts, pt)
		ftParts[seed] = pt.Name
	}
	evalArgs := func(offsets int) []string {
		args := []string{"-protocol", p.Protocol}
		if p.Protocol == "fast" {
			args = append(args, "-offsets", fmt.Sprint(offsets))
		}
		return args
	}
	// The development evaluation: every method × normalisation at the
	// longest length, the first seed's models, the development documents.
	devPart := Part{Name: "development evaluation: every method × normalisation at 64x on the development documents (chooses each method's configuration)", Tool: "suite",
		Args: append(append([]string{"-base", strings.Join(bases[first], ","), "-finetunes", o.TestDir(first), "-out", o.DevDir(), "-docset", "dev",
			"-lengths", longest, "-alibi-slope", AlibiSlopeArg}, suiteCommon(first)...), evalArgs(p.DevOffsets)...),
		Done:  filepath.Join(o.DevDir(), "suite.json"),
		Needs: append(append([]string{}, baseParts[first]...), ftParts[first]), Reads: gridNames}
	parts = append(parts, devPart)
	// The test evaluation of every seed, with the passkey probe.
	var testNames []string
	for _, seed := range p.Seeds {
		args := []string{"-base", strings.Join(bases[seed], ","), "-finetunes", o.TestDir(seed), "-out", o.TestDir(seed), "-configs", TestConfigsArg,
			"-lengths", o.lengths(p.LengthFactors), "-alibi-slope", AlibiSlopeArg}
		if len(p.PasskeyFactors) > 0 {
			args = append(args, "-passkey-lengths", o.lengths(p.PasskeyFactors), "-passkey-near", fmt.Sprint(p.PasskeyNear), "-passkey-far", fmt.Sprint(p.PasskeyFar))
		}
		pt := Part{Name: fmt.Sprintf("seed %d: test evaluation of ours, the chosen comparators and claim 6's temperatures, with the passkey probe", seed), Tool: "suite",
			Args:  append(append(args, suiteCommon(seed)...), evalArgs(p.Offsets)...),
			Done:  filepath.Join(o.TestDir(seed), "suite.json"),
			Needs: append(append([]string{}, baseParts[seed]...), ftParts[seed]), Reads: append([]string{devPart.Name}, gridNames...)}
		parts = append(parts, pt)
		testNames = append(testNames, pt.Name)
	}
	// At matched validation loss: the training-free comparators on the
	// plain and the best base, at their checkpoint closest in validation
	// loss to the headline base's best.
	for _, seed := range p.Seeds {
		pt := Part{Name: fmt.Sprintf("seed %d: the comparators without fine-tuning at matched validation loss", seed), Tool: "suite",
			Args: append(append([]string{"-base", MatchedBasesArg(seed), "-out", o.MatchedDir(seed), "-configs", MatchedConfigsArg, "-lengths", o.lengths(p.LengthFactors)},
				suiteCommon(seed)...), evalArgs(p.Offsets)...),
			Done:  filepath.Join(o.MatchedDir(seed), "suite.json"),
			Needs: baseParts[seed], Reads: []string{devPart.Name}}
		parts = append(parts, pt)
	}
	// The fast protocol against the paper protocol, on the development
	// documents (no test document is used for anything but the test).
	// At these lengths (128, 256, 512) the paper protocol's evenly spaced
	// positions are the fast protocol's.
	if p.Calibrate != "" && p.Protocol == "fast" {
		for _, proto := range []string{"fast", "paper"} {
			dir := filepath.Join(o.Out, "calibration", proto)
			args := []string{"-base", strings.Join(bases[first], ","), "-out", dir, "-corpus", o.Corpus, "-methods", "rope,ntk,yarn,rerope,window",
				"-norm", "softmax,infoscale", "-lengths", p.Calibrate, "-docs", fmt.Sprint(p.Docs), "-docset", "dev", "-doc-length", longest,
				"-seed", fmt.Sprint(first)}
			args = append(append(args, dev...), "-quiet", "-protocol", proto)
			if proto == "fast" {
				args = append(args, "-offsets", fmt.Sprint(p.Offsets))
			} else {
				args = append(args, "-positions", fmt.Sprint(p.CalibratePositions))
			}
			pt := Part{Name: fmt.Sprintf("protocol calibration: the %s protocol at %s", proto, p.Calibrate), Tool: "suite",
				Args: append(args, prec...), Done: filepath.Join(dir, "suite.json"), Needs: baseParts[first]}
			parts = append(parts, pt)
		}
	}
	// The analyses.
	an := filepath.Join(o.Out, "analysis")
	var anDev []string
	if p.Device != "" && p.Device != "cpu" {
		anDev = append([]string{"-device", p.Device}, prec...)
	}
	plain := o.Dir(Model{Role: Plain, Seed: first})
	headline := o.Dir(Model{Role: HeadlineBase, CosScale: p.Headline, Seed: first})
	var fts []string
	for _, b := range []string{"cos0", CosName(p.Headline)} {
		for _, m := range []string{"pi", "pose", "alibi"} {
			fts = append(fts, fmt.Sprintf("%s:%s=%s", m, b, filepath.Join(o.TestDir(first), b, "ft-"+m)))
		}
	}
	parts = append(parts,
		Part{Name: "training loss of the base model with and without CosScale (figure 2)", Tool: "analyze",
			Args: []string{"trainloss", "-runs", fmt.Sprintf("no CosScale=%s,CosScale %g=%s", plain, p.Headline, headline),
				"-name", "fig2_trainloss", "-title", "Base model training loss", "-out", an, "-quiet"},
			Done: filepath.Join(an, "fig2_trainloss.csv"), Reads: []string{baseParts[first][0], baseParts[first][2]}},
		Part{Name: "fine-tuning loss of every fine-tuned baseline with and without CosScale (figure 3)", Tool: "analyze",
			Args: []string{"trainloss", "-runs", strings.Join(fts, ","), "-name", "fig3_finetune", "-title", "Fine-tuning loss", "-out", an, "-quiet"},
			Done: filepath.Join(an, "fig3_finetune.csv"), Reads: []string{ftParts[first]}})
	for _, seed := range p.Seeds {
		pt := Part{Name: fmt.Sprintf("seed %d: attention entropy vs length of the plain model under each temperature", seed), Tool: "analyze",
			Args: append([]string{"entropy", "-ckpt", bases[seed][0], "-norm", p.EntropyNorms, "-docs", fmt.Sprint(p.EntropyDocs), "-corpus", o.Corpus,
				"-out", o.EntropyDir(seed), "-quiet"}, anDev...),
			Done: filepath.Join(o.EntropyDir(seed), "entropy_docs.csv"), Needs: []string{baseParts[seed][0]}}
		parts = append(parts, pt)
	}
	all := strings.Join(append([]string{plain + "/best"}, sweepDirs...), ",")
	sweepNeeds := append([]string{baseParts[first][0]}, sweepNames...)
	parts = append(parts,
		Part{Name: "peak η1* of the pre-RoPE cosine distribution vs CosScale", Tool: "analyze",
			Args: append([]string{"eta", "-ckpt", strings.Join(sweepDirs, ","), "-L", "1024", "-docs", fmt.Sprint(p.EntropyDocs), "-corpus", o.Corpus, "-out", an, "-quiet"}, anDev...),
			Done: filepath.Join(an, "eta_peak.csv"), Needs: sweepNames},
		Part{Name: "q·k heat maps before and after RoPE at L = 1024", Tool: "analyze",
			Args: append([]string{"heatmap", "-ckpt", strings.Join(sweepDirs, ","), "-L", "1024", "-corpus", o.Corpus, "-out", an, "-quiet"}, anDev...),
			Done: filepath.Join(an, "heatmap.png"), Needs: sweepNames},
		Part{Name: "attention mass within ±64 vs CosScale (windowed-attention approximation)", Tool: "analyze",
			Args: append([]string{"band", "-ckpt", all, "-L", "1024", "-w", "64", "-docs", fmt.Sprint(p.EntropyDocs), "-corpus", o.Corpus, "-out", an, "-quiet"}, anDev...),
			Done: filepath.Join(an, "band.csv"), Needs: sweepNeeds},
	)
	var passkeyFiles []string
	for _, seed := range p.Seeds {
		passkeyFiles = append(passkeyFiles, filepath.Join(o.TestDir(seed), Passkey.Name))
	}
	alibiDir := filepath.Join(an, "alibi")
	alibi := []string{filepath.Join(o.TestDir(first), "cos0", "ft-alibi", "best"), filepath.Join(o.TestDir(first), CosName(p.Headline), "ft-alibi", "best")}
	parts = append(parts,
		Part{Name: "attention mass within ±64 of the ALiBi fine-tunes", Tool: "analyze",
			Args: append([]string{"band", "-ckpt", strings.Join(alibi, ","), "-L", "1024", "-w", "64", "-docs", fmt.Sprint(p.EntropyDocs), "-corpus", o.Corpus, "-out", alibiDir, "-quiet"}, anDev...),
			Done: filepath.Join(alibiDir, "band.csv"), Needs: []string{ftParts[first]}},
		Part{Name: "attention entropy vs length of the ALiBi fine-tune of the plain model (softmax, InfoScale)", Tool: "analyze",
			Args: append([]string{"entropy", "-ckpt", alibi[0], "-norm", "softmax,infoscale", "-docs", fmt.Sprint(p.EntropyDocs), "-corpus", o.Corpus, "-out", alibiDir, "-quiet"}, anDev...),
			Done: filepath.Join(alibiDir, "entropy.csv"), Needs: []string{ftParts[first]}},
		Part{Name: "accuracy and loss vs length per configuration of the test evaluation (first seed)", Tool: "analyze",
			Args: []string{"curves", "-suite", filepath.Join(o.TestDir(first), "suite.json"), "-out", an, "-quiet"},
			Done: filepath.Join(an, "curves.csv"), Reads: testNames[:1]},
		Part{Name: "the passkey probe's digit accuracy vs length of ours and the chosen comparators (all seeds)", Tool: "analyze",
			Args: []string{"passkey", "-in", strings.Join(passkeyFiles, ","), "-configs", Claim2ConfigsArg, "-out", an, "-quiet"},
			Done: filepath.Join(an, "passkey.png"), Reads: append([]string{devPart.Name}, testNames...)},
		Part{Name: "spectral test-set selection (the paper's figure 1)", Tool: "analyze",
			Args: []string{"testset", "-corpus", o.Corpus, "-ckpt", plain + "/best", "-n", fmt.Sprint(p.Docs), "-out", an, "-quiet"},
			Done: filepath.Join(an, "testset.csv"), Needs: []string{baseParts[first][0]}},
	)
	return parts
}
