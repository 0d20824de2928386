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

// SetInputs writes a batch into the Int input nodes of lm (their bound host
// tensors) with the defaults and checks of layers.Model.Run, without
// running anything: nil types are 0, a nil mask is all valid, nil positions
// are 0..L-1 in every sequence, and ids and selected rows must be in range.
func SetInputs(lm *layers.Model, bt *layers.Batch) error {
	rows, M, L := lm.Options.B*lm.Options.L, lm.Options.M, lm.Options.L
	set := func(n *G.Node, v []int, want int, name string, fill func(i int) int) error {
		dst, err := hostInts(n)
		if err != nil {
			return err
		}
		if v == nil {
			for i := range dst {
				dst[i] = fill(i)
			}
			return nil
		}
		if len(v) != want {
			return fmt.Errorf("model: batch %s has %d entries, want %d", name, len(v), want)
		}
		copy(dst, v)
		return nil
	}
	zero := func(int) int { return 0 }
	steps := []error{
		set(lm.IDs, bt.IDs, rows, "ids", zero),
		set(lm.Types, bt.Types, rows, "types", zero),
		set(lm.Mask, bt.Mask, rows, "mask", func(int) int { return 1 }),
		set(lm.Pos, bt.Pos, rows, "positions", func(i int) int { return i % L }),
		set(lm.Select, bt.Select, M, "selected rows", zero),
	}
	if lm.Targets != nil {
		steps = append(steps, set(lm.Targets, bt.Targets, M, "targets", zero))
	}
	for _, err := range steps {
		if err != nil {
			return err
		}
	}
	if bt.IDs == nil {
		return fmt.Errorf("model: batch has no token ids")
	}
	for _, id := range bt.IDs {
		if id < 0 || id >= lm.Config.VocabSize {
			return fmt.Errorf("model: token id %d outside the vocabulary [0, %d)", id, lm.Config.VocabSize)
		}
	}
	for _, r := range bt.Select {
		if r < 0 || r >= rows {
			return fmt.Errorf("model: selected row %d outside [0, %d)", r, rows)
		}
	}
	key, err := hostInts(lm.Key)
	if err != nil {
		return err
	}
	key[0] = int(bt.Key)
	return nil
}
