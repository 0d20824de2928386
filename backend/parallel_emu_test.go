//go:build gpuemu

package backend

import (
	"testing"

	"github.com/infoscale/gaualpha/gpu"
)

// The device optimiser in a group of 2 and 3 emulated devices (one per
// rank, the gradients summed by the emulator's stand-in of NCCL) is one
// process's step on the share-weighted sum of the ranks' gradients.
func TestDataParallelEmulatedDevices(t *testing.T) {
	for _, n := range []int{2, 3} {
		devs := make([]*gpu.Device, n)
		for i := range devs {
			d, err := gpu.Open(0)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			devs[i] = d
		}
		checkDataParallel(t, n, func(r int) (Backend, error) { return OnDevice(devs[r], Options{}) })
	}
}
