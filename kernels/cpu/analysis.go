package cpu

import (
	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/kernels/parallel"
)

// LogitBlock is one block of query rows [I0, I1) and keys [J0, J1) of
// sequence B, with the logits the forward pass computes for it (the
// policy's temperature, rotation and bias applied; dropout is not).
type LogitBlock[T Float] struct {
	B, I0, I1, J0, J1 int
	s                 []T
	kind              []int8 // s's layout: row stride J1-J0
}

// At returns the logit of query row I0+r and key J0+c, and false when the
// pair is masked (a padding key, or outside the policy's mask).
func (lb *LogitBlock[T]) At(r, c int) (T, bool) {
	k := r*(lb.J1-lb.J0) + c
	return lb.s[k], lb.kind[k] != kindMasked
}

// LogitBlocks calls visit for every block of queries and keys that the
// policy does not skip, block by block as Forward computes them (never an
// L×L matrix), from several goroutines at once: visit must only write
// state of the rows I0..I1 of its block's sequence. With the forward
// output's log-sum-exp (its last column) the blocks give the attention
// probabilities, from which the analyses compute their statistics.
func (a *Attention[T]) LogitBlocks(visit func(lb *LogitBlock[T]) error) error {
	w := getWorkspace[T](a.Work)
	defer putWorkspace(a.Work, w)
	defer w.clearAttention()
	p, err := a.prepare(w, false)
	if err != nil {
		return err
	}
	B, L, E := a.B, a.L, a.E
	bqRows := a.qBlock()
	nq := (L + bqRows - 1) / bqRows
	threads := min(parallel.Workers(a.Threads), B*nq)
	scratch := w.scratchFor(threads, E)
	return forEach(B*nq, threads, func(wk, item int) error {
		ws := scratch[wk]
		b, ib := item/nq, item%nq
		i0, i1 := ib*bqRows, min((ib+1)*bqRows, L)
		for j0 := 0; j0 < L; j0 += blockK {
			j1 := min(j0+blockK, L)
			class := a.Policy.Classify(i0, i1, j0, j1)
			if class == attn.BlockSkip {
				continue
			}
			a.scores(p, ws, b, i0, i1, j0, j1, class, true)
			if err := visit(&LogitBlock[T]{B: b, I0: i0, I1: i1, J0: j0, J1: j1, s: ws.s, kind: ws.kind}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Vectors returns the queries and keys of every row after ScaleOffset and
// CosScale, before (q, k) and after (qRot, kRot) the policy's rotation, each
// [B·L, D] (row-major). Neither carries the logit scale c(n)·m/sqrt(d).
// For ALiBi the rotated vectors equal the unrotated ones.
func (a *Attention[T]) Vectors() (q, k, qRot, kRot []T, err error) {
	w := getWorkspace[T](a.Work)
	defer putWorkspace(a.Work, w)
	defer w.clearAttention()
	p, err := a.prepare(w, false)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	rows, D := a.B*a.L, a.D
	q = append([]T(nil), p.qn...)
	k = append([]T(nil), p.kn...)
	qRot = make([]T, rows*D)
	kRot = make([]T, rows*D)
	for r := 0; r < rows; r++ {
		qn, kn := q[r*D:(r+1)*D], k[r*D:(r+1)*D]
		if !a.Policy.Rotates() {
			copy(qRot[r*D:], qn)
			copy(kRot[r*D:], kn)
			continue
		}
		cs, sn := p.table(r, a.L)
		rotate(qRot[r*D:(r+1)*D], qn, cs, sn, 1)
		rotate(kRot[r*D:(r+1)*D], kn, cs, sn, 1)
	}
	return q, k, qRot, kRot, nil
}
