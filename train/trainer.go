package train

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/internal/runlock"
	"github.com/infoscale/gaualpha/metrics"
	"github.com/infoscale/gaualpha/optim"
	"github.com/infoscale/gaualpha/passkey"
	"github.com/infoscale/gaualpha/pipeline"
	"github.com/infoscale/gaualpha/tokenizer"
)

// Options are the training hyper-parameters (docs/spec.md §4). They are
// saved in trainer_state.json; a resumed run must use the same values.
type Options struct {
	Steps       int     `json:"steps"`
	Batch       int     `json:"batch"`
	LR          float64 `json:"lr"`
	WarmupFrac  float64 `json:"warmup_frac"`
	WeightDecay float64 `json:"weight_decay"`
	ClipNorm    float64 `json:"clip_norm"`
	Seed        uint64  `json:"seed"`
	// EvalEvery is the number of steps between validations (and
	// checkpoints); 0 means once per epoch, at most every Steps/10 steps.
	EvalEvery int `json:"eval_every"`
	// EvalSeqs caps the validation sequences scored each time.
	EvalSeqs int `json:"eval_seqs"`
	// LogEvery is the number of steps between metrics lines.
	LogEvery int `json:"log_every"`
	// PoSE, when set, trains with positional skip-wise position ids
	// covering PoSETarget (see PoSEPositions).
	PoSE       bool `json:"pose,omitempty"`
	PoSETarget int  `json:"pose_target,omitempty"`
	// DivergeRatio stops the run when a validation loss exceeds this
	// multiple of the smaller of the run's first validation loss and
	// ln(vocabulary size), the loss of a uniform guess (0: never).
	DivergeRatio float64 `json:"diverge_ratio,omitempty"`
	// PasskeyEvery makes one training sequence in PasskeyEvery a passkey
	// sample (package passkey): a key stated and asked again with its
	// digits masked, which only those digits score (0: none). Which
	// sequences, and the keys and their places, follow from (seed, step).
	PasskeyEvery int `json:"passkey_every,omitempty"`
	// PasskeyFirst makes every sequence of the first PasskeyFirst steps a
	// passkey sample (with PasskeyEvery > 0): a model learns the skill
	// from samples alone, not from a small share among masked-LM ones.
	PasskeyFirst int `json:"passkey_first,omitempty"`
	// KeepValidations keeps the weights of every validation's step in
	// ValCheckpointDir(OutDir, step), besides best/ and last/.
	KeepValidations bool `json:"keep_validations,omitempty"`
}

// ValCheckpointDir is the checkpoint Options.KeepValidations keeps for the
// validation of a step: val/step-NNNNNN in the run's folder.
func ValCheckpointDir(out string, step int) string {
	return filepath.Join(out, "val", fmt.Sprintf("step-%06d", step))
}

// SavedOptions decodes the options a trainer saved in its checkpoint
// state (trainer_state.json).
func SavedOptions(st *checkpoint.State) (Options, error) {
	var o Options
	if st == nil {
		return o, fmt.Errorf("checkpoint has no trainer state")
	}
	if err := json.Unmarshal(st.Options, &o); err != nil {
		return o, fmt.Errorf("checkpoint trainer state: options: %w", err)
	}
	return o, nil
}

// DefaultOptions returns the paper's optimisation settings with this
// project's from-scratch learning rate.
func DefaultOptions() Options {
	return Options{
		Steps: 1000, Batch: 32, LR: 1e-3, WarmupFrac: 0.1, WeightDecay: 0.01,
		ClipNorm: 1.0, Seed: 42, EvalSeqs: 512, LogEvery: 10, DivergeRatio: 3,
	}
}

