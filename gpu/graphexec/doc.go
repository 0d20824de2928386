// Package graphexec executes the model's Gorgonia graphs on a GPU: the same
// graph (forward and gradient nodes) that graph.Machine runs on the CPU,
// planned by the same graph.Plan (order, buffer lifetimes, in-place writes),
// with every op mapped to a kernel of package gpu.
//
// Weights live on the device (Resident): uploaded once, shared by every
// graph built over the same gau.Params, updated in place by the device
// optimiser, and copied back to the host tensors only on request (for
// checkpoints). Per run only the graph's integer inputs (token ids, mask,
// positions, selected rows, targets) go up, in one copy; scalars (the loss)
// and requested small outputs (the logits of an evaluation batch) come
// down.
//
// The executor builds with the tag gpu (a real GPU through the CUDA driver
// and cuBLAS) or gpuemu (package gpu's CPU emulator of the kernels, for the
// tests on machines without a GPU). Without either tag this package is this
// comment only, and nothing links CUDA. See docs/gpu.md.
package graphexec
