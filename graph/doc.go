// Package graph holds the Gorgonia side of the model: the custom ops (each a
// thin wrapper over a kernel of package kernels/cpu, with its symbolic
// gradient built from its own backward op), helpers that apply them to
// nodes, and Machine, an executor for the resulting graphs that reuses
// buffers across steps. Plan (execution order, buffer lifetimes, in-place
// writes) and the exported backward ops are what a second executor needs:
// package gpu/graphexec runs the same graphs on a GPU.
//
// Every op implements gorgonia.Op, gorgonia.SDOp (where differentiable) and
// gorgonia.UsePreallocDoer, so the same graph also runs under Gorgonia's
// TapeMachine; the tests check both executors against finite differences.
package graph
