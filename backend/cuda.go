//go:build gpu || gpuemu

package backend

import (
	"errors"
	"fmt"
	"math"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/gpu/graphexec"
	"github.com/infoscale/gaualpha/graph"
	"github.com/infoscale/gaualpha/optim"
)

// cudaBuilt reports whether this binary has the GPU executor.
const cudaBuilt = true

// cudaBackend runs graphs with gpu/graphexec on device 0, the weights
// resident on the device (graphexec.Resident), shared by every executor.
type cudaBackend struct {
	prec Precision
	dev  *gpu.Device
	res  *graphexec.Resident
}

func openCUDA(prec Precision, o Options) (Backend, error) {
	path, err := graphexec.ParseAttentionPath(o.Attention)
	if err != nil {
		return nil, fmt.Errorf("-attention: %w", err)
	}
	ordinal := o.Ordinal
	if n, err := gpu.Count(); err == nil && n > 0 {
		ordinal %= n // one visible device per process (CUDA_VISIBLE_DEVICES set by the launcher): device 0
	}
	dev, err := graphexec.SharedDevice(ordinal)
	if err != nil {
		return nil, err
	}
	return onDevice(dev, prec, path, o), nil
}

// OnDevice returns the backend of an opened device (tests that play
// several data-parallel ranks, each with a device of the emulator), in
// the precision and attention path of o (o.Device and o.Ordinal are not
// read). The caller closes the device after the backend.
func OnDevice(dev *gpu.Device, o Options) (Backend, error) {
	prec, err := parsePrecision(o.Precision)
	if err != nil {
		return nil, err
	}
	path, err := graphexec.ParseAttentionPath(o.Attention)
	if err != nil {
		return nil, fmt.Errorf("-attention: %w", err)
	}
	return onDevice(dev, prec, path, o), nil
}

func onDevice(dev *gpu.Device, prec Precision, path graphexec.AttentionPath, o Options) Backend {
	res := graphexec.NewResident(dev)
	res.BF16 = prec == BF16
	res.Attention, res.AttentionBudget = path, o.AttentionBudget
	return &cudaBackend{prec: prec, dev: dev, res: res}
}

// describe names the device for -device auto's line: its name, compute
// capability and memory.
func (b *cudaBackend) describe() string {
	i := b.dev.Info()
	return fmt.Sprintf("%s, sm_%d%d, %.0f GiB", i.Name, i.Major, i.Minor, float64(i.Memory)/(1<<30))
}

func (b *cudaBackend) Device() Device       { return CUDA }
func (b *cudaBackend) Precision() Precision { return b.prec }

func (b *cudaBackend) Executor(g *G.ExprGraph, outputs ...*G.Node) (graph.Executor, error) {
	for _, n := range outputs {
		if n != nil && n.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("backend: the device runs float32 graphs, output %v is %v", n, n.Dtype())
		}
	}
	return graphexec.New(b.res, g, outputs...)
}

func (b *cudaBackend) Drop(ts ...*tensor.Dense) error { return b.res.Drop(ts...) }
func (b *cudaBackend) Close() error                   { return b.res.Close() }

// Optimizer keeps the AdamW moments on the device beside the resident
// weights. Per step the loss and the squared gradient norm (one kernel
// over every gradient) come down, then clipping and AdamW run in place on
// the device.
func (b *cudaBackend) Optimizer(ex graph.Executor, loss *G.Node, params []*tensor.Dense, grads []*G.Node, opt *optim.AdamW, maxNorm float64, comm collective.Comm) (Optimizer, error) {
	m, ok := ex.(*graphexec.Machine)
	if !ok {
		return nil, fmt.Errorf("backend: the device optimiser needs a device executor, got %T", ex)
	}
	if len(params) != len(grads) || len(params) != len(opt.M) || len(opt.Decay) != len(params) {
		return nil, fmt.Errorf("backend: %d parameters, %d gradients, %d moment pairs, %d decay flags", len(params), len(grads), len(opt.M), len(opt.Decay))
	}
	o := &cudaOptimizer{b: b, m: m, loss: loss, grads: grads, opt: opt, maxNorm: maxNorm}
	fail := func(err error) (Optimizer, error) {
		o.Close()
		return nil, err
	}
	for _, t := range params {
		p, err := b.res.Bind(t)
		if err != nil {
			return fail(err)
		}
		o.params = append(o.params, p)
		o.sizes = append(o.sizes, t.Shape().TotalSize())
	}
	for _, n := range o.sizes {
		for _, dst := range []*[]gpu.DevicePtr{&o.mom, &o.vel} {
			p, err := b.dev.Alloc(4 * max(n, 1))
			if err != nil {
				return fail(err)
			}
			*dst = append(*dst, p)
		}
	}
	var err error
	if o.sq, err = b.dev.Alloc(8); err != nil {
		return fail(err)
	}
	if comm != nil && comm.Size() > 1 {
		o.comm = comm
		if o.group, err = b.dev.JoinGroup(comm); err != nil {
			return fail(fmt.Errorf("backend: joining the ranks' devices: %w", err))
		}
	}
	if err := o.pushMoments(); err != nil {
		return fail(err)
	}
	return o, nil
}