// Validate reports the first impossible option.
func (o Options) Validate() error {
	switch {
	case o.Steps < 1:
		return fmt.Errorf("steps %d must be at least 1", o.Steps)
	case o.Batch < 1:
		return fmt.Errorf("batch %d must be at least 1", o.Batch)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return fmt.Errorf("learning rate %v must be a finite number > 0", o.LR)
	case !(o.WarmupFrac >= 0 && o.WarmupFrac < 1):
		return fmt.Errorf("warm-up fraction %v must be in [0, 1)", o.WarmupFrac)
	case !(o.WeightDecay >= 0):
		return fmt.Errorf("weight decay %v must be >= 0", o.WeightDecay)
	case !(o.ClipNorm >= 0):
		return fmt.Errorf("gradient clip norm %v must be >= 0 (0 disables clipping)", o.ClipNorm)
	case o.EvalEvery < 0 || o.EvalSeqs < 0 || o.LogEvery < 0:
		return fmt.Errorf("eval/log intervals must be >= 0")
	case o.PoSE && o.PoSETarget < 2:
		return fmt.Errorf("PoSE needs a target length (got %d)", o.PoSETarget)
	case o.PasskeyEvery < 0:
		return fmt.Errorf("passkey share %d must be >= 0 (one sequence in n; 0: none)", o.PasskeyEvery)
	case o.PasskeyFirst < 0 || o.PasskeyFirst > 0 && o.PasskeyEvery == 0:
		return fmt.Errorf("passkey warm-up of %d steps needs a passkey share and a count >= 0", o.PasskeyFirst)
	case !(o.DivergeRatio >= 0) || math.IsInf(o.DivergeRatio, 0):
		return fmt.Errorf("divergence ratio %v must be a finite number >= 0 (0: never stop)", o.DivergeRatio)
	}
	return nil
}

// Trainer runs masked-LM training of one model.
type Trainer struct {
	Config gau.Config
	Vocab  *tokenizer.Vocab
	Params *gau.Params
	Opt    *optim.AdamW
	State  checkpoint.State
	opts   Options

	trainSeqs [][]int
	valBatch  []*gau.Batch
	masker    *Masker
	curStep   int        // the step whose batch is being built (passkey samples)
	model     *gau.Model // the training graph (dropout, loss, gradients)
	evalModel *gau.Model // the validation graph
	perEpoch  int
	permEpoch int
	perm      []int
	// be runs the graphs: exec the training graph, valExec the validation
	// graph, opt the update (Use).
	be      backend.Backend
	exec    graph.Executor
	valExec graph.Executor
	opt     backend.Optimizer
	logits  []float32
	// The training batch and its generator, reused from step to step.
	bt   gau.Batch
	seqs [][]int
	pcg  *rand.PCG
	rng  *rand.Rand

	log       *metricsLog // while Run writes to OutDir
	lastSaved int         // step of the last/ written or resumed, -1: none
	rank      rankShare   // the rank's place in a data-parallel group (parallel.go)
	digest    string      // of the weights the ranks agreed on at the last validation

	// OutDir receives best/, last/ and metrics.jsonl; empty: nothing saved.
	// Of a data-parallel group, rank 0 alone writes there.
	OutDir string
	// Lock is OutDir's writer lock when the caller holds it (LockRun);
	// nil: Run takes it for the run and gives it up at the end.
	Lock *runlock.Lock
	// Progress receives the progress bar (nil: none).
	Progress io.Writer
	// Corpus names the training data in the saved state.
	Corpus string
}

// New prepares a trainer for params (float32) on the given sequences.
func New(cfg gau.Config, v *tokenizer.Vocab, p *gau.Params, trainSeqs, valSeqs [][]int, o Options) (*Trainer, error) {
	return NewRank(collective.Single{}, cfg, v, p, trainSeqs, valSeqs, o)
}

