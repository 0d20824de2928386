//go:build gpu || gpuemu

package gpu_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/optim"
)

// The optimiser kernels against optim.AdamW and optim.ClipGradNorm. An
// external test: package train imports gpu (its device backend), so the
// package's own tests cannot import train.
func TestAdamWAndClipping(t *testing.T) {
	d := gpu.TestingDevice(t)
	rng := rand.New(rand.NewPCG(8, 1))
	sizes := []int{1000, 77}
	decay := []bool{true, false}
	opt := optim.NewAdamW(sizes, decay, 0.01)
	params := [][]float32{gpu.RandF32(rng, sizes[0], 1), gpu.RandF32(rng, sizes[1], 1)}
	var pd, md, vd []gpu.DevicePtr
	for i, n := range sizes {
		pd = append(pd, gpu.UploadF32(t, d, params[i]))
		md = append(md, gpu.ZeroBuf(t, d, n))
		vd = append(vd, gpu.ZeroBuf(t, d, n))
	}
	sq := gpu.ZeroBuf(t, d, 2)
	for step := 1; step <= 3; step++ {
		grads := [][]float32{gpu.RandF32(rng, sizes[0], 3), gpu.RandF32(rng, sizes[1], 3)}
		var gd []gpu.DevicePtr
		for _, g := range grads {
			gd = append(gd, gpu.UploadF32(t, d, g))
		}
		// Clipping: the device's squared norm and scaling against ClipGradNorm.
		gpu.Must(t, d.Fill32(sq, 0, 2))
		for i, n := range sizes {
			gpu.Must(t, d.SquaredNorm(sq, gd[i], n))
		}
		for i, n := range sizes {
			gpu.Must(t, d.Clip(gd[i], n, sq, 5))
		}
		norm := optim.ClipGradNorm(grads, 5)
		if got := math.Sqrt(gpu.DownloadF64(t, d, sq, 1)[0]); math.Abs(got-norm) > 1e-9*norm {
			t.Errorf("step %d: gradient norm %v, want %v", step, got, norm)
		}
		for i, n := range sizes {
			gpu.Check(t, "clipped gradient", gpu.DownloadF32(t, d, gd[i], n), grads[i], 1e-6)
		}
		const lr = 1e-2
		gpu.Must(t, opt.Update(params, grads, lr))
		for i, n := range sizes {
			gpu.Must(t, d.AdamW(pd[i], gd[i], md[i], vd[i], n, gpu.AdamWParams{LR: lr, Beta1: opt.Beta1, Beta2: opt.Beta2,
				Eps: opt.Eps, WeightDecay: opt.WeightDecay, Step: opt.Step, Decay: decay[i]}))
			gpu.Check(t, "adamw params", gpu.DownloadF32(t, d, pd[i], n), params[i], 1e-5)
			gpu.Check(t, "adamw m", gpu.DownloadF32(t, d, md[i], n), opt.M[i], 1e-5)
			gpu.Check(t, "adamw v", gpu.DownloadF32(t, d, vd[i], n), opt.V[i], 1e-5)
		}
	}
}
