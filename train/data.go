// Package train trains the GAU-α masked language model: the MLM data
// pipeline, AdamW with decoupled weight decay, the warm-up/decay schedule,
// gradient clipping, periodic evaluation, checkpoints (Hugging Face layout,
// atomic, resumable) and the metrics log.
package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/pipeline"
	"github.com/infoscale/gaualpha/tokenizer"
)

// MLM masking rates (BERT's, as in the paper).
const (
	MaskRate   = 0.15 // share of the non-special tokens selected
	MaskToMask = 0.8  // of the selected: replaced by [MASK]
	MaskToRand = 0.1  // replaced by a random token (the rest stay)
)

// Sequences tokenises docs and cuts every document into training sequences
// of length L: [CLS], up to L-2 tokens, [SEP]. The last piece of a document
// may be shorter (it is padded in a batch); pieces of fewer than 2 tokens
// are dropped.
func Sequences(docs []corpus.Document, v *tokenizer.Vocab, L int) ([][]int, error) {
	if L < 3 {
		return nil, fmt.Errorf("sequence length %d too short: need at least 3 ([CLS], a token, [SEP])", L)
	}
	var out [][]int
	for _, d := range docs {
		ids := v.Encode(d.Text)
		for start := 0; start < len(ids); start += L - 2 {
			piece := ids[start:min(start+L-2, len(ids))]
			if len(piece) < 2 {
				continue
			}
			seq := make([]int, 0, len(piece)+2)
			seq = append(seq, v.CLS())
			seq = append(seq, piece...)
			seq = append(seq, v.SEP())
			out = append(out, seq)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no training sequences: the documents have no tokens")
	}
	return out, nil
}

// Masker applies BERT's masking to sequences.
type Masker struct {
	vocab   *tokenizer.Vocab
	regular []int // ids a random replacement is drawn from
	// cand and targets are Mask's scratch, reused by FillBatch.
	cand, targets []int
	// plant, when set, may turn sequence b of a batch into another
	// training sample in place (the trainer's passkey samples): it returns
	// the positions and targets that sequence scores, and ok; the sequence
	// is masked as usual when ok is false.
	plant func(b int, row []int) (pos, targets []int, ok bool)
}

// NewMasker returns a masker for v.
func NewMasker(v *tokenizer.Vocab) (*Masker, error) {
	m := &Masker{vocab: v}
	for id := 0; id < v.Size(); id++ {
		if !v.IsSpecial(id) {
			m.regular = append(m.regular, id)
		}
	}
	if len(m.regular) == 0 {
		return nil, fmt.Errorf("vocabulary has no regular tokens to mask")
	}
	return m, nil
}

// PerSequence is the largest number of positions Mask selects in a
// sequence of n non-special tokens: ⌈0.15·n⌉ (at least 1 when n > 0).
func PerSequence(n int) int {
	if n <= 0 {
		return 0
	}
	return max(1, int(math.Ceil(MaskRate*float64(n))))
}

// selectCount draws how many of n tokens to select: 0.15·n rounded down or
// up at random with the odds that make the expected count exactly 0.15·n
// (at least 1 when n > 0).
func selectCount(n int, rng *rand.Rand) int {
	if n <= 0 {
		return 0
	}
	x := MaskRate * float64(n)
	k := int(math.Floor(x))
	if rng.Float64() < x-float64(k) {
		k++
	}
	return max(1, k)
}

// mask selects 15% of the n non-special positions of seq (selectCount of
// them, uniformly, without replacement) and corrupts them in place: 80% become
// [MASK], 10% a random regular token, 10% stay. It returns the selected
// positions and their original tokens, written into cand and targets (grown
// as needed).
func (m *Masker) mask(seq []int, rng *rand.Rand, cand, targets []int) (pos, tgt []int) {
	cand = cand[:0]
	for i, id := range seq {
		if !m.vocab.IsSpecial(id) {
			cand = append(cand, i)
		}
	}
	k := selectCount(len(cand), rng)
	// Partial Fisher–Yates: the first k of a random permutation.
	for i := 0; i < k; i++ {
		j := i + rng.IntN(len(cand)-i)
		cand[i], cand[j] = cand[j], cand[i]
	}
	pos = cand[:k]
	targets = slices.Grow(targets[:0], k)[:k]
	for i, p := range pos {
		targets[i] = seq[p]
		switch r := rng.Float64(); {
		case r < MaskToMask:
			seq[p] = m.vocab.Mask()
		case r < MaskToMask+MaskToRand:
			seq[p] = m.regular[rng.IntN(len(m.regular))]
		}
	}
	return pos, targets
}

// HeadRows is the fixed number of MLM head rows of a training batch of B
// sequences of length L: every sequence contributes at most
// PerSequence(L-2) selected positions; unused rows are ignored targets.
func HeadRows(B, L int) int { return B * PerSequence(L-2) }

// MakeBatch assembles B sequences (each at most L long) into a batch with
// masking drawn from rng. Unused head rows point at row 0 with an ignored
// target. pos, when not nil, supplies the position ids of each sequence
// (PoSE); otherwise positions are 0..L-1.
func (m *Masker) MakeBatch(seqs [][]int, L int, rng *rand.Rand, pos func(b int) []int) *gau.Batch {
	bt := new(gau.Batch)
	m.FillBatch(bt, seqs, L, rng, pos)
	return bt
}

// FillBatch is MakeBatch writing into bt, whose slices it reuses (a
// training step's batch allocates nothing once they have their size). The
// random draws, and so the batch, are MakeBatch's.
func (m *Masker) FillBatch(bt *gau.Batch, seqs [][]int, L int, rng *rand.Rand, pos func(b int) []int) {
	B := len(seqs)
	bt.IDs = resize(bt.IDs, B*L)
	bt.Mask = resize(bt.Mask, B*L)
	bt.Pos = nil
	if pos != nil {
		bt.Pos = resize(bt.Pos, B*L)
	}
	per := PerSequence(L - 2)
	bt.Select, bt.Targets = bt.Select[:0], bt.Targets[:0]
	for b, s := range seqs {
		row := bt.IDs[b*L : (b+1)*L]
		copy(row, s)
		for i := range s {
			bt.Mask[b*L+i] = 1
		}
		if pos != nil {
			copy(bt.Pos[b*L:(b+1)*L], pos(b))
		}
		var p, t []int
		planted := false
		if m.plant != nil {
			p, t, planted = m.plant(b, row[:len(s)])
		}
		if !planted {
			p, t = m.mask(row[:len(s)], rng, m.cand, m.targets)
			m.cand, m.targets = p[:0], t[:0]
		}
		for i := 0; i < per; i++ {
			if i < len(p) {
				bt.Select = append(bt.Select, b*L+p[i])
				bt.Targets = append(bt.Targets, t[i])
			} else {
				bt.Select = append(bt.Select, 0)
				bt.Targets = append(bt.Targets, pipeline.IgnoreTarget)
			}
		}
	}
}

// resize returns s with length n and every element 0, reusing its array
// when large enough.
func resize(s []int, n int) []int {
	s = slices.Grow(s[:0], n)[:n]
	clear(s)
	return s
}
