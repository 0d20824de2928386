//go:build gpu || gpuemu

package gpu

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/infoscale/gaualpha/gpu/driver"
	"github.com/infoscale/gaualpha/internal/bf16"
)

var (
	devOnce  sync.Once
	dev      *Device
	noDevice error // no driver or no device: the tests skip
	openErr  error // a device is there but Open failed: the tests fail
)

// testDevice opens device 0 once for the package's tests. It skips the test
// when no GPU can be used (no driver, no device) and fails it when a GPU is
// present but cannot be opened (a PTX JIT error, say).
func testDevice(t testing.TB) *Device {
	t.Helper()
	devOnce.Do(func() {
		if noDevice = Available(); noDevice != nil {
			return
		}
		if dev, openErr = Open(0); openErr == nil {
			in := dev.Info()
			t.Logf("device: %s (%s), compute %d.%d, %d SMs, PTX %s, loaded from the %s, driver %d", in.Name, in.Backend, in.Major, in.Minor, in.SMs, in.Arch, in.Image, in.Driver)
		}
	})
	if noDevice != nil {
		t.Skipf("no GPU to test on: %v", noDevice)
	}
	if openErr != nil {
		t.Fatalf("a GPU is present but cannot be opened: %v", openErr)
	}
	return dev
}

// emulated reports whether the tests run on the CPU emulator (smaller
// problems keep them quick).
func emulated() bool { return driver.Backend == "emulator" }

const nanBits = 0x7fc00000

// upload copies host values to a new device buffer freed at the end of the test.
func upload[T Elem](t testing.TB, d *Device, x []T) DevicePtr {
	t.Helper()
	p, err := AllocCopy(d, x)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Free(p) })
	return p
}

// nanBuf allocates n float32s on the device, all NaN, freed at the end of
// the test: an output element a kernel fails to write stays NaN.
func nanBuf(t testing.TB, d *Device, n int) DevicePtr {
	t.Helper()
	p, err := d.Alloc(4 * max(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Free(p) })
	if err := d.Fill32(p, nanBits, max(n, 1)); err != nil {
		t.Fatal(err)
	}
	return p
}

// zeroBuf allocates n 32-bit words set to 0.
func zeroBuf(t testing.TB, d *Device, words int) DevicePtr {
	t.Helper()
	p := nanBuf(t, d, words)
	if err := d.Fill32(p, 0, max(words, 1)); err != nil {
		t.Fatal(err)
	}
	return p
}

func download[T Elem](t testing.TB, d *Device, p DevicePtr, n int) []T {
	t.Helper()
	out := make([]T, n)
	if err := Download(d, out, p); err != nil {
		t.Fatal(err)
	}
	return out
}

// check compares got with want: every element finite (so written) and the
// normwise relative error max|got-want| / max|want| within tol.
func check(t testing.TB, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	var worst, scale float64
	at := -1
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			if !(math.IsNaN(w) || math.IsInf(w, 0)) {
				t.Errorf("%s[%d] = %v (not written, or not finite), want %v", name, i, g, w)
				return
			}
			continue
		}
		scale = math.Max(scale, math.Abs(w))
		if d := math.Abs(g - w); d > worst {
			worst, at = d, i
		}
	}
	if scale == 0 {
		scale = 1
	}
	if rel := worst / scale; rel > tol {
		t.Errorf("%s: relative error %.3g > %.1g (element %d: got %v, want %v; max |want| %.3g)",
			name, rel, tol, at, got[at], want[at], scale)
	}
}

func randF32(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

// roundBF16 is x rounded to bfloat16 and widened again.
func roundBF16(x []float32) []float32 { return fromBF16(ToBF16(x)) }

// fromBF16 widens bfloat16 patterns to float32.
func fromBF16(x []uint16) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = bf16.Float(v)
	}
	return out
}

// copyDevice copies bytes from src to dst on the device (queued on the
// stream).
func copyDevice(d *Device, dst, src DevicePtr, bytes int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.drv.DtoD(dst, src, bytes)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sync waits for the device and fails on any kernel-raised error.
func syncCheck(t testing.TB, d *Device) {
	t.Helper()
	must(t, d.Synchronize())
	must(t, d.CheckErrors())
}
