package train

import (
	"fmt"
	"runtime"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/testset"
	"github.com/infoscale/gaualpha/tokenizer"
)

// The recipe of a training run, shared by cmd/train, the suite's
// fine-tunes and cmd/bench: the data (Data), a new model's vocabulary
// (NewVocab), the memory estimate (Estimate) and the trainer (New,
// NewRank). The commands add only what is theirs: flags, the model's
// configuration and weights, where the run writes.

// TrainShare is the share of a corpus's documents, in corpus order, that
// training uses; the rest is held out (validation and test documents).
const TrainShare = 0.8

// HeldOut says which of the held-out documents validate: those that are
// neither test documents of an evaluation (Test documents of at least
// MinLen tokens chosen by Rule, seeded by Seed) nor development documents
// (the other held-out documents of at least MinLen tokens): the validation
// documents of testset.SplitHeldOut. Test 0 lets every held-out document
// validate.
type HeldOut struct {
	Rule   string
	Test   int
	MinLen int
	Seed   uint64
}

// Data returns the training and validation sequences of length L of a
// corpus's documents: its first TrainShare of documents for training, the
// held-out validation documents (h) for validation, each cut by Sequences,
// and a note when the held-out split had to let development or test
// documents validate (testset.HeldOut.Note). An error names the split that
// has no sequence.
func Data(docs []corpus.Document, v *tokenizer.Vocab, L int, h HeldOut) (trainSeqs, valSeqs [][]int, note string, err error) {
	trainDocs, valDocs := corpus.Split(docs, TrainShare)
	if trainSeqs, err = Sequences(trainDocs, v, L); err != nil {
		return nil, nil, "", fmt.Errorf("training split (%d of the corpus's %d documents): %w", len(trainDocs), len(docs), err)
	}
	if h.Test > 0 {
		split, err := testset.SplitHeldOut(h.Rule, valDocs, v, h.Test, h.MinLen, h.Seed)
		if err != nil {
			return nil, nil, "", err
		}
		valDocs, note = split.Validation, split.Note()
	}
	if valSeqs, err = Sequences(valDocs, v, L); err != nil {
		return nil, nil, "", fmt.Errorf("validation documents (%d of the corpus's %d held-out documents): %w", len(valDocs), len(docs)-len(trainDocs), err)
	}
	return trainSeqs, valSeqs, note, nil
}

// NewVocab builds a new model's vocabulary from the training split of
// docs: characters seen at least minCount times, at most maxSize tokens
// with the special ones (0: no limit).
func NewVocab(docs []corpus.Document, minCount, maxSize int) (*tokenizer.Vocab, error) {
	trainDocs, _ := corpus.Split(docs, TrainShare)
	v, err := tokenizer.Build(func(yield func(string) bool) {
		for _, d := range trainDocs {
			if !yield(d.Text) {
				return
			}
		}
	}, minCount, maxSize)
	if err != nil {
		return nil, fmt.Errorf("building the vocabulary: %w", err)
	}
	return v, nil
}

// Estimate is the memory one process of a run of ranks processes needs
// (gau.EstimateTraining for its share of each batch and of the
// validation batches), with the token sequences already read in Inputs.
func Estimate(cfg gau.Config, o Options, trainSeqs, valSeqs [][]int, ranks int) gau.TrainingMemory {
	ranks = max(1, ranks)
	L := cfg.TrainLength
	B := (o.Batch + ranks - 1) / ranks
	nVal := len(valSeqs)
	if o.EvalSeqs > 0 {
		nVal = min(nVal, o.EvalSeqs)
	}
	est := gau.EstimateTraining(cfg, gau.Shape{B: B, L: L, M: HeadRows(B, L)}, (min(o.Batch, nVal)+ranks-1)/ranks, nVal, runtime.GOMAXPROCS(0))
	for _, seqs := range [][][]int{trainSeqs, valSeqs} {
		for _, s := range seqs {
			est.Inputs += int64(len(s))*8 + 24 // the ints and the slice header
		}
	}
	return est
}
