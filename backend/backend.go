// Package backend chooses where the model's graphs run, from the two
// settings a user gives (-device and -precision), in one place: the CPU
// (graph.Machine) or an NVIDIA GPU (package gpu/graphexec, in binaries
// built with -tags gpu), in float32 or with bfloat16 matrix products.
//
// A Backend makes executors for graphs (graph.Executor) and, for training,
// an Optimizer that clips the gradients and applies AdamW where the weights
// live: in place on the host tensors on the CPU, on the device's resident
// copies on a GPU. Packages train and eval receive a Backend; they never
// ask which device it is.
package backend

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/optim"
)

// Device names where graphs run.
type Device string

// The devices.
const (
	CPU  Device = "cpu"
	CUDA Device = "cuda"
)

// Precision names the arithmetic of the matrix products.
type Precision string

// The precisions.
const (
	// F32 runs everything in float32.
	F32 Precision = "f32"
	// BF16 rounds both operands of every matrix product to bfloat16 and
	// accumulates in float32, the attention's products included (on a GPU
	// those of the materialised attention path; its fused path keeps a
	// training graph's attention float32, and in graphs without gradients,
	// evaluation and validation, reads its input in bfloat16); weights,
	// gradients, optimiser state and the other ops stay float32.
	BF16 Precision = "bf16"
)

// Backend runs graphs on one device in one precision.
type Backend interface {
	// Device and Precision say what the backend is.
	Device() Device
	Precision() Precision
	// Executor prepares the execution of everything outputs depend on in
	// g. On a GPU the graph's float32 tensor leaves (the weights) are
	// uploaded the first time a graph of this backend reads them and then
	// stay on the device, shared by every executor of the backend; Pull
	// copies them back and Drop frees them.
	Executor(g *G.ExprGraph, outputs ...*G.Node) (graph.Executor, error)
	// Optimizer returns the training update of params (host tensors, in
	// the order of opt's moments) from the gradients grads (outputs of ex,
	// an executor of this backend, in the same order) and the loss (a
	// scalar output of ex): clipping to the global norm maxNorm (0: none)
	// and AdamW with opt's settings and moments.
	Optimizer(ex graph.Executor, loss *G.Node, params []*tensor.Dense, grads []*G.Node, opt *optim.AdamW, maxNorm float64) (Optimizer, error)
	// Drop frees the device copies of the given tensors (nothing on the
	// CPU).
	Drop(ts ...*tensor.Dense) error
	// Close frees everything the backend holds on its device.
	Close() error
}

// Optimizer applies training updates where the weights live.
type Optimizer interface {
	// Step reads the loss of the executor's last run, clips the gradients
	// and applies one AdamW update with learning rate lr (opt.Step counts
	// it). It returns the loss and the gradient norm before clipping. A
	// NaN or infinite loss or norm applies nothing and returns an error
	// wrapping optim.ErrNonFinite.
	Step(lr float64) (loss, gradNorm float64, err error)
	// Pull copies the current weights to the host tensors and the moments
	// to opt (nothing to do on the CPU, where they live there); Push copies
	// host values to the device after they changed (a loaded checkpoint).
	Pull() error
	Push() error
	// Close frees the optimiser's device memory (the moments), not the
	// weights.
	Close() error
}

// Open returns the backend for a device name ("cpu", the default when
// empty, or "cuda"; "gpu" is read as "cuda") and a precision ("f32", the
// default when empty, or "bf16"), the attention path chosen per op
// (OpenOptions with Attention "auto"). The errors name the flag and the
// value: a device this binary was not built for, an unknown name.
func Open(device, precision string) (Backend, error) {
	return OpenOptions(Options{Device: device, Precision: precision})
}

// Options are the settings of OpenOptions, each that of a command-line
// flag.
type Options struct {
	// Device and Precision are Open's (-device, -precision).
	Device, Precision string
	// Attention is how a GPU computes attention (-attention): "auto" (or
	// ""), the executor choosing per op, "fused" (the streaming kernels)
	// or "materialized" (the L×L matrices with cuBLAS products); see
	// docs/gpu.md. The CPU has one attention kernel and takes only auto.
	Attention string
	// AttentionBudget bounds the device memory of the materialised path's
	// L×L matrices per attention op, in bytes; 0: a quarter of the GPU's
	// memory.
	AttentionBudget int64
}

// The attention paths of Options.Attention.
const (
	AttentionAuto         = "auto"
	AttentionFused        = "fused"
	AttentionMaterialized = "materialized"
)

