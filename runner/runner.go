// Package runner runs the parts of the study (study.Study.Parts) with the
// project's command-line tools, one process each or under a launcher
// (mpirun, srun), so that every step is a command a user can run by hand.
// Each finished part is recorded in logs/parts.json with a fingerprint of
// the tool's binary, its arguments and the weights it read: a part whose
// fingerprint is unchanged and whose output is there does not run again,
// and weights missing from a committed run are made again when a part
// that reads them runs. The placeholders of a part's arguments (the
// sweep's best CosScale, the configurations the rules choose on the
// development documents, the matched checkpoints) are filled in from the
// outputs of the parts before it and the rules of package verdict.
package runner

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/study"
	"github.com/infoscale/gaualpha/verdict"
)

// Tools are the commands the parts run, each a binary in Options.Bin.
func Tools() []string { return []string{"train", "suite", "analyze"} }

// Launched are the tools a launcher starts on several processes: those
// that share their work among them (built with -tags mpi).
func Launched() []string { return []string{"train", "suite"} }

// Options are how a Runner runs the tools.
type Options struct {
	// Bin is the folder holding the tools (Tools).
	Bin string
	// Launch is the launcher and its arguments put before a launched tool
	// (empty: none), e.g. mpirun -np 4.
	Launch []string
	// Log receives a line per part: its name, its command, its time.
	Log io.Writer
}

// options are the study and the Options of a Runner.
type options struct {
	study.Study
	Options
}

// Runner runs the parts of a study, recording each finished one in
// logs/parts.json with the fingerprint of the code and options that made
// its outputs.
type Runner struct {
	o     options
	parts []study.Part
	index map[string]int
	recs  study.Records
	tools map[string]string // tool → digest of its binary
	host  study.Host
	// ran counts the parts that ran in this call, by name.
	ran map[string]int
}

// resolved is a part with its placeholders filled in and its fingerprint.
type resolved struct {
	study.Part
	fingerprint string
}

// New returns the runner of a study's parts, with the records of the
// parts already finished (logs/parts.json) and the digests of the tools
// in o.Bin. A folder holding a study of another profile or rules version
// is refused.
func New(s study.Study, opts Options) (*Runner, error) {
	o := options{Study: s, Options: opts}
	r := &Runner{o: o, parts: o.Parts(), index: map[string]int{}, tools: map[string]string{}, host: study.CurrentHost(), ran: map[string]int{}}
	for i, pt := range r.parts {
		r.index[pt.Name] = i
	}
	recs, ok, err := study.ReadRecords(o.Out)
	if err != nil {
		return nil, err
	}
	if !ok {
		if _, err := os.Stat(filepath.Join(o.Out, "suite", "suite.json")); err == nil && o.Profile.Rules >= 3 {
			return nil, fmt.Errorf("%s holds a study run before rules version %d (suite/suite.json, no logs/parts.json): move it away, or pass another -out", o.Out, o.Profile.Rules)
		}
		recs = study.Records{Profile: o.Profile.Name, Rules: o.Profile.Rules, Parts: map[string]study.PartRecord{}}
	}
	if recs.Profile != o.Profile.Name || recs.Rules != o.Profile.Rules {
		return nil, fmt.Errorf("%s records a study of the %s profile under rules version %d, not %s under %d: pass another -out", study.RecordsFile(o.Out), recs.Profile, recs.Rules, o.Profile.Name, o.Profile.Rules)
	}
	r.recs = recs
	for _, tool := range Tools() {
		path := filepath.Join(o.Bin, tool)
		d, err := study.FileDigest(o.Bin, path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r.tools[tool] = d
	}
	return r, nil
}

// Run runs every part whose outputs are missing or were made by other code
// or options, in order. A finished part whose weights are missing (they are
// not committed) runs again only when a part that needs them runs; if its
// weights then differ from the recorded ones, every part is looked at
// again, so that the parts made from the old weights run again too.
func (r *Runner) Run(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(r.o.Out, "logs"), 0o755); err != nil {
		return err
	}
	if r.o.Profile.Config == "paper" {
		if err := writePaperConfig(filepath.Join(r.o.Out, "models", "config.json")); err != nil {
			return err
		}
	}
	for pass := 0; ; pass++ {
		if pass > len(r.parts) {
			return fmt.Errorf("the parts' weights keep changing when made again (training is not reproducible on this machine)")
		}
		restart, err := r.pass(ctx)
		if err != nil || !restart {
			return err
		}
		fmt.Fprintf(r.o.Log, "weights made again differ from the recorded ones: looking at every part again\n")
	}
}

