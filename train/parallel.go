package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/internal/runlock"
	"github.com/infoscale/gaualpha/metrics"
	"github.com/infoscale/gaualpha/pipeline"
)

// Data-parallel training: every rank of a group (collective.Comm) draws
// the step's whole global batch exactly as one process does (the same
// sequences, the same masking), keeps its contiguous share of the
// sequences (collective.Share) and runs the model on them, its dropout
// drawing those sequences' masks in the global batch (gau.RowOffset).
// The loss is the mean over the masked tokens: each rank's graph computes
// the mean over its own, so its share of the global mean is its count over
// the global count, the weight backend.Optimizer.Step gives its loss and
// gradients before they are summed over the ranks. Validation runs each
// rank's share of the validation batches and sums the tallies. Rank 0
// alone writes (checkpoints, metrics, the progress bar) and holds the run
// folder's lock.

// rankShare is what a trainer knows of its place in a group.
type rankShare struct {
	comm   collective.Comm
	lo, hi int        // this rank's sequences of a training batch
	local  gau.Batch  // the step's rows of this rank, reused
	stop   [1]float64 // the stop flag summed over the ranks
}

// newRankShare places rank c.Rank() in a group training batches of batch
// sequences.
func newRankShare(c collective.Comm, batch int) (rankShare, error) {
	if c == nil {
		c = collective.Single{}
	}
	if batch < c.Size() {
		return rankShare{}, fmt.Errorf("a batch of %d sequences cannot be shared among %d processes (each needs one at least)", batch, c.Size())
	}
	lo, hi := collective.Share(batch, c.Rank(), c.Size())
	return rankShare{comm: c, lo: lo, hi: hi}, nil
}

// parallel reports whether there are several ranks.
func (r *rankShare) parallel() bool { return r.comm.Size() > 1 }

// SliceBatch writes into dst the sequences [lo, hi) of bt, a batch of
// sequences of length L whose head rows are per sequence in blocks of
// equal size (as Masker.MakeBatch makes them): the ids, types, mask and
// positions of those sequences, their head rows with the selected
// positions counted from the first of them (an unused row, with an
// ignored target, selects row 0). dst's slices are reused.
func SliceBatch(dst, bt *gau.Batch, L, lo, hi int) {
	B := len(bt.IDs) / L
	per := len(bt.Select) / max(B, 1)
	part := func(dst, src []int, w int) []int {
		if src == nil {
			return nil
		}
		return append(dst[:0], src[lo*w:hi*w]...)
	}
	dst.IDs = part(dst.IDs, bt.IDs, L)
	dst.Types = part(dst.Types, bt.Types, L)
	dst.Mask = part(dst.Mask, bt.Mask, L)
	dst.Pos = part(dst.Pos, bt.Pos, L)
	dst.Targets = part(dst.Targets, bt.Targets, per)
	dst.Select = part(dst.Select, bt.Select, per)
	for i, t := range dst.Targets {
		if t == pipeline.IgnoreTarget {
			dst.Select[i] = 0
		} else {
			dst.Select[i] -= lo * L
		}
	}
	dst.Key = bt.Key
}

// counted is the number of targets that are not ignored.
func counted(targets []int) int {
	n := 0
	for _, t := range targets {
		if t != pipeline.IgnoreTarget {
			n++
		}
	}
	return n
}

// rows returns this rank's rows of the global batch bt and its share of
// the batch's loss: its masked tokens over the batch's (1 in one
// process).
func (r *rankShare) rows(bt *gau.Batch, L int) (*gau.Batch, float64) {
	if !r.parallel() {
		return bt, 1
	}
	SliceBatch(&r.local, bt, L, r.lo, r.hi)
	all := counted(bt.Targets)
	if all == 0 {
		return &r.local, 0
	}
	return &r.local, float64(counted(r.local.Targets)) / float64(all)
}

// sumTally adds the ranks' validation tallies.
func (r *rankShare) sumTally(tl metrics.Tally) (metrics.Tally, error) {
	if !r.parallel() {
		return tl, nil
	}
	s := []float64{float64(tl.Count), float64(tl.Correct), tl.SumLoss}
	if err := r.comm.AllReduceSum64(s); err != nil {
		return tl, fmt.Errorf("validation: summing the ranks' tallies: %w", err)
	}
	return metrics.Tally{Count: int(s[0]), Correct: int(s[1]), SumLoss: s[2]}, nil
}

// stopping returns whether any rank asks to stop (ctx done): the ranks
// stop at the same step.
func (r *rankShare) stopping(mine bool) (bool, error) {
	if !r.parallel() {
		return mine, nil
	}
	r.stop[0] = 0
	if mine {
		r.stop[0] = 1
	}
	if err := r.comm.AllReduceSum64(r.stop[:]); err != nil {
		return true, fmt.Errorf("training: agreeing to go on: %w", err)
	}
	return r.stop[0] > 0, nil
}

// weightsDigest is the SHA-256 of the trainer's weights, the step and the
// optimizer's step count (the weights as the host holds them: Pull first).
func (t *Trainer) weightsDigest() string {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(t.State.Step))
	h.Write(b[:])
	binary.LittleEndian.PutUint64(b[:], uint64(t.Opt.Step))
	h.Write(b[:])
	for _, n := range t.Params.Named() {
		for _, x := range n.T.Data().([]float32) {
			binary.LittleEndian.PutUint32(b[:4], math.Float32bits(x))
			h.Write(b[:4])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CheckSameWeights checks that every rank holds the same weights, step and
// optimizer step (a digest of them gathered on rank 0), and returns the
// digest; every rank calls it. The weights come back from the backend
// first.
func (t *Trainer) CheckSameWeights() (string, error) {
	if err := t.opt.Pull(); err != nil {
		return "", err
	}
	d := t.weightsDigest()
	if err := collective.Agree(t.rank.comm, "weights (SHA-256 of the weights, step and optimizer step)", d); err != nil {
		return "", fmt.Errorf("step %d: %w", t.State.Step, err)
	}
	return d, nil
}

// LockRunRank is LockRun for the ranks of a group: rank 0 takes the lock
// of the run folder dir (and repairs it) and every rank learns whether it
// did, so that all return an error or none does. The other ranks hold no
// lock (nil): they read the folder after this returns and never write it.
func LockRunRank(c collective.Comm, dir string) (*runlock.Lock, error) {
	var lk *runlock.Lock
	var err error
	var msg string
	if c.Rank() == 0 {
		if lk, err = LockRun(dir); err != nil {
			msg = err.Error()
		}
	}
	if c.Size() == 1 {
		return lk, err
	}
	got, berr := collective.BroadcastJSON(c, msg, 0)
	switch {
	case berr != nil:
		if lk != nil {
			lk.Release()
		}
		return nil, berr
	case got == "":
		return lk, nil
	case c.Rank() == 0:
		return nil, err
	}
	return nil, fmt.Errorf("rank 0 could not take the run folder %s: %s", dir, got)
}

// CommSeconds is the wall time this rank's steps have spent in the sums
// over the ranks (backend.Optimizer.CommSeconds; 0 in one process).
func (t *Trainer) CommSeconds() float64 {
	if t.opt == nil {
		return 0
	}
	return t.opt.CommSeconds()
}
