// Package baseline runs the paper's baseline comparison from base models
// trained at n0 with RoPE and softmax: it fine-tunes the methods that need
// it (PI at an extended length, PoSE, ALiBi), applies the training-free
// ones, evaluates every method × normalisation (or a chosen list of
// configurations) with the outcome of every scored position kept, and runs
// the passkey probe on them. The rows it returns are study.SuiteRow; the
// per-position scores are written as study.WriteScores files. Its errors
// name the flags of cmd/suite, whose settings Options holds.
package baseline

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/study"
)

// Method returns the suite's method of a name (attn.SuiteMethods): a
// fine-tuned one (PI at an extended length as pi-ft, PoSE, ALiBi) is
// trained from the base model first; the others apply at evaluation time
// (PI with scale L/n0 among them).
func Method(name string) (attn.SuiteMethod, bool) {
	for _, m := range attn.SuiteMethods() {
		if m.Name == name {
			return m, true
		}
	}
	return attn.SuiteMethod{}, false
}

// Options are the settings of a suite (cmd/suite's flags).
type Options struct {
	// Out is where the per-position scores go (Out/scores/, rank 0),
	// FineTunes the folder of the fine-tuned models (cosS/ft-METHOD):
	// reused when they match, trained there otherwise.
	Out, FineTunes string
	// Corpus is the corpus's name as the fine-tunes' checkpoints record it.
	Corpus string
	// Methods and Norms are the methods and normalisations compared (every
	// method × normalisation); Keys, when not nil, replaces them with
	// exactly these configurations, each on the base of its CosScale.
	Methods, Norms []string
	Keys           []study.ConfigKey
	// Lengths are the evaluation lengths (nil: 2x..64x n0); the test
	// documents are selected for DocLen (0: the longest length).
	Lengths []int
	DocLen  int
	// The evaluation: protocol, positions per document (paper), passes
	// per document (fast), the test-set rule, the held-out documents
	// (eval.SetTest or eval.SetDev) and the number of test documents.
	Protocol           eval.Protocol
	Positions, Offsets int
	TestSet, DocSet    string
	Docs               int
	// Seed seeds the fine-tunes and the document selection.
	Seed uint64
	// FineTuneOnly fine-tunes the methods that need it and evaluates
	// nothing.
	FineTuneOnly bool
	// The fine-tunes: steps, batch, peak learning rate, PI's extended
	// length (0: 4·n0), ALiBi's slope (0: the default) and the share of
	// passkey samples (one sequence in PasskeyEvery; 0: none).
	Steps, Batch int
	LR           float64
	PiLen        int
	AlibiSlope   float64
	PasskeyEvery int
	// PasskeyLengths, when not nil, runs the passkey probe at these
	// lengths on every evaluated configuration, with PasskeyNear keys per
	// document and length inside n0 and PasskeyFar beyond.
	PasskeyLengths          []int
	PasskeyNear, PasskeyFar int
	// Backend runs the fine-tunes and the evaluations; Comm is the group
	// of processes sharing them (rank 0 writes).
	Backend backend.Backend
	Comm    collective.Comm
	// Progress receives progress lines (nil: none), Log the notes that no
	// quiet flag silences.
	Progress, Log io.Writer
}

// Result is what a suite makes from one base model: a row per evaluated
// configuration, the evaluation's reports, the passkey probe's rows, and
// the ids of the documents evaluated.
type Result struct {
	Rows      []study.SuiteRow
	Reports   []*eval.Report
	Passkey   []study.PasskeyRow
	Documents []string
}