// pass runs the parts once in order; restart is set when a part's weights
// were made again and differ from the record.
func (r *Runner) pass(ctx context.Context) (restart bool, err error) {
	for i := range r.parts {
		rp, done, err := r.finished(i)
		if err != nil {
			return false, fmt.Errorf("part %d (%s): %w", i+1, r.parts[i].Name, err)
		}
		if done {
			if r.ran[rp.Name] == 0 {
				fmt.Fprintf(r.o.Log, "[%d] done already: %s\n", i+1, rp.Name)
			}
			continue
		}
		// The weights this part reads, made again where missing.
		for _, dep := range rp.Needs {
			changed, err := r.ensureWeights(ctx, r.index[dep])
			if err != nil {
				return false, err
			}
			if changed {
				return true, nil
			}
		}
		if err := r.execute(ctx, i, rp); err != nil {
			return false, err
		}
	}
	return false, nil
}

// finished resolves part i and reports whether its record says it ran
// with the same fingerprint and its output is there.
func (r *Runner) finished(i int) (resolved, bool, error) {
	rp, err := r.resolve(r.parts[i])
	if err != nil {
		return resolved{}, false, err
	}
	rec, ok := r.recs.Parts[rp.Name]
	if !ok || rec.Fingerprint != rp.fingerprint {
		return rp, false, nil
	}
	_, err = os.Stat(rp.Done)
	return rp, err == nil, nil
}

// ensureWeights makes part i's weights again when they are missing (its
// own needs first); changed reports a digest other than the recorded one.
func (r *Runner) ensureWeights(ctx context.Context, i int) (changed bool, err error) {
	pt := r.parts[i]
	rp, err := r.resolve(pt)
	if err != nil {
		return false, fmt.Errorf("part %d (%s): %w", i+1, pt.Name, err)
	}
	if weightsPresent(rp.Weights) {
		return false, nil
	}
	for _, dep := range pt.Needs {
		if changed, err := r.ensureWeights(ctx, r.index[dep]); err != nil || changed {
			return changed, err
		}
	}
	old := r.recs.Parts[pt.Name].Digest
	fmt.Fprintf(r.o.Log, "[%d] weights missing, made again: %s\n", i+1, pt.Name)
	if err := r.execute(ctx, i, rp); err != nil {
		return false, err
	}
	return old != "" && r.recs.Parts[pt.Name].Digest != old, nil
}

// execute runs a resolved part and records it.
func (r *Runner) execute(ctx context.Context, i int, rp resolved) error {
	command := r.command(rp)
	name, args := filepath.Join(r.o.Bin, rp.Tool), rp.Args
	if r.launched(rp.Tool) {
		name, args = r.o.Launch[0], append(append(slices.Clip(r.o.Launch[1:]), name), args...)
	}
	fmt.Fprintf(r.o.Log, "[%d] %s\n    %s\n", i+1, rp.Name, command)
	logPath := filepath.Join(r.o.Out, "logs", fmt.Sprintf("%02d-%s.log", i+1, rp.Tool))
	lf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	err = cmd.Run()
	lf.Close()
	if err != nil {
		return fmt.Errorf("part %d (%s) failed: %v: %s (log: %s)", i+1, rp.Name, err, lastLine(logPath), logPath)
	}
	secs := time.Since(start).Seconds()
	digest, err := weightsDigest(r.o.Out, rp.Weights)
	if err != nil {
		return fmt.Errorf("part %d (%s): %w", i+1, rp.Name, err)
	}
	r.recs.Parts[rp.Name] = study.PartRecord{Command: command, Fingerprint: rp.fingerprint, Digest: digest, Seconds: secs,
		Finished: time.Now().UTC().Format(time.RFC3339), Host: r.host}
	r.ran[rp.Name]++
	if err := study.WriteRecords(r.o.Out, r.recs); err != nil {
		return err
	}
	fmt.Fprintf(r.o.Log, "    %s\n", time.Duration(secs*float64(time.Second)).Round(time.Second))
	return nil
}

