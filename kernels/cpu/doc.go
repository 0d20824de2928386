// Package cpu holds the plain CPU kernels of the GAU-α model: the fused GAU
// attention (ScaleOffset, CosScale, RoPE, policy masks and biases, the
// normalisation temperature, dropout and A·V) with its backward, and the small
// kernels around it (swish, Norm, gating, dropout, embedding gather/scatter,
// masked cross entropy). Every kernel is generic over float32 and float64:
// float32 trains, float64 checks gradients against finite differences.
//
// These kernels are the reference the CUDA kernels are tested against, and
// the CPU executor's implementation of the graph ops in package graph.
package cpu

// Float is the element type of the kernels.
type Float interface {
	~float32 | ~float64
}
