//go:build gpu || gpuemu

package graphexec

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/graph"
)

// The tests run whole GAU-α models: a gau.Model's graph on the device
// (Model) and on the CPU (cpuModel), the way package backend runs them.

// Model runs a gau.Model's graph on the device.
type Model struct {
	*gau.Model
	M *Machine
}

// NewModel prepares lm's graph for the device; the weights are bound to res.
func NewModel(res *Resident, lm *gau.Model) (*Model, error) {
	if lm.Params.Dtype != tensor.Float32 {
		return nil, fmt.Errorf("graphexec: the device runs float32 models, this one is %v", lm.Params.Dtype)
	}
	m, err := New(res, lm.Graph, lm.Outputs()...)
	if err != nil {
		return nil, err
	}
	return &Model{Model: lm, M: m}, nil
}

// Run sets the batch's inputs and queues the graph on the device.
func (m *Model) Run(bt *gau.Batch) error { return m.Model.Run(m.M, bt) }

// LossValue returns the loss of the last Run.
func (m *Model) LossValue() (float64, error) { return m.M.Float(m.Loss) }

// LogitsValue downloads the logits of the last Run into dst.
func (m *Model) LogitsValue(dst []float32) ([]float32, error) { return m.M.Float32s(m.Logits, dst) }

// Close frees the model's device buffers.
func (m *Model) Close() error { return m.M.Close() }

// cpuModel runs a gau.Model's graph with graph.Machine.
type cpuModel struct {
	*gau.Model
	mach *graph.Machine
}

func newCPUModel(lm *gau.Model) (*cpuModel, error) {
	mach, err := graph.NewMachine(lm.Graph, lm.Outputs()...)
	if err != nil {
		return nil, err
	}
	return &cpuModel{Model: lm, mach: mach}, nil
}

func (m *cpuModel) Run(bt *gau.Batch) error     { return m.Model.Run(m.mach, bt) }
func (m *cpuModel) LossValue() (float64, error) { return m.mach.Float(m.Loss) }
func (m *cpuModel) Value(n *G.Node) G.Value     { return m.mach.Value(n) }
func (m *cpuModel) SetBF16(on bool)             { m.mach.BF16 = on }
