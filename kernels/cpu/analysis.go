package cpu

import (
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/attn"
)

// RowStats returns, for every query row, the entropy of its attention
// distribution, H_i = -Σ_j p_ij ln p_ij, and the share of its attention mass
// on keys within distance band (|i-j| <= band), given the forward output
// (whose last column holds the row log-sum-exp). Dropout is ignored (the
// analyses look at the distribution itself). It works block by block like
// Forward and never holds an L×L matrix. Padding rows get NaN.
func (a *Attention[T]) RowStats(out []T, band int) (entropy, mass []float64, err error) {
	if a.Gated {
		return nil, nil, fmt.Errorf("attention stats: need the ungated forward output (Gated is set)")
	}
	w := getWorkspace[T](a.Work)
	defer putWorkspace(a.Work, w)
	p, err := a.prepare(w, false)
	if err != nil {
		return nil, nil, err
	}
	B, L, E := a.B, a.L, a.E
	OW := a.OutWidth()
	if len(out) < B*L*OW {
		return nil, nil, fmt.Errorf("attention stats: output has %d elements, want %d", len(out), B*L*OW)
	}
	entropy = make([]float64, B*L)
	mass = make([]float64, B*L)
	bqRows := a.qBlock()
	nq := (L + bqRows - 1) / bqRows
	threads := min(threadsOr(a.Threads), B*nq)
	scratch := w.scratchFor(threads, E)
	err = forEach(B*nq, threads, func(wk, item int) error {
		ws := scratch[wk]
		b, ib := item/nq, item%nq
		i0, i1 := ib*bqRows, min((ib+1)*bqRows, L)
		for j0 := 0; j0 < L; j0 += blockK {
			j1 := min(j0+blockK, L)
			class := a.Policy.Classify(i0, i1, j0, j1)
			if class == attn.BlockSkip {
				continue
			}
			a.scores(p, ws, b, i0, i1, j0, j1, class)
			for r := 0; r < i1-i0; r++ {
				row := b*L + i0 + r
				lse := float64(out[row*OW+E])
				for c := 0; c < j1-j0; c++ {
					k := r*blockK + c
					if ws.kind[k] == kindMasked {
						continue
					}
					logp := float64(ws.s[k]) - lse
					pr := math.Exp(logp)
					entropy[row] -= pr * logp
					if d := i0 + r - (j0 + c); d <= band && -d <= band {
						mass[row] += pr
					}
				}
			}
		}
		return nil
	})
	for i := range entropy {
		if !p.valid[i] {
			entropy[i], mass[i] = math.NaN(), math.NaN()
		}
	}
	return entropy, mass, err
}

// Vectors returns the queries and keys of every row after ScaleOffset and
// CosScale, before (q, k) and after (qRot, kRot) the policy's rotation, each
// [B·L, D] (row-major). Neither carries the logit scale c(n)·m/sqrt(d).
// For ALiBi the rotated vectors equal the unrotated ones.
func (a *Attention[T]) Vectors() (q, k, qRot, kRot []T, err error) {
	w := getWorkspace[T](a.Work)
	defer putWorkspace(a.Work, w)
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