// NewRank prepares the trainer of rank c.Rank() of a data-parallel group
// (parallel.go): every rank calls it with the same arguments, and each
// runs its share of every batch. The ranks' parameters must be equal (the
// same seed, or the same checkpoint); Run checks it.
func NewRank(c collective.Comm, cfg gau.Config, v *tokenizer.Vocab, p *gau.Params, trainSeqs, valSeqs [][]int, o Options) (*Trainer, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("training options: %w", err)
	}
	rank, err := newRankShare(c, o.Batch)
	if err != nil {
		return nil, fmt.Errorf("training: %w", err)
	}
	if p.Dtype != tensor.Float32 {
		return nil, fmt.Errorf("training runs in float32, parameters are %v", p.Dtype)
	}
	if len(trainSeqs) < o.Batch {
		return nil, fmt.Errorf("only %d training sequences for a batch of %d", len(trainSeqs), o.Batch)
	}
	if len(valSeqs) == 0 {
		return nil, fmt.Errorf("no validation sequences")
	}
	masker, err := NewMasker(v)
	if err != nil {
		return nil, err
	}
	pol, err := cfg.Policy("")
	if err != nil {
		return nil, err
	}
	L := cfg.TrainLength
	B := rank.hi - rank.lo
	model, err := gau.Build(cfg, p, gau.Options{Shape: gau.Shape{B: B, L: L, M: HeadRows(B, L)}, Policy: pol, Train: true, Loss: true, Grad: true, RowOffset: rank.lo})
	if err != nil {
		return nil, err
	}
	t := &Trainer{
		Config: cfg, Vocab: v, Params: p, opts: o,
		trainSeqs: trainSeqs, masker: masker, model: model,
		perEpoch: len(trainSeqs) / o.Batch, permEpoch: -1, lastSaved: -1, rank: rank,
	}
	named := p.Named()
	sizes := make([]int, len(named))
	for i, n := range named {
		sizes[i] = n.T.Shape().TotalSize()
	}
	t.Opt = optim.NewAdamW(sizes, p.DecayMask(), o.WeightDecay)
	saved, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("training: saving the options: %w", err)
	}
	t.State = checkpoint.State{Seed: o.Seed, Options: saved}
	if err := t.prepareValidation(valSeqs, pol); err != nil {
		return nil, err
	}
	if o.PasskeyEvery > 0 {
		if err := t.plantPasskeys(v); err != nil {
			return nil, err
		}
	}
	if err := t.Use(backend.Default()); err != nil {
		return nil, err
	}
	return t, nil
}

// plantPasskeys makes the masker turn every sequence of the first
// Options.PasskeyFirst steps, and one sequence in Options.PasskeyEvery of
// every later batch, into a passkey sample: the sequences whose index in
// the run, step·Batch + b, is PasskeyEvery − 1 modulo PasskeyEvery, each
// with a key and places drawn from a generator seeded by (seed, index).
// Validation batches stay plain masked-LM batches.
func (t *Trainer) plantPasskeys(v *tokenizer.Vocab) error {
	probe, err := passkey.New(v)
	if err != nil {
		return fmt.Errorf("training with passkey samples: %w", err)
	}
	K, B := t.opts.PasskeyEvery, t.opts.Batch
	pcg := new(rand.PCG)
	rng := rand.New(pcg)
	t.masker.plant = func(b int, row []int) ([]int, []int, bool) {
		g := t.curStep*B + b
		if g%K != K-1 && t.curStep >= t.opts.PasskeyFirst {
			return nil, nil, false
		}
		pcg.Seed(t.opts.Seed^0x7061_7373_6b65_79, uint64(g))
		return probe.TrainSample(row, rng)
	}
	return nil
}

// prepareValidation masks a fixed set of validation sequences once (with
// a seed of its own), so that every evaluation scores the same tokens. A
// rank of a data-parallel group keeps its share of each batch (none when
// the batches are smaller than the group).
func (t *Trainer) prepareValidation(valSeqs [][]int, pol attn.Policy) error {
	n := len(valSeqs)
	if t.opts.EvalSeqs > 0 && t.opts.EvalSeqs < n {
		// EvalSeqs sequences evenly spaced over all of them: sequence
		// floor((2i+1)·len/2n) for i = 0..n−1.
		n = t.opts.EvalSeqs
		picked := make([][]int, n)
		for i := range picked {
			picked[i] = valSeqs[(2*i+1)*len(valSeqs)/(2*n)]
		}
		valSeqs = picked
	}
	B := min(t.opts.Batch, n)
	L := t.Config.TrainLength
	lo, hi := collective.Share(B, t.rank.comm.Rank(), t.rank.comm.Size())
	rng := rand.New(rand.NewPCG(t.opts.Seed, 0x5eed_0f_7a1))
	for i := 0; i+B <= n; i += B {
		bt := t.masker.MakeBatch(valSeqs[i:i+B], L, rng, nil)
		if t.rank.parallel() {
			piece := new(gau.Batch)
			SliceBatch(piece, bt, L, lo, hi)
			bt = piece
		}
		t.valBatch = append(t.valBatch, bt)
	}
	if hi == lo {
		return nil // this rank has no validation rows
	}
	m, err := gau.Build(t.Config, t.Params, gau.Options{Shape: gau.Shape{B: hi - lo, L: L, M: HeadRows(hi-lo, L)}, Policy: pol, Loss: true})
	if err != nil {
		return err
	}
	t.evalModel = m
	return nil
}

