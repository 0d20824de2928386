package graph

import (
	G "gorgonia.org/gorgonia"
)

// Executor runs the part of a graph that some outputs depend on: Machine on
// the CPU, and the device executor of package gpu/graphexec on a GPU. The
// inputs of a run are the values bound to the graph's input nodes when Run
// is called (a model writes its batch into them); an executor reads them
// at every Run.
type Executor interface {
	// Run executes the graph once.
	Run() error
	// Float returns the value of a scalar output of the last Run.
	Float(n *G.Node) (float64, error)
	// Float32s returns the values of a float32 output of the last Run. An
	// executor that must copy them (a device) copies them into dst, grown
	// when too short; the CPU returns its own buffer. Either way the
	// result is valid until the next Run.
	Float32s(n *G.Node, dst []float32) ([]float32, error)
	// Close frees the executor's buffers.
	Close() error
}
