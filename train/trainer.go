package train

import (
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
	"time"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/layers"
	"github.com/infoscale/gaualpha/metrics"
	"github.com/infoscale/gaualpha/optim"
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
		ClipNorm: 1.0, Seed: 42, EvalSeqs: 512, LogEvery: 10,
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
	}
	return nil
}

// Metrics is one line of the metrics log (metrics.jsonl).
type Metrics struct {
	Step      int     `json:"step"`
	Epoch     float64 `json:"epoch"`
	Loss      float64 `json:"loss,omitempty"`
	LR        float64 `json:"lr,omitempty"`
	GradNorm  float64 `json:"grad_norm,omitempty"`
	TokPerSec float64 `json:"tokens_per_sec,omitempty"`
	ValLoss   float64 `json:"val_loss,omitempty"`
	ValAcc    float64 `json:"val_accuracy,omitempty"`
	Best      bool    `json:"best,omitempty"`
	Elapsed   float64 `json:"elapsed_seconds"`
}

// Trainer runs masked-LM training of one model.
type Trainer struct {
	Config layers.Config
	Vocab  *tokenizer.Vocab
	Params *layers.Params
	Opt    *optim.AdamW
	State  checkpoint.State
	opts   Options

	trainSeqs [][]int
	valBatch  []*layers.Batch
	masker    *Masker
	model     *layers.Model // the training graph (dropout, loss, gradients)
	evalModel *layers.Model // the validation graph
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
	bt   layers.Batch
	seqs [][]int
	pcg  *rand.PCG
	rng  *rand.Rand

	// OutDir receives best/, last/ and metrics.jsonl; empty: nothing saved.
	OutDir string
	// Progress receives the progress bar (nil: none).
	Progress io.Writer
	// Corpus names the training data in the saved state.
	Corpus string
}

// New prepares a trainer for params (float32) on the given sequences.
func New(cfg layers.Config, v *tokenizer.Vocab, p *layers.Params, trainSeqs, valSeqs [][]int, o Options) (*Trainer, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("training options: %w", err)
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
	M := HeadRows(o.Batch, L)
	model, err := layers.Build(cfg, p, layers.Options{Shape: layers.Shape{B: o.Batch, L: L, M: M}, Policy: pol, Train: true, Loss: true, Grad: true})
	if err != nil {
		return nil, err
	}
	t := &Trainer{
		Config: cfg, Vocab: v, Params: p, opts: o,
		trainSeqs: trainSeqs, masker: masker, model: model,
		perEpoch: len(trainSeqs) / o.Batch, permEpoch: -1,
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
	if err := t.Use(backend.Default()); err != nil {
		return nil, err
	}
	return t, nil
}

// prepareValidation masks a fixed set of validation sequences once (with
// a seed of its own), so that every evaluation scores the same tokens.
func (t *Trainer) prepareValidation(valSeqs [][]int, pol attn.Policy) error {
	n := len(valSeqs)
	if t.opts.EvalSeqs > 0 {
		n = min(n, t.opts.EvalSeqs)
	}
	B := min(t.opts.Batch, n)
	L := t.Config.TrainLength
	rng := rand.New(rand.NewPCG(t.opts.Seed, 0x5eed_0f_7a1))
	for i := 0; i+B <= n; i += B {
		t.valBatch = append(t.valBatch, t.masker.MakeBatch(valSeqs[i:i+B], L, rng, nil))
	}
	m, err := layers.Build(t.Config, t.Params, layers.Options{Shape: layers.Shape{B: B, L: L, M: HeadRows(B, L)}, Policy: pol, Loss: true})
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
	if t.valExec, err = be.Executor(t.evalModel.Graph, t.evalModel.Outputs()...); err != nil {
		return fail(err)
	}
	var params []*tensor.Dense
	for _, n := range t.Params.Named() {
		params = append(params, n.T)
	}
	if t.opt, err = be.Optimizer(t.exec, t.model.Loss, params, t.model.Grads, t.Opt, t.opts.ClipNorm); err != nil {
		return fail(err)
	}
	return nil
}

// Backend returns the backend the trainer runs on.
func (t *Trainer) Backend() backend.Backend { return t.be }

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
		var params []*tensor.Dense
		for _, n := range t.Params.Named() {
			params = append(params, n.T)
		}
		errs = append(errs, t.be.Drop(params...))
	}
	t.be, t.exec, t.valExec, t.opt = nil, nil, nil, nil
	return errors.Join(errs...)
}

// Close copies the weights and moments back to Params and Opt and frees
// the trainer's memory on its backend's device.
func (t *Trainer) Close() error { return t.release() }

// Validate scores the validation batches with the current weights.
func (t *Trainer) Validate() (metrics.Tally, error) {
	var tl metrics.Tally
	for _, bt := range t.valBatch {
		if err := t.evalModel.Run(t.valExec, bt); err != nil {
			return tl, err
		}
		var err error
		if t.logits, err = t.valExec.Float32s(t.evalModel.Logits, t.logits); err != nil {
			return tl, err
		}
		tl.Add(t.logits, bt.Targets, t.Config.VocabSize)
	}
	return tl, nil
}