// FromBase fine-tunes and evaluates every method from one base model (or the
// configurations of o.Keys on its CosScale) on docs, and runs the passkey
// probe on them when asked.
func FromBase(ctx context.Context, base string, docs []corpus.Document, o Options) (Result, error) {
	var res Result
	ck, err := checkpoint.Load(base)
	if err != nil {
		return res, err
	}
	if ck.Config.Method != "rope" {
		return res, fmt.Errorf("base %s was trained with %s; the suite starts from RoPE models", base, ck.Config.Method)
	}
	lengths := eval.DefaultLengths(ck.Config.TrainLength)
	if o.Lengths != nil {
		lengths = o.Lengths
	}
	if err := CheckLengths(ck.Config, lengths, o.Lengths != nil); err != nil {
		return res, err
	}
	minLen := slices.Max(lengths)
	if o.DocLen > 0 {
		minLen = o.DocLen
	}
	tag := fmt.Sprintf("cos%g", ck.Config.CosScale)
	methods, norms := o.Methods, o.Norms
	if o.Keys != nil {
		methods, norms = nil, nil
		for _, k := range o.Keys {
			if k.CosScale == ck.Config.CosScale && !slices.Contains(methods, k.SuiteMethod()) {
				methods = append(methods, k.SuiteMethod())
			}
		}
	}
	var testDocs [][]int
	if !o.FineTuneOnly && len(methods) > 0 {
		if testDocs, res.Documents, err = eval.HeldOutDocuments(o.TestSet, o.DocSet, docs, ck.Vocab, o.Docs, minLen, o.Seed); err != nil {
			return res, err
		}
	}
	for _, m := range methods {
		m = strings.TrimSpace(m)
		sm, _ := Method(m)
		if o.FineTuneOnly && !sm.FineTuned {
			continue
		}
		model := ck
		if sm.FineTuned {
			dir := filepath.Join(o.FineTunes, tag, "ft-"+sm.Method.String())
			if model, err = fineTune(ctx, ck, m, docs, dir, minLen, o); err != nil {
				return res, fmt.Errorf("fine-tuning %s: %w", m, err)
			}
		}
		if o.FineTuneOnly {
			continue
		}
		cfg := model.Config
		cfg.Method = sm.Method.String()
		if !sm.FineTuned {
			cfg.TargetLength = 0 // training-free: scale L/n0 at each length
		}
		mNorms := norms
		if o.Keys != nil {
			mNorms = nil
			for _, k := range o.Keys {
				if k.CosScale == ck.Config.CosScale && k.SuiteMethod() == m {
					mNorms = append(mNorms, k.Norm)
				}
			}
		}
		variants, names, err := eval.NormVariants(cfg, mNorms)
		if err != nil {
			return res, err
		}
		if o.Keys != nil && len(variants) < len(mNorms) {
			return res, fmt.Errorf("-configs: a normalisation of %s on %s does not apply to it", m, tag)
		}
		// The scores of every position are kept for the paired statistics,
		// written per configuration under scores/.
		rep, err := eval.Evaluate(ctx, cfg, model.Params, model.Vocab, testDocs, variants,
			eval.Options{Lengths: lengths, Protocol: o.Protocol, Positions: o.Positions, Offsets: o.Offsets, Backend: o.Backend, KeepScores: true, Comm: o.Comm})
		if err != nil {
			return res, fmt.Errorf("evaluating %s: %w", m, err)
		}
		if o.PasskeyLengths != nil {
			pks, err := eval.Passkey(ctx, cfg, model.Params, model.Vocab, testDocs, variants, eval.PasskeyOptions{Lengths: o.PasskeyLengths, N0: ck.Config.TrainLength,
				Near: o.PasskeyNear, Far: o.PasskeyFar, Seed: o.Seed, Backend: o.Backend, Progress: o.Progress})
			if err != nil {
				return res, fmt.Errorf("passkey probe of %s: %w", m, err)
			}
			for _, p := range pks {
				i := slices.IndexFunc(variants, func(v eval.Variant) bool { return v.Name == p.Variant })
				res.Passkey = append(res.Passkey, study.PasskeyRow{CosScale: cfg.CosScale, Method: cfg.Method, FineTuned: sm.FineTuned, Norm: names[i],
					Length: p.Length, Class: p.Class, Doc: p.Doc, Keys: p.Score.Keys, KeysRight: p.Score.KeysRight, Digits: p.Score.Digits, DigitsRight: p.Score.DigitsRight})
			}
		}
		res.Reports = append(res.Reports, rep)
		for i, va := range variants {
			r := study.SuiteRow{Base: base, CosScale: cfg.CosScale, Method: cfg.Method, Norm: names[i], FineTune: sm.FineTuned,
				Scores: study.ScoresFile(tag, m, names[i])}
			var kept []eval.Result
			for _, L := range lengths {
				er, _ := rep.Get(va.Name, L)
				kept = append(kept, er)
				er.Scores = nil
				r.Results = append(r.Results, er)
				if o.Progress != nil {
					fmt.Fprintf(o.Progress, "%s %-22s %-18s L=%-6d acc %.4f  loss %.4f  (%d tokens)\n", tag, m, names[i], L, er.Accuracy, er.Loss, er.Tally.Count)
				}
			}
			if o.Comm.Rank() == 0 {
				if err := study.WriteScores(filepath.Join(o.Out, r.Scores), kept); err != nil {
					return res, err
				}
			}
			res.Rows = append(res.Rows, r)
		}
	}
	return res, nil
}
