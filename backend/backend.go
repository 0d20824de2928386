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
	"io"
	"slices"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/collective"
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
	// and AdamW with opt's settings and moments. With a group of several
	// ranks (comm; nil: one process) the update is data-parallel: before
	// clipping, each rank's loss and gradients are summed over the ranks,
	// each multiplied by its share (Optimizer.Step), on the host over comm
	// or on GPUs by NCCL (joined here: every rank calls Optimizer), so
	// that every rank applies the same update.
	Optimizer(ex graph.Executor, loss *G.Node, params []*tensor.Dense, grads []*G.Node, opt *optim.AdamW, maxNorm float64, comm collective.Comm) (Optimizer, error)
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
	// wrapping optim.ErrNonFinite. In a group of several ranks, the loss
	// and the gradients are first replaced by the sums over the ranks of
	// share times each rank's: with a loss that is a mean over the rank's
	// rows (the masked tokens), share is the rank's count over the global
	// batch's, so that the sums are the global batch's mean and its
	// gradients. One process ignores share.
	Step(lr, share float64) (loss, gradNorm float64, err error)
	// Pull copies the current weights to the host tensors and the moments
	// to opt (nothing to do on the CPU, where they live there); Push copies
	// host values to the device after they changed (a loaded checkpoint).
	Pull() error
	Push() error
	// Close frees the optimiser's device memory (the moments), not the
	// weights.
	Close() error
	// CommSeconds is the wall time Step has spent in the ranks' sums so
	// far, waiting for the slowest rank included (0 in one process; on a
	// GPU the time to queue the device's sum and to sum the loss).
	CommSeconds() float64
}

// Auto is the device name that picks CUDA when a GPU can be used (the
// binary is built with -tags gpu, the driver loads and device 0 opens)
// and the CPU otherwise.
const Auto = "auto"

// DefaultDevice is the commands' -device default: Auto in a binary built
// with -tags gpu, "cpu" otherwise (and with -tags gpuemu, whose GPU is the
// CPU emulator of the tests).
const DefaultDevice = defaultDevice

// Open returns the backend for a device name ("cpu", the default when
// empty, "cuda", or "auto", see Auto; "gpu" is read as "cuda") and a
// precision ("f32", the default when empty, or "bf16"), the attention path
// chosen per op (OpenOptions with Attention "auto"). The errors name the
// flag and the value: a device this binary was not built for, an unknown
// name.
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
	// Log receives the one line in which device Auto says which device it
	// picked and why (nil: nowhere).
	Log io.Writer
	// Ordinal is the GPU this process uses (a data-parallel rank's number
	// among the processes of its machine), taken modulo the number of
	// devices it sees: where the launcher gives each process its own GPU
	// (CUDA_VISIBLE_DEVICES), each sees one, device 0. A process uses one.
	Ordinal int
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

// parsePrecision reads -precision's value ("" is f32).
func parsePrecision(v string) (Precision, error) {
	switch v {
	case "", string(F32):
		return F32, nil
	case string(BF16):
		return BF16, nil
	}
	return "", fmt.Errorf("-precision: unknown precision %q (f32 or bf16)", v)
}