// launched reports whether -launch starts the tool on several processes.
func (r *Runner) launched(tool string) bool {
	return len(r.o.Launch) > 0 && slices.Contains(Launched(), tool)
}

// command is the part's command line, with the launcher before it when
// -launch starts it.
func (r *Runner) command(rp resolved) string {
	if r.launched(rp.Tool) {
		return strings.Join(r.o.Launch, " ") + " " + rp.Command()
	}
	return rp.Command()
}

// weightsPresent reports whether every weight file is there (a path with
// * matching at least one file).
func weightsPresent(paths []string) bool {
	for _, p := range paths {
		if strings.Contains(p, "*") {
			if m, _ := filepath.Glob(p); len(m) == 0 {
				return false
			}
		} else if _, err := os.Stat(p); err != nil {
			return false
		}
	}
	return true
}

// weightsDigest is the digest of the weight files without a *.
func weightsDigest(out string, paths []string) (string, error) {
	var files []string
	for _, p := range paths {
		if !strings.Contains(p, "*") {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return "", nil
	}
	return study.FileDigest(out, files...)
}

// resolve fills in a part's placeholders and computes its fingerprint from
// its tool, its arguments and the records of the parts it reads.
func (r *Runner) resolve(pt study.Part) (resolved, error) {
	rp := resolved{Part: pt}
	rp.Args = slices.Clone(pt.Args)
	rp.Weights = slices.Clone(pt.Weights)
	var deps []study.Dep
	for _, name := range append(slices.Clone(pt.Needs), pt.Reads...) {
		rec, ok := r.recs.Parts[name]
		if !ok {
			return rp, fmt.Errorf("it reads the outputs of %q, which has not run", name)
		}
		deps = append(deps, study.Dep{Name: name, Fingerprint: rec.Fingerprint, Digest: rec.Digest})
	}
	fill := func(s string) (string, error) {
		for _, ph := range []struct {
			arg string
			val func() (string, error)
		}{
			{study.BestSweepScaleArg, r.bestScale},
			{study.AlibiSlopeArg, r.alibiSlope},
			{study.TestConfigsArg, r.testConfigs},
			{study.Claim2ConfigsArg, r.claim2Configs},
			{study.MatchedConfigsArg, r.matchedConfigs},
		} {
			if strings.Contains(s, ph.arg) {
				v, err := ph.val()
				if err != nil {
					return "", err
				}
				s = strings.ReplaceAll(s, ph.arg, v)
			}
		}
		if seed, ok := study.ParseMatchedBasesArg(s); ok {
			return r.matchedBases(seed)
		}
		return s, nil
	}
	var err error
	for j := range rp.Args {
		if rp.Args[j], err = fill(rp.Args[j]); err != nil {
			return rp, err
		}
	}
	for j := range rp.Weights {
		if rp.Weights[j], err = fill(rp.Weights[j]); err != nil {
			return rp, err
		}
	}
	if rp.Done, err = fill(rp.Done); err != nil {
		return rp, err
	}
	// The launcher is an option of the outputs too (data-parallel
	// training sums its gradients in another order).
	fpArgs := rp.Args
	if r.launched(pt.Tool) {
		fpArgs = append(append([]string{"launch:"}, r.o.Launch...), rp.Args...)
	}
	rp.fingerprint = study.Fingerprint(r.tools[pt.Tool], fpArgs, deps)
	return rp, nil
}

// bestScale is the sweep's CosScale of lowest validation loss.
func (r *Runner) bestScale() (string, error) {
	best, err := r.o.BestSweepScale()
	if err != nil {
		return "", err
	}
	return strconv.FormatFloat(best, 'g', -1, 64), nil
}

// alibiSlope is the slope of the grid whose fine-tune of the first seed's
// plain model has the lowest validation loss (the smaller slope of equal
// ones).
func (r *Runner) alibiSlope() (string, error) {
	best, bestLoss := math.NaN(), math.Inf(1)
	for i, m := range r.o.Profile.AlibiSlopes {
		dir := filepath.Join(r.o.AlibiGridDir(i), "cos0", "ft-alibi")
		loss, ok := study.BestValLoss(dir)
		if !ok {
			return "", fmt.Errorf("the ALiBi fine-tune with slope %g (%s) has no validation loss", m, dir)
		}
		if loss < bestLoss || loss == bestLoss && m < best {
			best, bestLoss = m, loss
		}
	}
	if math.IsNaN(best) {
		return "", fmt.Errorf("the profile has no ALiBi slope grid")
	}
	return strconv.FormatFloat(best, 'g', -1, 64), nil
}

// selection reads the development evaluation and the models that trained.
func (r *Runner) selection() (dev []study.SuiteRow, usable func(study.ConfigKey) bool, best float64, err error) {
	s, err := study.ReadSuite(filepath.Join(r.o.DevDir(), "suite.json"))
	if err != nil {
		return nil, nil, 0, err
	}
	rules, err := verdict.Version(r.o.Profile.Rules)
	if err != nil {
		return nil, nil, 0, err
	}
	ex := rules.Exclude(r.o.TrainedModels())
	if best, err = r.o.BestSweepScale(); err != nil {
		return nil, nil, 0, err
	}
	return s.Rows, verdict.Usable(ex, r.o.Profile.Seeds, r.o.Profile.Headline), best, nil
}

// testConfigs are the test evaluation's configurations.
func (r *Runner) testConfigs() (string, error) {
	dev, usable, best, err := r.selection()
	if err != nil {
		return "", err
	}
	rules, _ := verdict.Version(r.o.Profile.Rules)
	keys, err := rules.TestConfigs(dev, usable, r.o.Profile.Headline, best)
	if err != nil {
		return "", err
	}
	return joinKeys(keys), nil
}

// claim2Configs are ours on the headline and the best base and the chosen
// comparators.
func (r *Runner) claim2Configs() (string, error) {
	dev, usable, best, err := r.selection()
	if err != nil {
		return "", err
	}
	keys := []study.ConfigKey{verdict.OursKey(r.o.Profile.Headline)}
	if best != r.o.Profile.Headline {
		keys = append(keys, verdict.OursKey(best))
	}
	for _, s := range verdict.SelectComparators(dev, usable) {
		keys = append(keys, s.Key)
	}
	return joinKeys(keys), nil
}

// matchedConfigs are the chosen comparators that need no fine-tuning on
// the plain and the best base, and RoPE + softmax on the plain base.
func (r *Runner) matchedConfigs() (string, error) {
	dev, usable, _, err := r.selection()
	if err != nil {
		return "", err
	}
	keys := []study.ConfigKey{{CosScale: 0, Method: "rope", Norm: "softmax"}}
	for _, s := range verdict.SelectComparators(dev, usable) {
		if !s.Key.FineTune && s.Key.CosScale != r.o.Profile.Headline && !slices.Contains(keys, s.Key) {
			keys = append(keys, s.Key)
		}
	}
	return joinKeys(keys), nil
}

func joinKeys(keys []study.ConfigKey) string {
	var s []string
	for _, k := range keys {
		s = append(s, k.String())
	}
	return strings.Join(s, ",")
}

// matchedBases are a seed's checkpoints of the plain and the best base at
// the validation whose loss is closest to the headline base's best.
func (r *Runner) matchedBases(seed int) (string, error) {
	hl := r.o.Dir(study.Model{Role: study.HeadlineBase, CosScale: r.o.Profile.Headline, Seed: seed})
	target, ok := study.BestValLoss(hl)
	if !ok {
		return "", fmt.Errorf("%s has no validation loss", hl)
	}
	var out []string
	for _, role := range []study.Role{study.Plain, study.BestBase} {
		dir := r.o.Dir(study.Model{Role: role, Seed: seed})
		step, _, err := study.MatchedStep(dir, target)
		if err != nil {
			return "", err
		}
		out = append(out, study.ValCheckpoint(dir, step))
	}
	return strings.Join(out, ","), nil
}

// lastLine returns the last non-empty line of a log (the failing tool's
// one-line error), or "" if there is none.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// writePaperConfig writes the paper-size model configuration (its vocabulary
// size is a cap; the vocabulary comes from the corpus).
func writePaperConfig(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := gau.PaperConfig().Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