// Use makes be run the following steps and validations: the CPU backend
// (the default) or a device's, in its precision. On a device the weights
// and the optimizer moments are uploaded once and stay there; checkpoints,
// the end of Run and Close copy them back to Params and Opt.
func (t *Trainer) Use(be backend.Backend) error {
	if err := t.release(); err != nil {
		return err
	}
	fail := func(err error) error {
		t.release()
		return fmt.Errorf("training on %s: %w", be.Device(), err)
	}
	t.be = be
	var err error
	if t.exec, err = be.Executor(t.model.Graph, t.model.Outputs()...); err != nil {
		return fail(err)
	}
	if t.evalModel != nil {
		if t.valExec, err = be.Executor(t.evalModel.Graph, t.evalModel.Outputs()...); err != nil {
			return fail(err)
		}
	}
	if t.opt, err = be.Optimizer(t.exec, t.model.Loss, t.Params.Tensors(), t.model.Grads, t.Opt, t.opts.ClipNorm, t.rank.comm); err != nil {
		return fail(err)
	}
	return nil
}

// Executor returns the executor of the training graph (for profiling: on
// the CPU it is a *graph.Machine).
func (t *Trainer) Executor() graph.Executor { return t.exec }

// release copies the weights and moments back from the backend and frees
// what the trainer holds there (not the backend itself).
func (t *Trainer) release() error {
	var errs []error
	if t.opt != nil {
		errs = append(errs, t.opt.Pull(), t.opt.Close())
	}
	for _, ex := range []graph.Executor{t.exec, t.valExec} {
		if ex != nil {
			errs = append(errs, ex.Close())
		}
	}
	if t.be != nil {
		errs = append(errs, t.be.Drop(t.Params.Tensors()...))
	}
	t.be, t.exec, t.valExec, t.opt = nil, nil, nil, nil
	return errors.Join(errs...)
}

// Close copies the weights and moments back to Params and Opt and frees
// the trainer's memory on its backend's device.
func (t *Trainer) Close() error { return t.release() }

// validate scores the validation batches with the current weights,
// stopping early when ctx is done.
func (t *Trainer) validate(ctx context.Context) (metrics.Tally, error) {
	var tl metrics.Tally
	for _, bt := range t.valBatch {
		if t.evalModel == nil {
			break // no rows on this rank
		}
		if err := ctx.Err(); err != nil && !t.rank.parallel() { // the ranks stop together, between steps
			return tl, err
		}
		if err := t.evalModel.Run(t.valExec, bt); err != nil {
			return tl, err
		}
		var err error
		if t.logits, err = t.valExec.Float32s(t.evalModel.Logits, t.logits); err != nil {
			return tl, err
		}
		tl.Add(t.logits, bt.Targets, t.Config.VocabSize)
	}
	return t.rank.sumTally(tl)
}