type cudaOptimizer struct {
	b        *cudaBackend
	m        *graphexec.Machine
	loss     *G.Node
	grads    []*G.Node
	opt      *optim.AdamW
	maxNorm  float64
	params   []gpu.DevicePtr // resident weights
	mom, vel []gpu.DevicePtr // AdamW moments
	sizes    []int
	sq       gpu.DevicePtr // float64: the squared gradient norm
	// comm and group are the ranks of a data-parallel update (nil: one
	// process): the loss is summed over comm, the gradients by the group.
	comm     collective.Comm
	group    *gpu.Group
	commTime time.Duration
}

func (o *cudaOptimizer) CommSeconds() float64 { return o.commTime.Seconds() }

func (o *cudaOptimizer) pushMoments() error {
	if len(o.opt.M) != len(o.sizes) || len(o.opt.V) != len(o.sizes) {
		return fmt.Errorf("backend: optimizer has %d moment pairs for %d parameters", len(o.opt.M), len(o.sizes))
	}
	for i, n := range o.sizes {
		if len(o.opt.M[i]) != n || len(o.opt.V[i]) != n {
			return fmt.Errorf("backend: moments of parameter %d have %d and %d values, want %d", i, len(o.opt.M[i]), len(o.opt.V[i]), n)
		}
		if err := gpu.Upload(o.b.dev, o.mom[i], o.opt.M[i]); err != nil {
			return err
		}
		if err := gpu.Upload(o.b.dev, o.vel[i], o.opt.V[i]); err != nil {
			return err
		}
	}
	return nil
}

// Step is the CPU optimiser's step on the device: the same order of
// checks, the same errors, the same update (optim.ClipGradNorm,
// optim.AdamW.Update).
func (o *cudaOptimizer) Step(lr, share float64) (loss, gradNorm float64, err error) {
	dev := o.b.dev
	grads := make([]gpu.DevicePtr, len(o.grads))
	for i, n := range o.grads {
		p, ok := o.m.Ptr(n)
		if !ok {
			return 0, 0, fmt.Errorf("backend: no value for gradient %d (no run yet?)", i)
		}
		grads[i] = p
	}
	if o.group != nil {
		t0 := time.Now()
		err := o.group.AllReduceScaled(grads, o.sizes, float32(share))
		o.commTime += time.Since(t0)
		if err != nil {
			return 0, 0, fmt.Errorf("backend: the gradients' all-reduce: %w", err)
		}
	}
	if err := dev.Fill32(o.sq, 0, 2); err != nil {
		return 0, 0, err
	}
	for i, p := range grads {
		if err := dev.SquaredNorm(o.sq, p, o.sizes[i]); err != nil {
			return 0, 0, err
		}
	}
	// One wait: the loss and the squared norm come down, then the
	// kernels' error flags. A non-finite loss or norm is reported first,
	// as on the CPU (NaN inputs can also make kernels raise flags).
	if loss, err = o.m.FloatUnchecked(o.loss); err != nil {
		return 0, 0, err
	}
	if o.comm != nil {
		t0 := time.Now()
		sum := [1]float64{share * loss}
		err := o.comm.AllReduceSum64(sum[:])
		o.commTime += time.Since(t0)
		if err != nil {
			return 0, 0, fmt.Errorf("backend: the loss's all-reduce: %w", err)
		}
		loss = sum[0]
	}
	var sq [1]float64
	if err := gpu.Download(dev, sq[:], o.sq); err != nil {
		return 0, 0, err
	}
	flags := dev.CheckErrors()
	also := func(err error) error {
		if flags == nil {
			return err
		}
		return fmt.Errorf("%w (and %v)", err, flags)
	}
	if err := optim.CheckFinite("loss", loss); err != nil {
		return loss, 0, also(err)
	}
	gradNorm = math.Sqrt(sq[0])
	if err := optim.CheckFinite("gradient norm", gradNorm); err != nil {
		return loss, gradNorm, also(err)
	}
	if flags != nil {
		return 0, 0, flags
	}
	if o.maxNorm > 0 && gradNorm > o.maxNorm {
		for i, p := range grads {
			if err := dev.Clip(p, o.sizes[i], o.sq, o.maxNorm); err != nil {
				return 0, 0, err
			}
		}
	}
	a := o.opt
	a.Step++
	for i, p := range grads {
		hp := gpu.AdamWParams{LR: lr, Beta1: a.Beta1, Beta2: a.Beta2, Eps: a.Eps, WeightDecay: a.WeightDecay, Step: a.Step, Decay: a.Decay[i]}
		if err := dev.AdamW(o.params[i], p, o.mom[i], o.vel[i], o.sizes[i], hp); err != nil {
			return 0, 0, err
		}
	}
	return loss, gradNorm, nil
}

func (o *cudaOptimizer) Pull() error {
	if err := o.b.res.Download(); err != nil {
		return err
	}
	for i := range o.sizes {
		if err := gpu.Download(o.b.dev, o.opt.M[i], o.mom[i]); err != nil {
			return err
		}
		if err := gpu.Download(o.b.dev, o.opt.V[i], o.vel[i]); err != nil {
			return err
		}
	}
	return nil
}

func (o *cudaOptimizer) Push() error {
	if err := o.b.res.Upload(); err != nil {
		return err
	}
	return o.pushMoments()
}

func (o *cudaOptimizer) Close() error {
	var errs []error
	if o.group != nil {
		errs = append(errs, o.group.Close())
		o.group = nil
	}
	for _, p := range append(append([]gpu.DevicePtr{o.sq}, o.mom...), o.vel...) {
		if p != 0 {
			errs = append(errs, o.b.dev.Free(p))
		}
	}
	o.mom, o.vel, o.sq = nil, nil, 0
	return errors.Join(errs...)
}
