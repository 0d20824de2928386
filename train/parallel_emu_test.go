//go:build gpuemu

package train

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/gpu"
)

// Two ranks, each with a device of the emulator (the gradients summed by
// the emulator's stand-in of NCCL), train as one process on the CPU does:
// the same losses and weights within the device test's tolerance, the
// ranks' weights equal to the last bit.
func TestDataParallelEmulatedDevices(t *testing.T) {
	const K, n = 4, 2
	run := newTinyRun(t, K)
	run.cfg, run.v, run.trs, run.vas = deviceSetup(t)
	one, err := New(run.cfg, run.v, run.initParams(), run.trs, run.vas, run.o)
	if err != nil {
		t.Fatal(err)
	}
	want := stepLosses(t, one, K)
	wantW := weights(one.Params)
	devs := make([]*gpu.Device, n)
	for i := range devs {
		d, err := gpu.Open(0)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		devs[i] = d
	}
	var mu sync.Mutex
	ws := map[int][][]float32{}
	var worst float64
	err = run.onRanks(n, func(c collective.Comm, tr *Trainer) error {
		be, err := backend.OnDevice(devs[c.Rank()], backend.Options{})
		if err != nil {
			return err
		}
		defer be.Close()
		if err := tr.Use(be); err != nil {
			return err
		}
		for k := range K {
			l, _, err := tr.Step()
			if err != nil {
				return err
			}
			if math.Abs(l-want[k]) > 1e-4*want[k] {
				return fmt.Errorf("step %d: loss %.7f on the devices, one process on the CPU %.7f", k+1, l, want[k])
			}
		}
		if _, err := tr.CheckSameWeights(); err != nil {
			return err
		}
		w := weights(tr.Params)
		mu.Lock()
		defer mu.Unlock()
		ws[c.Rank()] = w
		for i := range w {
			for j := range w[i] {
				worst = max(worst, math.Abs(float64(w[i][j]-wantW[i][j])))
			}
		}
		return tr.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("largest weight difference from one CPU process after %d steps: %.3g", K, worst)
	if worst > 1e-4 {
		t.Errorf("a weight differs from one CPU process's by %.3g", worst)
	}
	for i := range ws[0] {
		if !slices.Equal(ws[1][i], ws[0][i]) {
			t.Errorf("rank 1's parameter %d differs from rank 0's", i)
		}
	}
}