// Resume continues from a checkpoint written by this trainer: it restores
// the weights (already loaded into Params by the caller), the optimizer
// moments and the step.
func (t *Trainer) Resume(ck *checkpoint.Checkpoint) error {
	if ck.Opt == nil || ck.State == nil {
		return fmt.Errorf("checkpoint has no optimizer or trainer state; it cannot be resumed (use -init to start from its weights)")
	}
	if len(ck.Changed) > 0 {
		return fmt.Errorf("checkpoint changed since the run saved it (%s differs from checksums.sha256); a resumed run continues only an unchanged checkpoint: start a new run from these weights with -init", strings.Join(ck.Changed, ", "))
	}
	saved, err := SavedOptions(ck.State)
	if err != nil {
		return err
	}
	if saved != t.opts {
		return fmt.Errorf("resumed run must use the saved options %+v, got %+v", saved, t.opts)
	}
	if len(ck.Opt.M) != len(t.Opt.M) {
		return fmt.Errorf("checkpoint optimizer does not fit the model")
	}
	for i, n := range t.Params.Named() {
		copy(n.T.Data().([]float32), ck.Params.Named()[i].T.Data().([]float32))
	}
	*t.Opt = *ck.Opt // in place: the backend's optimiser holds t.Opt
	t.State = *ck.State
	t.lastSaved = t.State.Step
	return t.opt.Push()
}

// batch returns the training batch of a step: the epoch's permutation
// (seeded by (seed, epoch)) and the masking (seeded by (seed, step)) make
// it a pure function of the step, which is what makes resuming exact.
func (t *Trainer) batch(step int) *gau.Batch {
	epoch, k := step/t.perEpoch, step%t.perEpoch
	if epoch != t.permEpoch {
		t.perm = rand.New(rand.NewPCG(t.opts.Seed, uint64(epoch))).Perm(len(t.trainSeqs))
		t.permEpoch = epoch
	}
	B, L := t.opts.Batch, t.Config.TrainLength
	t.seqs = slices.Grow(t.seqs[:0], B)[:B]
	for i := range t.seqs {
		t.seqs[i] = t.trainSeqs[t.perm[k*B+i]]
	}
	// The step's generator, reseeded in place: the same draws as a new
	// rand.New(rand.NewPCG(...)), without allocating.
	if t.rng == nil {
		t.pcg = new(rand.PCG)
		t.rng = rand.New(t.pcg)
	}
	t.pcg.Seed(t.opts.Seed^0x6d61_736b, uint64(step))
	rng := t.rng
	var pos func(b int) []int
	if t.opts.PoSE {
		pos = func(int) []int { return PoSEPositions(L, t.opts.PoSETarget, rng) }
	}
	t.curStep = step
	t.masker.FillBatch(&t.bt, t.seqs, L, rng, pos)
	t.bt.Key = pipeline.StreamKey(t.opts.Seed, uint64(step))
	return &t.bt
}

// ErrNonFinite is returned (wrapped, naming the step) when the loss or the
// gradient norm is NaN or infinite, or a validation loss is; no update is
// applied and no checkpoint is written for that step.
var ErrNonFinite = optim.ErrNonFinite

// ErrDiverged is returned (wrapped, naming the step and the losses) when a
// validation loss breaks the Options.DivergeRatio rule; no checkpoint is
// written for that step.
var ErrDiverged = errors.New("training diverged")

// Step runs one training step and returns the loss and the gradient norm
// before clipping.
//
// Of a data-parallel group, every rank calls Step: each runs its rows of
// the step's batch, and the loss and the update are the whole batch's.
func (t *Trainer) Step() (loss, gradNorm float64, err error) {
	step := t.State.Step
	bt, share := t.rank.rows(t.batch(step), t.Config.TrainLength)
	if err := t.model.Run(t.exec, bt); err != nil {
		return 0, 0, fmt.Errorf("step %d: %w", step+1, err)
	}
	loss, gradNorm, err = t.opt.Step(t.schedule().At(step), share)
	if err != nil {
		return loss, gradNorm, fmt.Errorf("step %d: %w", step+1, err)
	}
	t.State.Step++
	return loss, gradNorm, nil
}

func (t *Trainer) schedule() optim.Schedule {
	return optim.Schedule{Peak: t.opts.LR, Warmup: int(t.opts.WarmupFrac * float64(t.opts.Steps)), Total: t.opts.Steps}
}