// OpenOptions returns the backend for o (see Open). The errors name the
// flag and the value.
func OpenOptions(o Options) (Backend, error) {
	prec, err := parsePrecision(o.Precision)
	if err != nil {
		return nil, err
	}
	if err := CheckAttention(o.Attention); err != nil {
		return nil, err
	}
	if o.AttentionBudget < 0 {
		return nil, fmt.Errorf("backend: attention budget %d bytes < 0", o.AttentionBudget)
	}
	forced := o.Attention != "" && o.Attention != AttentionAuto
	switch o.Device {
	case "", string(CPU):
		if forced {
			return nil, fmt.Errorf("-attention %s: the CPU has one attention kernel; the paths are the GPU's (-device cuda)", o.Attention)
		}
		return &cpuBackend{prec: prec}, nil
	case string(CUDA), "gpu":
		if !cudaBuilt {
			return nil, fmt.Errorf("-device cuda: this binary was built without GPU support; build it with `go build -tags gpu` (needs the CUDA headers, see docs/gpu.md)")
		}
		be, err := openCUDA(prec, o)
		if err != nil {
			return nil, fmt.Errorf("-device cuda: %w", err)
		}
		return be, nil
	case Auto:
		why := "this binary has no GPU support: built without -tags gpu"
		if cudaBuilt {
			be, err := openCUDA(prec, o)
			if err == nil {
				logf(o.Log, "device auto: cuda (%s)\n", be.(interface{ describe() string }).describe())
				return be, nil
			}
			why = "no usable GPU: " + err.Error()
		}
		if forced {
			return nil, fmt.Errorf("-attention %s: -device auto runs on the CPU (%s), which has one attention kernel", o.Attention, why)
		}
		logf(o.Log, "device auto: cpu (%s)\n", why)
		return &cpuBackend{prec: prec}, nil
	}
	return nil, fmt.Errorf("-device: unknown device %q (cpu, cuda or auto)", o.Device)
}

// logf writes to w unless it is nil.
func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
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

func (b *cpuBackend) Optimizer(ex graph.Executor, loss *G.Node, params []*tensor.Dense, grads []*G.Node, opt *optim.AdamW, maxNorm float64, comm collective.Comm) (Optimizer, error) {
	m, ok := ex.(*graph.Machine)
	if !ok {
		return nil, fmt.Errorf("backend: the CPU optimiser needs a CPU executor, got %T", ex)
	}
	if len(params) != len(grads) || len(params) != len(opt.M) {
		return nil, fmt.Errorf("backend: %d parameters, %d gradients, %d moment pairs", len(params), len(grads), len(opt.M))
	}
	o := &cpuOptimizer{m: m, loss: loss, grads: grads, opt: opt, maxNorm: maxNorm}
	if comm != nil && comm.Size() > 1 {
		o.comm = comm
	}
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
	// comm is the group of a data-parallel update (nil: one process), flat
	// the buffer its all-reduce sends, commTime the time spent in it.
	comm     collective.Comm
	flat     []float32
	commTime time.Duration
	// gradData holds the gradients' slices of the current step.
	gradData [][]float32
}

func (o *cpuOptimizer) Step(lr, share float64) (loss, gradNorm float64, err error) {
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
	if o.comm != nil {
		t0 := time.Now()
		loss, err = allReduce(o.comm, &o.flat, grads, loss, share)
		o.commTime += time.Since(t0)
		if err != nil {
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

func (o *cpuOptimizer) Pull() error          { return nil }
func (o *cpuOptimizer) CommSeconds() float64 { return o.commTime.Seconds() }
func (o *cpuOptimizer) Push() error          { return nil }
func (o *cpuOptimizer) Close() error         { return nil }

// allReduce replaces the loss and the gradients of each rank of c by the
// sums over the ranks of share times each rank's, in float32, in one
// all-reduce of the buffer *flat (grown as needed).
func allReduce(c collective.Comm, flat *[]float32, grads [][]float32, loss, share float64) (float64, error) {
	n := 1
	for _, g := range grads {
		n += len(g)
	}
	buf := slices.Grow((*flat)[:0], n)[:n]
	*flat = buf
	s, k := float32(share), 0
	for _, g := range grads {
		for i, x := range g {
			buf[k+i] = s * x
		}
		k += len(g)
	}
	buf[k] = float32(share * loss)
	if err := c.AllReduceSum32(buf); err != nil {
		return 0, fmt.Errorf("backend: the gradients' all-reduce: %w", err)
	}
	k = 0
	for _, g := range grads {
		copy(g, buf[k:k+len(g)])
		k += len(g)
	}
	return float64(buf[k]), nil
}
