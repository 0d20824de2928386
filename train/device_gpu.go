//go:build gpu || gpuemu

package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/gpu/graphexec"
	"github.com/infoscale/gaualpha/layers"
	"github.com/infoscale/gaualpha/metrics"
)

func init() { deviceBackends["cuda"] = newGPUDevice }

// gpuDevice trains on a GPU: the trainer's own model graphs (t.model, with
// gradients, and t.evalModel) run by gpu/graphexec; the weights resident
// on the device, the AdamW moments beside them; gradient clipping (global
// norm from the squared-norm kernel) and AdamW in place on the device.
// Per step the batch's ints go up; the loss, the squared gradient norm and
// the kernels' error flags come down. With Trainer.Precision "bf16" the
// matrix products take bfloat16 inputs (graphexec.Resident.BF16).
type gpuDevice struct {
	t     *Trainer
	dev   *gpu.Device
	res   *graphexec.Resident
	model *graphexec.Model
	val   *graphexec.Model
	param []gpu.DevicePtr // resident weights, in Params.Named order
	m, v  []gpu.DevicePtr // optim.AdamW moments
	sizes []int
	sq    gpu.DevicePtr // float64: the squared gradient norm
	hostL []float32     // validation logits
}

func newGPUDevice(t *Trainer) (device, error) {
	dev, err := graphexec.Shared()
	if err != nil {
		return nil, fmt.Errorf("-device cuda: %w", err)
	}
	g := &gpuDevice{t: t, dev: dev, res: graphexec.NewResident(dev)}
	g.res.BF16 = t.Precision == "bf16" // (parsed by UseDevice)
	fail := func(err error) (device, error) {
		g.close()
		return nil, err
	}
	if g.model, err = graphexec.NewModel(g.res, t.model); err != nil {
		return fail(err)
	}
	if g.val, err = graphexec.NewModel(g.res, t.evalModel); err != nil {
		return fail(err)
	}
	for _, n := range t.Params.Named() {
		p, err := g.res.Bind(n.T)
		if err != nil {
			return fail(err)
		}
		g.param = append(g.param, p)
		g.sizes = append(g.sizes, n.T.Shape().TotalSize())
	}
	if len(g.model.Grads) != len(g.param) {
		return fail(fmt.Errorf("device: %d gradients for %d parameters", len(g.model.Grads), len(g.param)))
	}
	for _, n := range g.sizes {
		for _, dst := range []*[]gpu.DevicePtr{&g.m, &g.v} {
			p, err := g.dev.Alloc(4 * max(n, 1))
			if err != nil {
				return fail(err)
			}
			*dst = append(*dst, p)
		}
	}
	if g.sq, err = g.dev.Alloc(8); err != nil {
		return fail(err)
	}
	if err := g.pushMoments(); err != nil {
		return fail(err)
	}
	return g, nil
}

func (g *gpuDevice) pushMoments() error {
	o := g.t.Opt
	if len(o.M) != len(g.sizes) || len(o.V) != len(g.sizes) {
		return fmt.Errorf("device: optimizer has %d moment pairs for %d parameters", len(o.M), len(g.sizes))
	}
	for i, n := range g.sizes {
		if len(o.M[i]) != n || len(o.V[i]) != n {
			return fmt.Errorf("device: moments of parameter %d have %d and %d values, want %d", i, len(o.M[i]), len(o.V[i]), n)
		}
		if err := gpu.Upload(g.dev, g.m[i], o.M[i]); err != nil {
			return err
		}
		if err := gpu.Upload(g.dev, g.v[i], o.V[i]); err != nil {
			return err
		}
	}
	return nil
}