func (t *Trainer) evalEvery() int {
	if t.opts.EvalEvery > 0 {
		return t.opts.EvalEvery
	}
	return max(1, min(t.perEpoch, t.opts.Steps/10))
}

// Epoch returns the training progress in epochs.
func (t *Trainer) Epoch() float64 { return float64(t.State.Step) / float64(t.perEpoch) }

// LockRun takes the writer lock of the run folder dir (creating it) and
// repairs what a writer killed while saving a checkpoint left there. The
// caller gives the lock to Trainer.Lock and releases it when done.
func LockRun(dir string) (*runlock.Lock, error) {
	lk, err := runlock.Acquire(dir)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{"best", "last"} {
		if err := checkpoint.Recover(filepath.Join(dir, sub)); err != nil {
			lk.Release()
			return nil, err
		}
	}
	return lk, nil
}

// HasCheckpoints reports whether the run folder dir holds a best/ or last/
// checkpoint.
func HasCheckpoints(dir string) bool {
	for _, sub := range []string{"best", "last"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err == nil {
			return true
		}
	}
	return false
}

// LastCheckpoint returns the step of the last/ checkpoint this trainer
// wrote or resumed from, or -1 if there is none.
func (t *Trainer) LastCheckpoint() int { return t.lastSaved }

// Run trains until Options.Steps, validating and checkpointing every
// EvalEvery steps (best/ keeps the lowest validation loss, last/ the latest
// state with the optimizer, for -resume) and logging to metrics.jsonl. It
// holds OutDir's writer lock while it runs (Lock, or its own). A run from
// step 0 in a folder holding an earlier run replaces that run at its first
// checkpoint; until then the earlier run's checkpoints and log stay whole.
//
// Of a data-parallel group, every rank calls Run; rank 0 alone writes to
// OutDir and Progress and holds the lock. The ranks check that they start,
// and are at every validation, with the same weights, and they stop
// together when any rank's ctx is done.
func (t *Trainer) Run(ctx context.Context) (err error) {
	defer func() { // the trained weights back in Params
		if perr := t.opt.Pull(); err == nil {
			err = perr
		}
	}()
	if t.rank.parallel() {
		if _, err := t.CheckSameWeights(); err != nil {
			return fmt.Errorf("training: the ranks start from different states: %w", err)
		}
	}
	if t.OutDir != "" && t.rank.comm.Rank() == 0 {
		switch {
		case t.Lock == nil:
			lk, err := LockRun(t.OutDir)
			if err != nil {
				return err
			}
			defer lk.Release()
		case t.Lock.Dir() != filepath.Clean(t.OutDir):
			return fmt.Errorf("training: the lock held is %s's, not the output folder %s's", t.Lock.Dir(), t.OutDir)
		}
		log, err := openLog(t.OutDir, &t.State, t.State.Step == 0 && HasCheckpoints(t.OutDir))
		if err != nil {
			return err
		}
		t.log = log
		defer func() {
			if cerr := log.close(); err == nil {
				err = cerr
			}
			t.log = nil
		}()
	}
	progressTo := t.Progress
	if t.rank.comm.Rank() != 0 {
		progressTo = nil
	}
	bar := newProgress(progressTo, t.opts.Steps, t.State.Step)
	defer bar.done()
	start := time.Now()
	elapsed0 := t.State.Elapsed
	tokens, window := 0, time.Now()
	for t.State.Step < t.opts.Steps {
		if stop, err := t.rank.stopping(ctx.Err() != nil); err != nil || stop {
			return cmp.Or(err, ctx.Err(), context.Canceled)
		}
		loss, norm, err := t.Step()
		if err != nil {
			return err
		}
		step := t.State.Step
		t.State.Elapsed = elapsed0 + time.Since(start).Seconds()
		tokens += t.opts.Batch * t.Config.TrainLength
		rate := float64(tokens) / time.Since(window).Seconds()
		bar.update(step, loss, rate)
		if t.opts.LogEvery > 0 && step%t.opts.LogEvery == 0 && t.log != nil {
			if err := t.log.write(StepMetrics{Step: step, Epoch: t.Epoch(), Loss: loss, LR: t.schedule().At(step - 1),
				GradNorm: norm, TokPerSec: rate, Elapsed: t.State.Elapsed, CommSeconds: t.opt.CommSeconds()}); err != nil {
				return err
			}
		}
		if step%t.evalEvery() == 0 || step == t.opts.Steps {
			m, err := t.evaluate(ctx)
			if err != nil {
				return err
			}
			same := ""
			if t.rank.parallel() {
				same = fmt.Sprintf("; weights identical on the %d processes (SHA-256 %.16s)", t.rank.comm.Size(), t.digest)
			}
			bar.note(fmt.Sprintf("step %d: val loss %.4f, val acc %.4f%s%s", step, m.ValLoss, m.ValAcc, map[bool]string{true: " (best)"}[m.Best], same))
			tokens, window = 0, time.Now()
		}
	}
	return nil
}