// CheckAttention returns an error naming the -attention flag for a value
// that is not auto, fused or materialized ("" is auto).
func CheckAttention(v string) error {
	switch v {
	case "", AttentionAuto, AttentionFused, AttentionMaterialized:
		return nil
	}
	return fmt.Errorf("-attention: unknown path %q (auto, fused or materialized)", v)
}

// OpenOptions returns the backend for o (see Open). The errors name the
// flag and the value.
func OpenOptions(o Options) (Backend, error) {
	var prec Precision
	switch o.Precision {
	case "", string(F32):
		prec = F32
	case string(BF16):
		prec = BF16
	default:
		return nil, fmt.Errorf("-precision: unknown precision %q (f32 or bf16)", o.Precision)
	}
	if err := CheckAttention(o.Attention); err != nil {
		return nil, err
	}
	if o.AttentionBudget < 0 {
		return nil, fmt.Errorf("backend: attention budget %d bytes < 0", o.AttentionBudget)
	}
	switch o.Device {
	case "", string(CPU):
		if o.Attention != "" && o.Attention != AttentionAuto {
			return nil, fmt.Errorf("-attention %s: the CPU has one attention kernel; the paths are the GPU's (-device cuda)", o.Attention)
		}
		return &cpuBackend{prec: prec}, nil
	case string(CUDA), "gpu":
		if !cudaBuilt {
			return nil, fmt.Errorf("-device cuda: this binary was built without GPU support; build it with `go build -tags gpu` (needs the CUDA headers, see docs/gpu.md)")
		}
		return openCUDA(prec, o)
	}
	return nil, fmt.Errorf("-device: unknown device %q (cpu or cuda)", o.Device)
}

// Default is the CPU in float32.
func Default() Backend { return &cpuBackend{prec: F32} }

// cpuBackend runs graphs with graph.Machine.
type cpuBackend struct{ prec Precision }

func (b *cpuBackend) Device() Device       { return CPU }
func (b *cpuBackend) Precision() Precision { return b.prec }

func (b *cpuBackend) Executor(g *G.ExprGraph, outputs ...*G.Node) (graph.Executor, error) {
	m, err := graph.NewMachine(g, outputs...)
	if err != nil {
		return nil, err
	}
	m.BF16 = b.prec == BF16
	return m, nil
}

func (b *cpuBackend) Drop(...*tensor.Dense) error { return nil }
func (b *cpuBackend) Close() error                { return nil }

func (b *cpuBackend) Optimizer(ex graph.Executor, loss *G.Node, params []*tensor.Dense, grads []*G.Node, opt *optim.AdamW, maxNorm float64) (Optimizer, error) {
	m, ok := ex.(*graph.Machine)
	if !ok {
		return nil, fmt.Errorf("backend: the CPU optimiser needs a CPU executor, got %T", ex)
	}
	if len(params) != len(grads) || len(params) != len(opt.M) {
		return nil, fmt.Errorf("backend: %d parameters, %d gradients, %d moment pairs", len(params), len(grads), len(opt.M))
	}
	o := &cpuOptimizer{m: m, loss: loss, grads: grads, opt: opt, maxNorm: maxNorm}
	for _, p := range params {
		x, ok := p.Data().([]float32)
		if !ok {
			return nil, fmt.Errorf("backend: training runs float32 weights, got %v", p.Dtype())
		}
		o.params = append(o.params, x)
	}
	return o, nil
}

// cpuOptimizer updates the host tensors with optim's reference rules.
type cpuOptimizer struct {
	m       *graph.Machine
	loss    *G.Node
	params  [][]float32
	grads   []*G.Node
	opt     *optim.AdamW
	maxNorm float64
	// gradData holds the gradients' slices of the current step.
	gradData [][]float32
}

func (o *cpuOptimizer) Step(lr float64) (loss, gradNorm float64, err error) {
	loss, err = o.m.Float(o.loss)
	if err != nil {
		return 0, 0, err
	}
	if len(o.gradData) != len(o.grads) {
		o.gradData = make([][]float32, len(o.grads))
	}
	grads := o.gradData
	for i, g := range o.grads {
		if grads[i], err = o.m.Float32s(g, nil); err != nil {
			return 0, 0, err
		}
	}
	if err := optim.CheckFinite("loss", loss); err != nil {
		return loss, 0, err
	}
	gradNorm = optim.ClipGradNorm(grads, o.maxNorm)
	if err := optim.CheckFinite("gradient norm", gradNorm); err != nil {
		return loss, gradNorm, err
	}
	if err := o.opt.Update(o.params, grads, lr); err != nil {
		return 0, 0, err
	}
	return loss, gradNorm, nil
}

func (o *cpuOptimizer) Pull() error  { return nil }
func (o *cpuOptimizer) Push() error  { return nil }
func (o *cpuOptimizer) Close() error { return nil }
