package gau

import "math"

// TrainingMemory is an estimate of the host memory, in bytes, that training
// a model on the CPU holds once its steps run (EstimateTraining). The parts
// follow what the code allocates: the graph executor (graph.Machine) keeps
// one pooled buffer per simultaneously live value of each shape, the
// attention kernels keep one arena (kernels/cpu's workspace) per model, and
// the trainer keeps the optimizer state and the masked validation batches.
type TrainingMemory struct {
	// Weights: the parameters, their gradients (plus the second gradient
	// of the tied word embeddings before the two are summed), AdamW's two
	// moments and the copy a checkpoint is written from: 5P + V·h floats.
	Weights int64
	// Activations: the training graph's pooled buffers. Per token row
	// (R = B·L rows): (2N+3) of width h, (N+1) of e and of e+1, (3N+1) of
	// 2e+d: the forward values kept for the backward pass (the input
	// projection before and after swish, the attention output and log-sum-
	// exp, the gated values, the residual sums and Norm outputs of every
	// layer) and the gradients in flight, including one attention gradient
	// of R+2 rows per layer. Per head row (M): the gathered hidden state,
	// the logits and their gradient (h + 2V). Then the validation graph's
	// buffers: per row 2h + e + (2e+d), per head row h + V.
	Activations int64
	// Workspace: the attention arena of each graph. The training graph's
	// is sized by the backward call: q and k before, after CosScale and
	// after the rotation (6), the rotation tables (1), dk (1) and one dq
	// per thread (T), each R·d, plus R; ReRoPE and LM-Infinite add 6 + 2T
	// more for the clamped rotation. The validation graph's forward call
	// holds 5 (9 with a far window). Each thread also keeps a block
	// scratch of 256×128 scores in six arrays and a 256×e accumulator.
	Workspace int64
	// Inputs: the int inputs of both graphs (ids, types, mask, positions,
	// selected rows and targets), one training batch and the masked
	// validation batches (ids and mask of every validation sequence).
	Inputs int64
}

// Total is the sum of the parts.
func (m TrainingMemory) Total() int64 {
	return satAdd(satAdd(m.Weights, m.Activations), satAdd(m.Workspace, m.Inputs))
}

// Host is what stays in host memory when a device runs the steps (the
// weights with the optimizer state, and the int inputs): the part of Total
// that does not move to the device.
func (m TrainingMemory) Host() int64 { return satAdd(m.Weights, m.Inputs) }

// EstimateTraining estimates the memory of training cfg on the CPU with
// batches of shape s (B sequences of length L, M head rows), validation
// batches of valB sequences (valSeqs sequences in all) and threads attention
// threads (runtime.GOMAXPROCS). It is computed from the sizes alone, in
// floating point (no overflow for absurd sizes), before anything is
// allocated, so that a command can refuse a run that cannot fit.
//
// Checked against graph.Machine's buffer pool replayed on the real plan
// (memory_test.go: the activations match it to the byte, 1.00 to 1.07
// times) and against the peak resident set of real runs of cmd/train (the
// default model on the embedded corpus, vocabulary 1499, GOMAXPROCS 2, a
// shared 2-core x86-64 machine, 2026-12-06, GNU time's maximum resident set
// size, default GOGC, no memory limit): the estimate is 0.36 of the peak RSS
// at -batch 32 -seq-len 64 (104 of 291 MiB), 0.62 at -batch 8 -seq-len
// 1024 (380 of 612 MiB) and 0.64 at -batch 4 -seq-len 4096 (748 of 1168
// MiB). What it leaves out is a fixed ~110 MiB (the Go runtime, the corpus
// and its tokens: 113 MiB at -batch 1 -seq-len 8) and the garbage the
// collector lets accumulate up to its goal of twice the live heap; a
// command that checks this estimate against a budget should also set the
// budget as the collector's soft limit (runtime/debug.SetMemoryLimit).
func EstimateTraining(cfg Config, s Shape, valB, valSeqs, threads int) TrainingMemory {
	f := func(n int) float64 { return float64(n) }
	B, L, M := f(s.B), f(s.L), f(s.M)
	R := B * L
	h, e, d := f(cfg.HiddenSize), f(cfg.IntermediateSize), f(cfg.KeySize)
	V, N, T := f(cfg.VocabSize), f(cfg.NumLayers), f(max(threads, 1))
	x := 2*e + d // width of the input projection u | v | z
	P := V*h + f(cfg.TypeVocabSize)*h + N*(x*h+h*e+2*d)
	far := false
	if pol, err := cfg.Policy(""); err != nil {
		far = true // unknown: assume the larger workspace
	} else if _, ok := pol.FarWindow(); ok {
		far = true
	}
	const f32, i64 = 4, 8

	weights := (5*P + V*h) * f32

	vB := f(max(valB, 0))
	vR := vB * L
	vM := 0.0
	if B > 0 {
		vM = M / B * vB
	}
	train := R*((2*N+3)*h+(N+1)*(2*e+1)+(3*N+1)*x) + 2*N*x + M*(h+2*V) + 1 // + the loss
	val := 0.0
	if vB > 0 {
		val = vR*(2*h+e+x) + vM*(h+V) + 1 // + the loss
	}
	activations := (train + val) * f32

	perRowBack, perRowFwd := 8+T, 5.0
	if far {
		perRowBack += 6 + 2*T
		perRowFwd += 4
	}
	const blockQ, blockK = 256, 128
	scratch := T * (blockQ*blockK*(5*f32+1) + 2*blockQ*f32 + blockQ*e*f32)
	workspace := (R*(perRowBack*d+1)+vR*perRowFwd*d)*f32 + (R+vR)*1 + scratch

	inputs := ((4*R+2*M)+(4*vR+2*vM)+(2*R+2*M)+2*f(max(valSeqs, 0))*L)*i64 + 0

	return TrainingMemory{
		Weights:     toBytes(weights),
		Activations: toBytes(activations),
		Workspace:   toBytes(workspace),
		Inputs:      toBytes(inputs),
	}
}

// toBytes converts a float byte count to int64, saturating.
func toBytes(x float64) int64 {
	if !(x < math.MaxInt64) {
		return math.MaxInt64
	}
	return int64(math.Ceil(x))
}

// satAdd adds two non-negative byte counts, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