// evaluate validates, applies the divergence rule, updates the best score,
// logs the validation and writes the checkpoints. The log line comes first:
// a run resumed from these checkpoints keeps it, one resumed from earlier
// ones drops it.
func (t *Trainer) evaluate(ctx context.Context) (ValMetrics, error) {
	tl, err := t.validate(ctx)
	if err != nil {
		return ValMetrics{}, err
	}
	step := t.State.Step
	m := ValMetrics{Step: step, Epoch: t.Epoch(), ValLoss: tl.Loss(), ValAcc: tl.Accuracy(), Elapsed: t.State.Elapsed}
	if math.IsNaN(m.ValLoss) || math.IsInf(m.ValLoss, 0) {
		return m, fmt.Errorf("step %d: validation loss %v: %w", step, m.ValLoss, ErrNonFinite)
	}
	if t.State.FirstValLoss == nil {
		v := m.ValLoss
		t.State.FirstValLoss = &v
	}
	if r := t.opts.DivergeRatio; r > 0 {
		uniform := math.Log(float64(t.Config.VocabSize))
		if ref := min(*t.State.FirstValLoss, uniform); m.ValLoss > r*ref {
			return m, fmt.Errorf("step %d: validation loss %.4g is above %g × %.4g (the smaller of the first validation loss, %.4g, and ln(vocabulary size), %.4g): %w; lower the learning rate, or turn the rule off",
				step, m.ValLoss, r, ref, *t.State.FirstValLoss, uniform, ErrDiverged)
		}
	}
	if t.State.BestValLoss == nil || m.ValLoss < *t.State.BestValLoss {
		v := m.ValLoss
		t.State.BestValLoss, t.State.BestStep, m.Best = &v, step, true
	}
	t.State.Corpus = t.Corpus
	if t.rank.parallel() {
		if t.digest, err = t.CheckSameWeights(); err != nil {
			return m, err
		}
	}
	if t.OutDir == "" || t.rank.comm.Rank() != 0 {
		return m, nil
	}
	t.State.MetricsLog = ""
	if t.log != nil {
		if err := t.log.write(m); err != nil {
			return m, err
		}
		t.State.MetricsLog = t.log.name
	}
	if err := t.opt.Pull(); err != nil {
		return m, err
	}
	if m.Best {
		if err := checkpoint.Save(filepath.Join(t.OutDir, "best"), t.Config, t.Vocab, t.Params, nil, &t.State); err != nil {
			return m, err
		}
	}
	if err := checkpoint.Save(filepath.Join(t.OutDir, "last"), t.Config, t.Vocab, t.Params, t.Opt, &t.State); err != nil {
		return m, err
	}
	if t.opts.KeepValidations {
		dir := ValCheckpointDir(t.OutDir, step)
		if t.lastSaved < 0 { // a new run's first checkpoint: an earlier run's go
			if err := os.RemoveAll(filepath.Dir(dir)); err != nil {
				return m, err
			}
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return m, err
		}
		if err := checkpoint.Save(dir, t.Config, t.Vocab, t.Params, nil, &t.State); err != nil {
			return m, err
		}
	}
	t.lastSaved = step
	if t.log != nil {
		return m, t.log.replace()
	}
	return m, nil
}