// Resume continues from a checkpoint written by this trainer: it restores
// the weights (already loaded into Params by the caller), the optimizer
// moments and the step.
func (t *Trainer) Resume(ck *checkpoint.Checkpoint) error {
	if ck.Opt == nil || ck.State == nil {
		return fmt.Errorf("checkpoint has no optimizer or trainer state; it cannot be resumed (use -init to start from its weights)")
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
	return t.opt.Push()
}

// batch returns the training batch of a step: the epoch's permutation
// (seeded by (seed, epoch)) and the masking (seeded by (seed, step)) make
// it a pure function of the step, which is what makes resuming exact.
func (t *Trainer) batch(step int) *layers.Batch {
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
	t.masker.FillBatch(&t.bt, t.seqs, L, rng, pos)
	t.bt.Key = pipeline.StreamKey(t.opts.Seed, uint64(step))
	return &t.bt
}

// ErrNonFinite is returned (wrapped, naming the step) when the loss or the
// gradient norm is NaN or infinite; no update is applied and no checkpoint
// is written for that step.
var ErrNonFinite = optim.ErrNonFinite

// Step runs one training step and returns the loss and the gradient norm
// before clipping.
func (t *Trainer) Step() (loss, gradNorm float64, err error) {
	step := t.State.Step
	if err := t.model.Run(t.exec, t.batch(step)); err != nil {
		return 0, 0, fmt.Errorf("step %d: %w", step+1, err)
	}
	loss, gradNorm, err = t.opt.Step(t.schedule().At(step))
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

// Run trains until Options.Steps, validating and checkpointing every
// EvalEvery steps (best/ keeps the lowest validation loss, last/ the latest
// state with the optimizer, for -resume) and logging to metrics.jsonl.
func (t *Trainer) Run(ctx context.Context) (err error) {
	defer func() { // the trained weights back in Params
		if perr := t.opt.Pull(); err == nil {
			err = perr
		}
	}()
	var log *json.Encoder
	if t.OutDir != "" {
		if err := os.MkdirAll(t.OutDir, 0o755); err != nil {
			return err
		}
		// A resumed run continues the log; a run from step 0 starts a new
		// one, so that no line of an earlier run in OutDir stays in it.
		mode := os.O_CREATE | os.O_WRONLY | os.O_APPEND
		if t.State.Step == 0 {
			mode = os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		}
		f, err := os.OpenFile(filepath.Join(t.OutDir, "metrics.jsonl"), mode, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		log = json.NewEncoder(f)
	}
	bar := newProgress(t.Progress, t.opts.Steps, t.State.Step)
	defer bar.done()
	start := time.Now()
	elapsed0 := t.State.Elapsed
	tokens, window := 0, time.Now()
	for t.State.Step < t.opts.Steps {
		if err := ctx.Err(); err != nil {
			return err
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
		if t.opts.LogEvery > 0 && step%t.opts.LogEvery == 0 && log != nil {
			if err := log.Encode(Metrics{Step: step, Epoch: t.Epoch(), Loss: loss, LR: t.schedule().At(step - 1),
				GradNorm: norm, TokPerSec: rate, Elapsed: t.State.Elapsed}); err != nil {
				return err
			}
		}
		if step%t.evalEvery() == 0 || step == t.opts.Steps {
			m, err := t.evaluate()
			if err != nil {
				return err
			}
			bar.note(fmt.Sprintf("step %d: val loss %.4f, val acc %.4f%s", step, m.ValLoss, m.ValAcc, map[bool]string{true: " (best)"}[m.Best]))
			if log != nil {
				if err := log.Encode(m); err != nil {
					return err
				}
			}
			tokens, window = 0, time.Now()
		}
	}
	return nil
}

// evaluate validates, updates the best score and writes the checkpoints.
func (t *Trainer) evaluate() (Metrics, error) {
	tl, err := t.Validate()
	if err != nil {
		return Metrics{}, err
	}
	m := Metrics{Step: t.State.Step, Epoch: t.Epoch(), ValLoss: tl.Loss(), ValAcc: tl.Accuracy(), Elapsed: t.State.Elapsed}
	if t.State.BestValLoss == nil || m.ValLoss < *t.State.BestValLoss {
		v := m.ValLoss
		t.State.BestValLoss, t.State.BestStep, m.Best = &v, t.State.Step, true
	}
	t.State.Corpus = t.Corpus
	if t.OutDir == "" {
		return m, nil
	}
	if err := t.opt.Pull(); err != nil {
		return m, err
	}
	if m.Best {
		if err := checkpoint.Save(filepath.Join(t.OutDir, "best"), t.Config, t.Vocab, t.Params, nil, &t.State); err != nil {
			return m, err
		}
	}
	return m, checkpoint.Save(filepath.Join(t.OutDir, "last"), t.Config, t.Vocab, t.Params, t.Opt, &t.State)
}
