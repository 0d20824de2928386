package train

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/cli"
	"github.com/infoscale/gaualpha/internal/runlock"
	"github.com/infoscale/gaualpha/tokenizer"
	"gorgonia.org/tensor"
)

// What a command does around a Trainer: where the model comes from
// (Start), the memory check before anything large is allocated
// (CheckMemory), the run folder (Folder, CheckNewRun, WriteResults) and
// the lines it prints (ModelLine, DataLine, Summary). The messages name
// cmd/train's flags, whose values they are about.

// Start is where a run's model comes from: the run it resumes
// (ResumeRun), a checkpoint it starts from (LoadInit, fine-tuning), or
// nothing (NewModel). It holds the configuration, which a new run may
// still change, and the vocabulary; Params makes the weights once the
// memory is checked.
type Start struct {
	Config gau.Config
	Vocab  *tokenizer.Vocab
	// Resumed is the checkpoint a resumed run continues from (its last/);
	// nil for a new run.
	Resumed *checkpoint.Checkpoint
	// Notes are remarks for the user (a checkpoint that cannot be
	// verified, the layers taken from a larger one).
	Notes []string

	init    *checkpoint.Checkpoint // LoadInit's, until Params fits it
	initDir string
}

// ResumeRun reads the last checkpoint (last/) of the run in folder dir.
func ResumeRun(dir string) (*Start, error) {
	last := filepath.Join(dir, "last")
	ck, err := checkpoint.Load(last)
	if err != nil {
		return nil, fmt.Errorf("cannot resume: %w", err)
	}
	s := &Start{Config: ck.Config, Vocab: ck.Vocab, Resumed: ck}
	if ck.Unverified {
		s.Notes = append(s.Notes, fmt.Sprintf("%s has no %s (written by an older version): its config and state cannot be checked against what the run saved", last, checkpoint.SumsFile))
	}
	return s, nil
}

// LoadInit reads the checkpoint dir that a new run starts from (cmd/train
// -init, fine-tuning) whole, since a run may be replacing it, with the
// configuration to train: the checkpoint's, or the one in configPath (a
// checkpoint of more layers loads into fewer: Params takes the first
// ones). The weights file's size is checked against budget before it is
// read.
func LoadInit(dir, configPath string, budget cli.Budget) (*Start, error) {
	if st, err := os.Stat(filepath.Join(dir, checkpoint.ModelFile)); err == nil {
		// The file's bytes and their float32 copy (twice as large for
		// 16-bit weights).
		if err := budget.Check("reading the -init weights "+dir, 3*st.Size()); err != nil {
			return nil, err
		}
	}
	ck, err := checkpoint.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("-init: %w", err)
	}
	s := &Start{Config: ck.Config, Vocab: ck.Vocab, init: ck, initDir: dir}
	if configPath == "" {
		return s, nil
	}
	if s.Config, err = gau.OpenConfig(configPath); err != nil {
		return nil, err
	}
	if s.Config.VocabSize == 0 {
		s.Config.VocabSize = ck.Vocab.Size()
	}
	if s.Config.VocabSize != ck.Vocab.Size() {
		return nil, fmt.Errorf("-init %s: vocab.txt has %d tokens, the config says vocab_size %d", dir, ck.Vocab.Size(), s.Config.VocabSize)
	}
	return s, nil
}

// NewModel starts a new model of configuration cfg, whose vocabulary
// NewVocab builds from docs (minCount, maxVocab) and whose VocabSize
// becomes that vocabulary's size.
func NewModel(cfg gau.Config, docs []corpus.Document, minCount, maxVocab int) (*Start, error) {
	v, err := NewVocab(docs, minCount, maxVocab)
	if err != nil {
		return nil, err
	}
	cfg.VocabSize = v.Size()
	return &Start{Config: cfg, Vocab: v}, nil
}

// Params returns the run's weights: the resumed run's; the starting
// checkpoint's fitted to Config (Checkpoint.Fit; its notes join Notes,
// and the checkpoint is let go); or new ones drawn from seed.
func (s *Start) Params(seed uint64) (*gau.Params, error) {
	switch {
	case s.Resumed != nil:
		return s.Resumed.Params, nil
	case s.init != nil:
		p, notes, err := s.init.Fit(s.Config)
		if err != nil {
			return nil, fmt.Errorf("-init %s: %w", s.initDir, err)
		}
		s.Notes = append(append(s.Notes, s.init.Notes...), notes...)
		s.init = nil
		return p, nil
	}
	return gau.InitParams(s.Config, tensor.Float32, rand.New(rand.NewPCG(seed, 0x9a0a))), nil
}

// Folder is a run folder as the ranks of a run hold it: rank 0 holds its
// lock (LockRunRank); the other ranks hold none.
type Folder struct {
	Dir string
	// Lock is rank 0's lock of Dir; nil on the other ranks.
	Lock    *runlock.Lock
	created bool
}

// OpenFolder takes the lock of run folder dir on rank 0 (LockRunRank,
// which creates the folder where there is none).
func OpenFolder(c collective.Comm, dir string) (*Folder, error) {
	f := &Folder{Dir: dir}
	if c.Rank() == 0 {
		_, err := os.Stat(dir)
		f.created = os.IsNotExist(err)
	}
	var err error
	if f.Lock, err = LockRunRank(c, dir); err != nil {
		return nil, err
	}
	return f, nil
}

