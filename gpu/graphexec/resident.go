//go:build gpu || gpuemu

package graphexec

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gpu"
)

// Resident keeps device copies of host float32 tensors (the weights): each
// tensor is uploaded when first bound and then stays on the device, where
// the kernels read it and the device optimiser updates it in place. Every
// Machine built with the same Resident shares the copies, so a training
// graph and a validation graph over the same gau.Params see one set of
// weights. The host tensors are not kept in step: Download copies the
// device values back (for checkpoints), Upload sends changed host values
// (after loading a checkpoint).
type Resident struct {
	// BF16 makes the machines built on this set run with bfloat16 inputs
	// and float32 accumulation (-precision bf16): every matrix product
	// (forward and, in training graphs, gradient) rounds both operands to
	// bfloat16 for cuBLAS, as graph.Machine.BF16 does on the CPU; the
	// materialised attention's products (forward and backward) round
	// theirs likewise (gpu.Attention.MatBF16, graph.Machine.BF16's
	// attention rounding); in graphs without gradients (evaluation,
	// validation) the fused attention forward reads X as bfloat16, and in
	// training graphs the fused attention stays float32
	// (graph.Machine.FloatAttention is its CPU reference). Weights,
	// optimiser state and every other op stay float32. Set it before New.
	BF16 bool
	// Attention is how the machines built on this set compute attention:
	// AttentionAuto ("" too) chooses per op (attentionPath),
	// AttentionFused and AttentionMaterialized force a path. Set it before
	// New.
	Attention AttentionPath
	// AttentionBudget bounds the device memory the materialised path's
	// workspace of one attention op may take (its L×L matrices); 0: a
	// quarter of the device's memory.
	AttentionBudget int64
	// AttentionCache names a JSON file that keeps the attention paths
	// measured under AttentionAuto from run to run (read once, rewritten
	// after each new measurement); "" takes GAUALPHA_ATTENTION_CACHE, and
	// without either the measurements live in this set only.
	AttentionCache string
	// Logf receives one line per measured (or cached) attention choice;
	// nil: the standard logger.
	Logf func(format string, args ...any)

	// measure replaces the device timer in tests (fake timings).
	measure   measurer
	paths     *pathCache
	pathsOnce sync.Once

	dev   *gpu.Device
	bufs  map[*tensor.Dense]gpu.DevicePtr
	order []*tensor.Dense
}

// NewResident returns an empty set of resident tensors on dev.
func NewResident(dev *gpu.Device) *Resident {
	return &Resident{dev: dev, bufs: make(map[*tensor.Dense]gpu.DevicePtr)}
}

// attentionBudget is AttentionBudget with its default.
func (r *Resident) attentionBudget() int64 {
	if r.AttentionBudget > 0 {
		return r.AttentionBudget
	}
	return r.dev.Info().Memory / 4
}

// Device returns the device the tensors live on.
func (r *Resident) Device() *gpu.Device { return r.dev }

// Bind returns the device copy of t, uploading it the first time.
func (r *Resident) Bind(t *tensor.Dense) (gpu.DevicePtr, error) {
	if p, ok := r.bufs[t]; ok {
		return p, nil
	}
	x, ok := t.Data().([]float32)
	if !ok {
		return 0, fmt.Errorf("graphexec: resident tensors are float32, got %v", t.Dtype())
	}
	p, err := gpu.AllocCopy(r.dev, x)
	if err != nil {
		return 0, err
	}
	r.bufs[t] = p
	r.order = append(r.order, t)
	return p, nil
}

// Ptr returns the device copy of t (0 if t is not resident).
func (r *Resident) Ptr(t *tensor.Dense) gpu.DevicePtr { return r.bufs[t] }

// Upload copies every resident tensor's host values to the device.
func (r *Resident) Upload() error {
	for _, t := range r.order {
		if err := gpu.Upload(r.dev, r.bufs[t], t.Data().([]float32)); err != nil {
			return err
		}
	}
	return nil
}

// Download copies every resident tensor's device values to its host tensor
// (after the work queued so far).
func (r *Resident) Download() error {
	for _, t := range r.order {
		if err := gpu.Download(r.dev, t.Data().([]float32), r.bufs[t]); err != nil {
			return err
		}
	}
	return nil
}

// Drop frees the device copies of the given tensors (those not resident
// are skipped); a later Bind uploads them again.
func (r *Resident) Drop(ts ...*tensor.Dense) error {
	var errs []error
	for _, t := range ts {
		p, ok := r.bufs[t]
		if !ok {
			continue
		}
		errs = append(errs, r.dev.Free(p))
		delete(r.bufs, t)
		r.order = slices.DeleteFunc(r.order, func(u *tensor.Dense) bool { return u == t })
	}
	return errors.Join(errs...)
}

// Close frees the device copies.
func (r *Resident) Close() error {
	errs := []error{r.dev.Synchronize()}
	for _, t := range r.order {
		errs = append(errs, r.dev.Free(r.bufs[t]))
	}
	r.bufs, r.order = map[*tensor.Dense]gpu.DevicePtr{}, nil
	return errors.Join(errs...)
}

var shared struct {
	mu      sync.Mutex
	tried   bool
	ordinal int
	dev     *gpu.Device
	err     error
}

// Shared returns the process's device, opened once: the one SharedDevice
// opened, else device 0 (it stays open until the process ends). The error
// says why no device can be used: no driver, no device (gpu.Available), or
// a device that cannot be opened.
func Shared() (*gpu.Device, error) { return SharedDevice(-1) }

// SharedDevice is Shared for device ordinal (-1: the device open already,
// else 0). A process uses one device (a data-parallel rank takes the one
// numbered by its rank on its machine): asking for another once one is
// open is an error.
func SharedDevice(ordinal int) (*gpu.Device, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.tried {
		if ordinal >= 0 && ordinal != shared.ordinal {
			return nil, fmt.Errorf("gpu: this process uses device %d; device %d was asked for", shared.ordinal, ordinal)
		}
		return shared.dev, shared.err
	}
	shared.tried, shared.ordinal = true, max(ordinal, 0)
	if shared.err = gpu.Available(); shared.err != nil {
		return nil, shared.err
	}
	shared.dev, shared.err = gpu.Open(shared.ordinal)
	return shared.dev, shared.err
}
