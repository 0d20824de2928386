package train

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/checkpoint"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/pipeline"
	"github.com/infoscale/gaualpha/tokenizer"
)

// The sequences [lo, hi) of a batch, sliced, are that batch's rows: the
// pieces of every cut put back together give the batch (the selected rows
// counted from each piece's first sequence, unused rows selecting 0).
func TestSliceBatch(t *testing.T) {
	v := testVocab(t)
	mk, err := NewMasker(v)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const B, L = 5, 12
	var seqs [][]int
	for b := range B {
		seq := []int{v.CLS()}
		for range L - 2 - b { // later sequences shorter: padding, fewer head rows used
			seq = append(seq, 5+rng.IntN(v.Size()-5))
		}
		seqs = append(seqs, append(seq, v.SEP()))
	}
	bt := mk.MakeBatch(seqs, L, rng, func(int) []int { return PoSEPositions(L, 4*L, rng) })
	bt.Key = 99
	per := len(bt.Select) / B
	for _, cut := range [][]int{{0, 5}, {0, 2, 5}, {0, 1, 3, 4, 5}} {
		var got gau.Batch
		for k := 0; k+1 < len(cut); k++ {
			lo, hi := cut[k], cut[k+1]
			var piece gau.Batch
			SliceBatch(&piece, bt, L, lo, hi)
			if piece.Key != bt.Key || len(piece.IDs) != (hi-lo)*L || len(piece.Select) != (hi-lo)*per {
				t.Fatalf("cut %v: piece [%d, %d) has key %d, %d ids, %d head rows", cut, lo, hi, piece.Key, len(piece.IDs), len(piece.Select))
			}
			for i, s := range piece.Select {
				orig := s + lo*L
				switch {
				case piece.Targets[i] == pipeline.IgnoreTarget:
					if s != 0 {
						t.Errorf("cut %v: an unused head row selects %d", cut, s)
					}
					orig = 0
				case s < 0 || s >= len(piece.IDs):
					t.Errorf("cut %v: piece [%d, %d) selects row %d of %d", cut, lo, hi, s, len(piece.IDs))
				}
				got.Select = append(got.Select, orig)
			}
			got.IDs = append(got.IDs, piece.IDs...)
			got.Mask = append(got.Mask, piece.Mask...)
			got.Pos = append(got.Pos, piece.Pos...)
			got.Targets = append(got.Targets, piece.Targets...)
		}
		if !slices.Equal(got.IDs, bt.IDs) || !slices.Equal(got.Mask, bt.Mask) || !slices.Equal(got.Pos, bt.Pos) ||
			!slices.Equal(got.Targets, bt.Targets) || !slices.Equal(got.Select, bt.Select) {
			t.Errorf("cut %v: the pieces put together are not the batch", cut)
		}
	}
}

// tinyRun is the tiny setup of the trainer's tests, to train on several
// in-process ranks.
type tinyRun struct {
	cfg        gau.Config
	v          *tokenizer.Vocab
	trs, vas   [][]int
	o          Options
	initParams func() *gau.Params
}

func newTinyRun(t *testing.T, steps int) tinyRun {
	cfg, v, trs, vas := tinySetup(t)
	o := DefaultOptions()
	o.Steps, o.Batch, o.EvalEvery, o.EvalSeqs, o.LR = steps, 8, 4, 32, 3e-3
	return tinyRun{cfg: cfg, v: v, trs: trs, vas: vas, o: o, initParams: func() *gau.Params {
		return gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(o.Seed, 0)))
	}}
}

// onRanks runs f on the trainer of each of n in-process ranks.
func (r tinyRun) onRanks(n int, f func(c collective.Comm, tr *Trainer) error) error {
	return collective.RunLocal(n, func(c collective.Comm) error {
		tr, err := NewRank(c, r.cfg, r.v, r.initParams(), r.trs, r.vas, r.o)
		if err != nil {
			return err
		}
		defer tr.Close()
		return f(c, tr)
	})
}

// The tolerances of a data-parallel run against one process: each rank
// sums its rows' gradients and the ranks' sums are added, where one
// process adds all rows at once, so the float32 sums differ in their last
// bits, and AdamW's first steps (m/√v near ±1 for every weight) carry the
// difference into the weights.
const (
	parallelLossTol   = 1e-5 // relative, a step's loss
	parallelWeightTol = 1e-5 // absolute, a weight after a few steps at lr 3e-3
)