// Close gives the lock up; after a run that failed (failed), a folder
// that OpenFolder created, and that the run never used, is removed again.
func (f *Folder) Close(failed bool) {
	if f.Lock == nil {
		return
	}
	if failed && f.created {
		os.Remove(filepath.Join(f.Dir, runlock.FileName))
		os.Remove(f.Dir)
	}
	f.Lock.Release()
}

// CheckMemory refuses, before the weights, the graphs and the batches are
// allocated, a run of ranks processes whose estimated memory (Estimate,
// the token sequences already read included) exceeds budget: all of it on
// the CPU (onCPU), the host's share on a device. It returns the line that
// states the estimate and the budget.
func CheckMemory(budget cli.Budget, cfg gau.Config, o Options, trainSeqs, valSeqs [][]int, ranks int, onCPU bool) (string, error) {
	B := (o.Batch + ranks - 1) / ranks // a process's share of the batch
	est := Estimate(cfg, o, trainSeqs, valSeqs, ranks)
	need, where := est.Total(), "on the CPU"
	if !onCPU {
		need, where = est.Host(), "in host memory (the device's own memory is not checked here)"
	}
	what := fmt.Sprintf("training %s with -batch %d -seq-len %d (%d layers, hidden %d, intermediate %d, vocabulary %d)",
		where, o.Batch, cfg.TrainLength, cfg.NumLayers, cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize)
	if ranks > 1 {
		what += fmt.Sprintf(", %d sequences on each of %d processes", B, ranks)
		where += " per process"
	}
	if err := budget.Check(what, need); err != nil {
		return "", err
	}
	return fmt.Sprintf("memory: training needs about %s %s, of a budget of %s", cli.GiB(need), where, cli.GiB(budget.Bytes)), nil
}

// CheckNewRun refuses to start a new run in a folder that holds an
// earlier run's checkpoints (best/ or last/), unless overwrite.
func CheckNewRun(dir string, overwrite bool) error {
	for _, sub := range []string{"last", "best"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err == nil && !overwrite {
			return fmt.Errorf("%s already holds a run; continue it with -resume, or start over with -overwrite", dir)
		}
	}
	return nil
}

// WriteResults writes the final table of a run's best checkpoint into the
// run folder dir: ResultsMarkdown and, in JSON, ResultsJSON.
func WriteResults(dir, markdown string, js []byte) error {
	if err := os.WriteFile(filepath.Join(dir, ResultsMarkdown), []byte(markdown), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ResultsJSON), js, 0o644)
}

// ModelLine describes a run's model in one line: its sizes, parameter
// count, training length and attention.
func ModelLine(cfg gau.Config, p *gau.Params) string {
	return fmt.Sprintf("model: %d layers, hidden %d, intermediate %d, key %d, vocab %d (%.2fM parameters); n0 = %d, %s, CosScale %g, %s",
		cfg.NumLayers, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.VocabSize, float64(p.Count())/1e6,
		cfg.TrainLength, cfg.Normalization, cfg.CosScale, cfg.Method)
}

// DataLine describes in one line what the trainer is about to run: the
// corpus, its training and (nVal) validation sequences, the steps from
// the current one, where (the backend's device and precision; of several
// ranks, each one's share of a batch) and the output folder.
func (t *Trainer) DataLine(corpus string, nVal int) string {
	on := string(t.be.Device())
	if t.be.Precision() == backend.BF16 {
		on += " (bf16 products)"
	}
	if n := t.rank.comm.Size(); n > 1 {
		least, most := t.opts.Batch/n, (t.opts.Batch+n-1)/n
		seqs := fmt.Sprint(least)
		if most > least {
			seqs += fmt.Sprintf(" or %d", most)
		}
		on = fmt.Sprintf("%d processes (%s each, %s sequences of every batch)", n, on, seqs)
	}
	return fmt.Sprintf("data: %s, %d training and %d validation sequences; %d steps of %d from step %d on %s; output %s",
		corpus, len(t.trainSeqs), nVal, t.opts.Steps, t.opts.Batch, t.State.Step, on, t.OutDir)
}

// Summary describes a finished Run: the steps trained and their time, the
// best validation loss and its checkpoint, and, of several ranks, the
// time per step in the sums over them since step first.
func (t *Trainer) Summary(first int) string {
	best := 0.0
	if t.State.BestValLoss != nil {
		best = *t.State.BestValLoss
	}
	s := fmt.Sprintf("trained %d steps in %s; best validation loss %.4f at step %d (%s)", t.State.Step,
		time.Duration(t.State.Elapsed*float64(time.Second)).Round(time.Second), best, t.State.BestStep, filepath.Join(t.OutDir, "best"))
	if n := t.rank.comm.Size(); n > 1 && t.State.Step > first {
		s += fmt.Sprintf("\ncommunication: %.2f ms per step in the sums over the %d processes (rank 0's, waiting for the slowest included)",
			1e3*t.CommSeconds()/float64(t.State.Step-first), n)
	}
	return s
}
