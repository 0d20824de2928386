package baseline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/internal/host"
	"github.com/infoscale/gaualpha/internal/runlock"
	"github.com/infoscale/gaualpha/train"
)

// EvalBudget is the memory budget eval.Evaluate applies when none is given
// (eval.Options.MemoryBudget 0), which is how the suite calls it.
const EvalBudget = 8 << 30

// CheckLengths refuses, before any fine-tuning, an evaluation length whose
// forward pass exceeds the evaluation's memory budget; given says whether
// the lengths were asked for (-lengths) or are the default.
func CheckLengths(cfg gau.Config, lengths []int, given bool) error {
	flag := "the default -lengths (64 n0)"
	if given {
		flag = "-lengths"
	}
	b := cli.Budget{Bytes: EvalBudget, Source: "the evaluation's (see cmd/eval -max-memory)"}
	for _, L := range lengths {
		if err := b.Check(fmt.Sprintf("%s: length %d", flag, L), eval.ForwardBytes(cfg, L)); err != nil {
			return err
		}
	}
	return nil
}

// recipe is the model configuration and the training options of the
// fine-tune of method m from a base model of configuration cfg.
func recipe(cfg gau.Config, m string, o Options) (gau.Config, train.Options, error) {
	sm, _ := Method(m)
	cfg.Method = sm.Method.String()
	batch := o.Batch
	switch m {
	case "pi-ft":
		// PI as Chen et al. fine-tune it: at an extended length L' with
		// scale L'/n0. The checkpoint's training length is L' and its
		// target length L'·L'/n0, so that the scale target/train = L'/n0
		// holds at every evaluation length; InfoScale's and softmax_plus_n0's
		// reference is then L', the length the model was fine-tuned at.
		n0 := cfg.TrainLength
		L := o.PiLen
		if L == 0 {
			L = 4 * n0
		}
		if L <= n0 {
			return cfg, train.Options{}, fmt.Errorf("-pi-length %d must exceed n0 = %d", L, n0)
		}
		cfg.TrainLength, cfg.TargetLength = L, L*L/n0
		batch = max(1, o.Batch*n0/L)
	case "pose":
		cfg.TargetLength = 64 * cfg.TrainLength
	case "alibi":
		if o.AlibiSlope > 0 {
			cfg.ALiBiSlope = attn.PressALiBiSlope(o.AlibiSlope, cfg.KeySize)
		}
	}
	opts := train.DefaultOptions()
	opts.Steps, opts.Batch, opts.LR, opts.Seed = o.Steps, batch, o.LR, o.Seed
	opts.EvalEvery = max(1, o.Steps/4)
	opts.PasskeyEvery = o.PasskeyEvery
	if m == "pose" {
		opts.PoSE, opts.PoSETarget = true, cfg.TargetLength
	}
	return cfg, opts, nil
}

// fineTune trains method m from the base checkpoint into dir (reusing a
// finished fine-tune there); its validation documents are the held-out
// ones that are neither test nor development documents of length minLen.
func fineTune(ctx context.Context, base *checkpoint.Checkpoint, m string, docs []corpus.Document, dir string, minLen int, o Options) (*checkpoint.Checkpoint, error) {
	cfg, opts, err := recipe(base.Config, m, o)
	if err != nil {
		return nil, err
	}
	reuse := false
	if o.Comm.Rank() == 0 { // rank 0 decides, before it may clear the folder
		if ck, err := checkpoint.Load(filepath.Join(dir, "best")); err == nil && sameFineTune(ck, cfg, opts) {
			last, err := checkpoint.Load(filepath.Join(dir, "last"))
			reuse = err == nil && last.State != nil && last.State.Step == o.Steps
		}
	}
	reuse, err = collective.BroadcastJSON(o.Comm, reuse, 0)
	if err != nil {
		return nil, err
	}
	if reuse {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "reusing the fine-tuned %s in %s\n", m, dir)
		}
		return checkpoint.Load(filepath.Join(dir, "best"))
	}
	// Validation on the held-out documents that are neither test nor
	// development documents (testset.SplitHeldOut).
	trs, vas, note, err := train.Data(docs, base.Vocab, cfg.TrainLength, train.HeldOut{Rule: o.TestSet, Test: o.Docs, MinLen: minLen, Seed: o.Seed})
	if err != nil {
		return nil, err
	}
	if note != "" {
		fmt.Fprintf(o.Log, "note: fine-tuning %s: %s\n", m, strings.Replace(note, "ask for fewer test documents", "lower -docs", 1))
	}
	if err := checkFineTune(m, cfg, opts, trs, vas); err != nil {
		return nil, err
	}
	params := cloneParams(base)
	tr, err := train.NewRank(o.Comm, cfg, base.Vocab, params, trs, vas, opts)
	if err != nil {
		return nil, err
	}
	// The fine-tune's folder is this suite's alone while it runs: the
	// earlier contents go only once its lock is held (by rank 0, which
	// alone writes there).
	lock, err := train.LockRunRank(o.Comm, dir)
	if err != nil {
		return nil, err
	}
	if lock != nil {
		defer lock.Release()
	}
	tr.OutDir, tr.Lock, tr.Progress, tr.Corpus = dir, lock, o.Progress, o.Corpus
	if err := tr.Use(o.Backend); err != nil {
		return nil, err
	}
	defer tr.Close()
	if o.Comm.Rank() == 0 {
		if err := clearRun(dir); err != nil {
			return nil, err
		}
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "fine-tuning %s for %d steps of %d×%d tokens into %s\n", m, o.Steps, opts.Batch, cfg.TrainLength, dir)
	}
	if err := tr.Run(ctx); err != nil {
		return nil, err
	}
	if err := tr.Close(); err != nil {
		return nil, err
	}
	if err := o.Comm.Barrier(); err != nil { // rank 0 has written best/
		return nil, err
	}
	return checkpoint.Load(filepath.Join(dir, "best"))
}

// checkFineTune refuses, before the weights are copied and the graphs
// built, a fine-tune whose estimated memory (gau.EstimateTraining)
// exceeds the memory available now.
func checkFineTune(m string, cfg gau.Config, opts train.Options, trainSeqs, valSeqs [][]int) error {
	avail, err := host.MemAvailable()
	if err != nil {
		return nil // unknown here (not Linux): nothing to check against
	}
	est := train.Estimate(cfg, opts, trainSeqs, valSeqs, 1)
	b := cli.Budget{Bytes: avail, Source: "the available memory (MemAvailable in /proc/meminfo)"}
	return b.Check(fmt.Sprintf("fine-tuning %s with batch %d at length %d (-batch %d)", m, opts.Batch, cfg.TrainLength, opts.Batch), est.Total())
}

// clearRun removes everything in a run folder but its lock file.
func clearRun(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == runlock.FileName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// cloneParams copies the base weights so that every fine-tune starts from
// the same point.
func cloneParams(ck *checkpoint.Checkpoint) *gau.Params {
	p := gau.ZeroParams(ck.Config, tensor.Float32)
	for i, n := range ck.Params.Named() {
		copy(p.Named()[i].T.Data().([]float32), n.T.Data().([]float32))
	}
	return p
}

// sameFineTune reports whether a checkpoint is the fine-tune that cfg and
// opts would make: the same model configuration and training options.
func sameFineTune(ck *checkpoint.Checkpoint, cfg gau.Config, opts train.Options) bool {
	saved, err := train.SavedOptions(ck.State)
	if err != nil || saved != opts {
		return false
	}
	a, err1 := ck.Config.Marshal()
	b, err2 := cfg.Marshal()
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