// Two and three ranks train as one process does: the same losses step by
// step and the same validation (within the tolerances of sums in another
// order), and every rank holds the same weights, to the last bit.
func TestDataParallelSteps(t *testing.T) {
	const K = 6
	run := newTinyRun(t, K)
	one, err := New(run.cfg, run.v, run.initParams(), run.trs, run.vas, run.o)
	if err != nil {
		t.Fatal(err)
	}
	want := stepLosses(t, one, K)
	wantVal, err := one.validate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantW := weights(one.Params)
	for _, n := range []int{2, 3} {
		var mu sync.Mutex
		ws := map[int][][]float32{}
		var worst float64
		err := run.onRanks(n, func(c collective.Comm, tr *Trainer) error {
			for k := range K {
				l, _, err := tr.Step()
				if err != nil {
					return err
				}
				if math.Abs(l-want[k]) > parallelLossTol*want[k] {
					return fmt.Errorf("step %d: loss %.9f, one process %.9f", k+1, l, want[k])
				}
			}
			val, err := tr.validate(context.Background())
			if err != nil {
				return err
			}
			if val.Count != wantVal.Count || math.Abs(val.Loss()-wantVal.Loss()) > 1e-5*wantVal.Loss() {
				return fmt.Errorf("validation %+v, one process %+v", val, wantVal)
			}
			if err := tr.opt.Pull(); err != nil {
				return err
			}
			w := weights(tr.Params)
			mu.Lock()
			defer mu.Unlock()
			ws[c.Rank()] = w
			for i := range w {
				for j := range w[i] {
					worst = max(worst, math.Abs(float64(w[i][j]-wantW[i][j])))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%d ranks: %v", n, err)
		}
		t.Logf("%d ranks: largest weight difference from one process after %d steps: %.3g", n, K, worst)
		if worst > parallelWeightTol {
			t.Errorf("%d ranks: a weight differs from one process's by %.3g", n, worst)
		}
		for r := 1; r < n; r++ {
			for i := range ws[0] {
				if !slices.Equal(ws[r][i], ws[0][i]) {
					t.Errorf("%d ranks: rank %d's parameter %d differs from rank 0's", n, r, i)
				}
			}
		}
	}
}

// A two-rank Run writes its folder from rank 0 alone (rank 1 takes no
// lock: both ranks run in this process and their flocks would collide),
// and -resume works with any number of ranks: the last/ checkpoint a
// two-rank run wrote at step 8 continues on one, two and three ranks to
// step 12 as the straight two-rank run did (to the last bit with two).
func TestDataParallelRunAndResume(t *testing.T) {
	const N, k = 12, 8
	run := newTinyRun(t, N)
	straight := t.TempDir()
	var mu sync.Mutex
	final := map[int][][]float32{}
	err := run.onRanks(2, func(c collective.Comm, tr *Trainer) error {
		tr.OutDir = straight
		if err := tr.Run(context.Background()); err != nil {
			return err
		}
		mu.Lock()
		final[c.Rank()] = weights(tr.Params)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"best", "last", LogFile} {
		if _, err := os.Stat(filepath.Join(straight, f)); err != nil {
			t.Errorf("the two-rank run wrote no %s: %v", f, err)
		}
	}
	// Stopped at step k: last/ of step k, written by rank 0.
	stopped := t.TempDir()
	err = run.onRanks(2, func(c collective.Comm, tr *Trainer) error {
		tr.OutDir = stopped
		for range k {
			if _, _, err := tr.Step(); err != nil {
				return err
			}
		}
		_, err := tr.evaluate(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(filepath.Join(stopped, "last"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.State.Step != k {
		t.Fatalf("last/ holds step %d, want %d", ck.State.Step, k)
	}
	for _, n := range []int{1, 2, 3} {
		got := map[int][][]float32{}
		err := run.onRanks(n, func(c collective.Comm, tr *Trainer) error {
			ck, err := checkpoint.Load(filepath.Join(stopped, "last"))
			if err != nil {
				return err
			}
			if err := tr.Resume(ck); err != nil {
				return err
			}
			for tr.State.Step < N {
				if _, _, err := tr.Step(); err != nil {
					return err
				}
			}
			if _, err := tr.CheckSameWeights(); err != nil {
				return err
			}
			mu.Lock()
			got[c.Rank()] = weights(tr.Params)
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatalf("resumed on %d ranks: %v", n, err)
		}
		var worst float64
		for i := range final[0] {
			for j := range final[0][i] {
				worst = max(worst, math.Abs(float64(got[0][i][j]-final[0][i][j])))
			}
		}
		switch {
		case n == 2 && worst != 0:
			t.Errorf("resumed on 2 ranks: weights differ from the straight two-rank run by %.3g", worst)
		case worst > parallelWeightTol:
			t.Errorf("resumed on %d ranks: weights differ from the straight two-rank run by %.3g", n, worst)
		}
	}
}

// Ranks that start from different weights are stopped before the first
// step; a batch smaller than the group is refused.
func TestDataParallelChecks(t *testing.T) {
	run := newTinyRun(t, 4)
	err := collective.RunLocal(2, func(c collective.Comm) error {
		p := run.initParams()
		if c.Rank() == 1 {
			p.Layers[0].GammaQ.Data().([]float32)[0] += 1e-3
		}
		tr, err := NewRank(c, run.cfg, run.v, p, run.trs, run.vas, run.o)
		if err != nil {
			return err
		}
		defer tr.Close()
		return tr.Run(context.Background())
	})
	if err == nil || !strings.Contains(err.Error(), "rank 1's weights") {
		t.Errorf("ranks with different weights: %v", err)
	}
	o := run.o
	o.Batch = 2
	err = collective.RunLocal(3, func(c collective.Comm) error {
		_, err := NewRank(c, run.cfg, run.v, run.initParams(), run.trs, run.vas, o)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "a batch of 2 sequences cannot be shared among 3 processes") {
		t.Errorf("batch 2 on 3 ranks: %v", err)
	}
}

// stepLosses runs k steps of tr and returns their losses.
func stepLosses(t *testing.T, tr *Trainer, k int) []float64 {
	t.Helper()
	var losses []float64
	for range k {
		l, _, err := tr.Step()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, l)
	}
	return losses
}