// step is Trainer.Step's CPU body on the device: same order of checks,
// same errors, same update (optim.ClipGradNorm, optim.AdamW.Update).
func (g *gpuDevice) step(bt *layers.Batch, lr float64) (loss, gradNorm float64, err error) {
	if err := g.model.Run(bt); err != nil {
		return 0, 0, err
	}
	grads := make([]gpu.DevicePtr, len(g.model.Grads))
	for i, n := range g.model.Grads {
		p, ok := g.model.M.Ptr(n)
		if !ok {
			return 0, 0, fmt.Errorf("device: no gradient for %s", g.t.Params.Named()[i].Name)
		}
		grads[i] = p
	}
	if err := g.dev.Fill32(g.sq, 0, 2); err != nil {
		return 0, 0, err
	}
	for i, p := range grads {
		if err := g.dev.SquaredNorm(g.sq, p, g.sizes[i]); err != nil {
			return 0, 0, err
		}
	}
	// One wait: the loss and the squared norm come down, then the
	// kernels' error flags. A non-finite loss or norm is reported first,
	// as on the CPU (NaN inputs can also make kernels raise flags).
	if loss, err = g.model.M.FloatUnchecked(g.model.Loss); err != nil {
		return 0, 0, err
	}
	var sq [1]float64
	if err := gpu.Download(g.dev, sq[:], g.sq); err != nil {
		return 0, 0, err
	}
	flags := g.dev.CheckErrors()
	also := func() string {
		if flags == nil {
			return ""
		}
		return fmt.Sprintf(" (and %v)", flags)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, 0, fmt.Errorf("loss is %v: %w%s", loss, ErrNonFinite, also())
	}
	gradNorm = math.Sqrt(sq[0])
	if math.IsNaN(gradNorm) || math.IsInf(gradNorm, 0) {
		return loss, gradNorm, fmt.Errorf("gradient norm is %v: %w%s", gradNorm, ErrNonFinite, also())
	}
	if flags != nil {
		return 0, 0, flags
	}
	o := g.t.Opt
	if maxNorm := g.t.opts.ClipNorm; maxNorm > 0 && gradNorm > maxNorm {
		for i, p := range grads {
			if err := g.dev.Clip(p, g.sizes[i], g.sq, maxNorm); err != nil {
				return 0, 0, err
			}
		}
	}
	if len(o.Decay) != len(grads) {
		return 0, 0, fmt.Errorf("adamw: %d parameters and %d gradients for %d moment pairs", len(grads), len(grads), len(o.Decay))
	}
	o.Step++
	for i, p := range grads {
		a := gpu.AdamWParams{LR: lr, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay, Step: o.Step, Decay: o.Decay[i]}
		if err := g.dev.AdamW(g.param[i], p, g.m[i], g.v[i], g.sizes[i], a); err != nil {
			return 0, 0, err
		}
	}
	return loss, gradNorm, nil
}

func (g *gpuDevice) validate(batches []*layers.Batch) (metrics.Tally, error) {
	var tl metrics.Tally
	for _, bt := range batches {
		if err := g.val.Run(bt); err != nil {
			return tl, err
		}
		var err error
		if g.hostL, err = g.val.LogitsValue(g.hostL); err != nil {
			return tl, err
		}
		tl.Add(g.hostL, bt.Targets, g.t.Config.VocabSize)
	}
	return tl, nil
}

func (g *gpuDevice) pull() error {
	if err := g.res.Download(); err != nil {
		return err
	}
	o := g.t.Opt
	for i := range g.sizes {
		if err := gpu.Download(g.dev, o.M[i], g.m[i]); err != nil {
			return err
		}
		if err := gpu.Download(g.dev, o.V[i], g.v[i]); err != nil {
			return err
		}
	}
	return nil
}

func (g *gpuDevice) push() error {
	if err := g.res.Upload(); err != nil {
		return err
	}
	return g.pushMoments()
}

func (g *gpuDevice) close() error {
	var errs []error
	for _, m := range []*graphexec.Model{g.model, g.val} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	for _, p := range append(append([]gpu.DevicePtr{g.sq}, g.m...), g.v...) {
		errs = append(errs, g.dev.Free(p))
	}
	errs = append(errs, g.res.Close())
	return errors.Join(errs...)
}
