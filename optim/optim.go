// Package optim holds the optimisation rules of training, as the CPU
// reference the device's kernels are tested against: AdamW with PyTorch's
// update rule, global gradient-norm clipping, and the linear warm-up and
// decay schedule of the learning rate.
package optim

import (
	"errors"
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/kernels/parallel"
	"github.com/infoscale/gaualpha/kernels/simd"
)

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), with
// PyTorch's update rule and defaults of the paper: β1 0.9, β2 0.999, ε 1e-8,
// weight decay 0.01. The moments live here, one pair per parameter, and the
// update is applied in place.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// Step counts the updates applied (PyTorch's state["step"]).
	Step int
	// M and V are the first and second moments, one slice per parameter.
	M, V [][]float32
	// Decay marks the parameters weight decay applies to.
	Decay []bool
}

// NewAdamW returns an optimizer for parameters of the given sizes. decay
// says which of them are decayed (this project decays matrices and
// embeddings, not the ScaleOffset gammas, as is usual for norm-like scales).
func NewAdamW(sizes []int, decay []bool, weightDecay float64) *AdamW {
	o := &AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay, Decay: decay}
	for _, n := range sizes {
		o.M = append(o.M, make([]float32, n))
		o.V = append(o.V, make([]float32, n))
	}
	return o
}

// Update applies one step with learning rate lr to params given grads.
func (o *AdamW) Update(params, grads [][]float32, lr float64) error {
	if len(params) != len(o.M) || len(grads) != len(o.M) {
		return fmt.Errorf("adamw: %d parameters and %d gradients for %d moment pairs", len(params), len(grads), len(o.M))
	}
	o.Step++
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.Step))
	stepSize := lr / bc1
	sqrtBC2 := math.Sqrt(bc2)
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	for i := range params {
		p, g, m, v := params[i], grads[i], o.M[i], o.V[i]
		if len(p) != len(m) || len(g) != len(m) {
			return fmt.Errorf("adamw: parameter %d has %d values, gradient %d, moments %d", i, len(p), len(g), len(m))
		}
		decay := float32(1)
		if o.Decay[i] {
			decay = float32(1 - lr*o.WeightDecay)
		}
		// Per element, in float32 but the last step:
		//   m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²
		//   p = p·decay - stepSize·m / (sqrt(v)/sqrt(bc2) + ε)
		// Elements are independent: the pieces may run on any core.
		step := simd.AdamWStep{Beta1: b1, Beta2: b2, Decay: decay, StepSize: stepSize, SqrtBC2: sqrtBC2, Eps: o.Eps}
		if len(p) < adamWPiece {
			simd.AdamW(p, g, m, v, step)
			continue
		}
		adamWJob.Each(len(p), adamWPiece, 0, adamWArgs{p: p, g: g, m: m, v: v, step: step})
	}
	return nil
}

// adamWPiece is the number of elements a core updates at a time.
const adamWPiece = 1 << 15

type adamWArgs struct {
	p, g, m, v []float32
	step       simd.AdamWStep
}

var adamWJob = parallel.Job[adamWArgs]{Body: func(a *adamWArgs, _, lo, hi int) {
	simd.AdamW(a.p[lo:hi], a.g[lo:hi], a.m[lo:hi], a.v[lo:hi], a.step)
}}

// ClipGradNorm scales grads so that their global L2 norm is at most maxNorm
// (PyTorch's clip_grad_norm_: factor maxNorm/(norm+1e-6) when norm exceeds
// maxNorm) and returns the norm before clipping. A non-finite norm is
// returned as is, and the gradients are left alone.
//
// The norm is the square root of SumSquares. The scaling multiplies each
// gradient by the float32 factor (each product rounded), on every core.
func ClipGradNorm(grads [][]float32, maxNorm float64) float64 {
	norm := math.Sqrt(SumSquares(grads))
	if maxNorm <= 0 || math.IsNaN(norm) || math.IsInf(norm, 0) || norm <= maxNorm {
		return norm
	}
	f := float32(maxNorm / (norm + 1e-6))
	for _, g := range grads {
		if len(g) < normPiece {
			simd.Scale(g, f)
			continue
		}
		scaleJob.Each(len(g), normPiece, 0, scaleArgs{g: g, f: f})
	}
	return norm
}

// SumSquares returns the sum of the squares of the gradients in float64:
// each tensor is cut into pieces of normPiece elements, each piece summed
// by simd.SumSquares (every square exact, the sum in float64 partial sums
// across the vector lanes), and the pieces' sums added in order, tensor by
// tensor. The pieces are summed on every core; the result does not depend
// on how many there are.
func SumSquares(grads [][]float32) float64 {
	var s float64
	for _, g := range grads {
		if len(g) <= normPiece {
			s += simd.SumSquares(g)
			continue
		}
		pieces := (len(g) + normPiece - 1) / normPiece
		part := normParts.Get()
		if cap(part.sums) < pieces {
			part.sums = make([]float64, pieces)
		}
		part.sums = part.sums[:pieces]
		sumSqJob.Each(pieces, 1, 0, sumSqArgs{g: g, sums: part.sums})
		for _, v := range part.sums {
			s += v
		}
		normParts.Put(part)
	}
	return s
}

// normPiece is the number of gradient elements a core sums or scales at a
// time.
const normPiece = 1 << 14

type sumSqArgs struct {
	g    []float32
	sums []float64
}

var sumSqJob = parallel.Job[sumSqArgs]{Body: func(a *sumSqArgs, _, lo, hi int) {
	for i := lo; i < hi; i++ {
		a.sums[i] = simd.SumSquares(a.g[i*normPiece : min(len(a.g), (i+1)*normPiece)])
	}
}}

// normParts keeps the buffers of the pieces' sums.
var normParts parallel.FreeList[struct{ sums []float64 }]

type scaleArgs struct {
	g []float32
	f float32
}

var scaleJob = parallel.Job[scaleArgs]{Body: func(a *scaleArgs, _, lo, hi int) {
	simd.Scale(a.g[lo:hi], a.f)
}}

// Schedule is linear warm-up from 0 to the peak over the first Warmup steps,
// then linear decay to 0 at Total (Hugging Face's
// get_linear_schedule_with_warmup).
type Schedule struct {
	Peak          float64
	Warmup, Total int
}

// At returns the learning rate of step (0-based).
func (s Schedule) At(step int) float64 {
	if step < s.Warmup {
		return s.Peak * float64(step) / float64(max(1, s.Warmup))
	}
	return s.Peak * math.Max(0, float64(s.Total-step)/float64(max(1, s.Total-s.Warmup)))
}

// ErrNonFinite is returned (wrapped) when a training step's loss or
// gradient norm is NaN or infinite; no update is applied.
var ErrNonFinite = errors.New("non-finite loss or gradient")

// CheckFinite returns an error wrapping ErrNonFinite, naming what, when v
// is NaN or infinite.
func CheckFinite(what string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s is %v: %w", what, v, ErrNonFinite)
	}
	return nil
}
