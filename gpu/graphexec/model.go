//go:build gpu || gpuemu

package graphexec

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/layers"
)

// Model runs a layers.Model's graph — the very graph its CPU machine runs —
// on the device, with the same outputs (the logits, the loss, the
// gradients in weight order, and the layer inputs when kept).
type Model struct {
	*layers.Model
	M *Machine
}

// NewModel prepares lm's graph for the device; the weights are bound to res
// (uploaded unless already resident).
func NewModel(res *Resident, lm *layers.Model) (*Model, error) {
	if lm.Params.Dtype != tensor.Float32 {
		return nil, fmt.Errorf("graphexec: the device runs float32 models, this one is %v", lm.Params.Dtype)
	}
	outputs := G.Nodes{lm.Logits}
	if lm.Loss != nil {
		outputs = append(outputs, lm.Loss)
	}
	outputs = append(outputs, lm.Grads...)
	if lm.Options.KeepLayerInputs {
		outputs = append(outputs, lm.Hidden)
		outputs = append(outputs, lm.LayerXs...)
	}
	m, err := New(res, lm.Graph, outputs...)
	if err != nil {
		return nil, err
	}
	return &Model{Model: lm, M: m}, nil
}

// Run sets the batch's inputs, as layers.Model.Run does (same defaults,
// same checks), and queues the graph on the device.
func (m *Model) Run(bt *layers.Batch) error {
	if err := SetInputs(m.Model, bt); err != nil {
		return err
	}
	return m.M.Run()
}

// LossValue returns the loss of the last Run (it waits for the device).
func (m *Model) LossValue() (float64, error) {
	if m.Loss == nil {
		return 0, fmt.Errorf("graphexec: the model has no loss")
	}
	return m.M.Float(m.Loss)
}

// LogitsValue downloads the logits [M, vocab] of the last Run into dst
// (reallocated when too small) and returns it.
func (m *Model) LogitsValue(dst []float32) ([]float32, error) {
	n := m.Options.M * m.Config.VocabSize
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	return dst, m.M.Download(m.Logits, dst)
}

// Close frees the model's device buffers (not the resident weights).
func (m *Model) Close() error { return m.M.Close() }

// SetInputs writes a batch into the Int input nodes of lm with the
// defaults and checks of layers.Model.Run (see layers.Model.SetInputs).
func SetInputs(lm *layers.Model, bt *layers.Batch) error { return lm.SetInputs(bt) }
