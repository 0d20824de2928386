//go:build gpu || gpuemu

package gpu

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"unsafe"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/gpu/driver"
	"github.com/infoscale/gaualpha/internal/bf16"
	"github.com/infoscale/gaualpha/kernels/cuda"
)

// Built reports whether GPU support is compiled in.
const Built = true

// DevicePtr is a device address (CUdeviceptr; 0 is null).
type DevicePtr = driver.Ptr

// Info describes the opened device (Arch: the PTX checked against the Go
// structs, "sm80" or "sm90"; Image: ImageFatbin or ImagePTX).
type Info = driver.Info

// Available reports whether a device can be opened (the driver loads and at
// least one device is present). It never exits the process.
func Available() error {
	n, err := driver.Probe()
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("gpu: the CUDA driver reports no device")
	}
	return nil
}

// Count returns the number of devices this process sees (the driver's
// count, after CUDA_VISIBLE_DEVICES).
func Count() (int, error) { return driver.Probe() }

// Error-flag slots in the device's flag buffer (int64 each; 0 = no error,
// else the failing item + 1).
const (
	flagAttention = iota // a valid query row with no key in reach
	flagIndex            // gather/scatter id out of range
	flagTarget           // cross-entropy target out of range
	numFlags
)

// Device is an opened GPU with the kernel modules loaded and one stream on
// which every kernel, copy and GEMM runs in order. Its methods may be
// called from any goroutine (they serialise on a mutex; each driver call
// makes the context current on its thread).
type Device struct {
	mu      sync.Mutex
	drv     driver.Driver
	info    Info
	modules map[string]driver.Module
	kernels map[string]*kernel
	flags   DevicePtr
	scratch map[string]scratchBuf
	consts  map[string]DevicePtr
}

type kernel struct {
	name    string
	fn      driver.Function
	args    reflect.Type // the parameter struct (args.go)
	maxSmem int          // dynamic shared memory allowed so far (48 KiB by default)
}

type scratchBuf struct {
	p     DevicePtr
	bytes int
}

// Open opens device ordinal (compute capability 8.0 at least), checks every
// kernel's parameters in the PTX of its architecture (sm_90 PTX on 9.x,
// sm_80 otherwise) against the Go signatures and loads the kernels'
// fatbins: the driver takes the prebuilt SASS for sm_80 (every 8.x) or
// sm_90 and JIT-compiles their compute_90 PTX on any other device. With
// GAUALPHA_GPU_JIT=1 (JITEnv) it loads the PTX instead, JIT-compiled.
func Open(ordinal int) (*Device, error) {
	drv, err := driver.Open(ordinal)
	if err != nil {
		return nil, err
	}
	d := &Device{drv: drv, modules: map[string]driver.Module{}, kernels: map[string]*kernel{},
		scratch: map[string]scratchBuf{}, consts: map[string]DevicePtr{}}
	fail := func(err error) (*Device, error) {
		d.Close()
		return nil, err
	}
	if d.info, err = drv.Info(); err != nil {
		return fail(err)
	}
	if d.info.Major < 8 {
		return fail(fmt.Errorf("gpu: %s has compute capability %d.%d; the kernels need 8.0 or newer", d.info.Name, d.info.Major, d.info.Minor))
	}
	d.info.Arch = archOf(d.info)
	d.info.Image = imageKind()
	for _, name := range cuda.Modules {
		img, err := moduleImage(name, d.info.Arch, d.info.Image)
		if err != nil {
			return fail(err)
		}
		m, err := drv.LoadModule(name, img)
		if err != nil {
			return fail(err)
		}
		d.modules[name] = m
	}
	for name, sig := range kernelSigs {
		fn, err := drv.Function(d.modules[sig.module], name)
		if err != nil {
			return fail(err)
		}
		d.kernels[name] = &kernel{name: name, fn: fn, args: sig.args, maxSmem: 48 * 1024}
	}
	if d.flags, err = drv.Alloc(8 * numFlags); err != nil {
		return fail(err)
	}
	if err := drv.Memset32(d.flags, 0, 2*numFlags); err != nil {
		return fail(err)
	}
	return d, nil
}

// Info describes the device.
func (d *Device) Info() Info { return d.info }

// Close frees the device's buffers and modules and releases the context.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.drv == nil {
		return nil
	}
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	keep(d.drv.Sync())
	for _, s := range d.scratch {
		keep(d.drv.Free(s.p))
	}
	for _, p := range d.consts {
		keep(d.drv.Free(p))
	}
	if d.flags != 0 {
		keep(d.drv.Free(d.flags))
	}
	for _, m := range d.modules {
		keep(d.drv.UnloadModule(m))
	}
	keep(d.drv.Close())
	d.drv = nil
	return first
}

// ---- memory ----

// Alloc allocates bytes of device memory (contents undefined).
func (d *Device) Alloc(bytes int) (DevicePtr, error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("gpu: Alloc(%d)", bytes)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.drv.Alloc(bytes)
}

// Free frees memory from Alloc (after Close, when the device's memory is
// gone already, it does nothing).
func (d *Device) Free(p DevicePtr) error {
	if p == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.drv == nil {
		return nil
	}
	return d.drv.Free(p)
}

// Elem is an element type that can be copied to and from the device.
type Elem interface {
	~float32 | ~float64 | ~int64 | ~uint64 | ~int32 | ~uint32 | ~uint16
}

// Upload copies src to the device at dst (after the work queued so far).
func Upload[T Elem](d *Device, dst DevicePtr, src []T) error {
	if len(src) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.drv.HtoD(dst, unsafe.Pointer(&src[0]), len(src)*int(unsafe.Sizeof(src[0])))
}

// Download copies len(dst) elements from the device at src to dst, after
// the work queued so far has finished.
func Download[T Elem](d *Device, dst []T, src DevicePtr) error {
	if len(dst) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.drv.DtoH(unsafe.Pointer(&dst[0]), src, len(dst)*int(unsafe.Sizeof(dst[0])))
}

// AllocCopy allocates device memory for src and uploads it.
func AllocCopy[T Elem](d *Device, src []T) (DevicePtr, error) {
	var z T
	n := max(len(src), 1) * int(unsafe.Sizeof(z))
	p, err := d.Alloc(n)
	if err != nil {
		return 0, err
	}
	if err := Upload(d, p, src); err != nil {
		d.Free(p)
		return 0, err
	}
	return p, nil
}

// Fill32 sets n 32-bit words at p to v (queued on the stream): Fill32(p, 0,
// n) zeroes n float32s, Fill32(p, 0x7fc00000, n) fills them with NaN.
func (d *Device) Fill32(p DevicePtr, v uint32, n int) error {
	if n == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.drv.Memset32(p, v, n)
}

// Synchronize waits for the queued work and returns its first error.
func (d *Device) Synchronize() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.drv.Sync()
}

// CheckErrors waits for the queued work and reports (and clears) the error
// flags kernels raise in device memory: a valid attention row with no key,
// an embedding id or a cross-entropy target out of range (the first is
// attn.ErrEmptyRow for errors.Is). Kernels cannot
// return errors, so a caller checks once per step (or after each call).
func (d *Device) CheckErrors() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var f [numFlags]int64
	if err := d.drv.DtoH(unsafe.Pointer(&f[0]), d.flags, 8*numFlags); err != nil {
		return err
	}
	var errs []error
	if f[flagAttention] != 0 {
		errs = append(errs, fmt.Errorf("gpu: attention: global row %d: %w", f[flagAttention]-1, attn.ErrEmptyRow))
	}
	if f[flagIndex] != 0 {
		errs = append(errs, fmt.Errorf("gpu: gather/scatter: id %d out of range", f[flagIndex]-1))
	}
	if f[flagTarget] != 0 {
		errs = append(errs, fmt.Errorf("gpu: cross entropy: target of row %d out of range", f[flagTarget]-1))
	}
	if len(errs) > 0 {
		if err := d.drv.Memset32(d.flags, 0, 2*numFlags); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *Device) flag(slot int) DevicePtr { return d.flags.Add(8 * slot) }

// scratchLocked returns a device buffer of at least bytes kept under key
// for reuse; its contents are undefined. Callers hold d.mu. Work queued on
// the stream that uses an earlier buffer under the same key finishes
// before later work (one stream), so reuse needs no synchronisation.
func (d *Device) scratchLocked(key string, bytes int) (DevicePtr, error) {
	bytes = max(bytes, 256)
	if s, ok := d.scratch[key]; ok {
		if s.bytes >= bytes {
			return s.p, nil
		}
		if err := d.drv.Sync(); err != nil {
			return 0, err
		}
		if err := d.drv.Free(s.p); err != nil {
			return 0, err
		}
		delete(d.scratch, key)
	}
	p, err := d.drv.Alloc(bytes)
	if err != nil {
		return 0, err
	}
	d.scratch[key] = scratchBuf{p: p, bytes: bytes}
	return p, nil
}

// constLocked returns a device copy of data kept under key (the key must
// identify the contents). Callers hold d.mu.
func constLocked[T Elem](d *Device, key string, data []T) (DevicePtr, error) {
	if p, ok := d.consts[key]; ok {
		return p, nil
	}
	if len(d.consts) >= 256 {
		// Drop them all (rare: a long run over many padding patterns).
		if err := d.drv.Sync(); err != nil {
			return 0, err
		}
		for k, p := range d.consts {
			if err := d.drv.Free(p); err != nil {
				return 0, err
			}
			delete(d.consts, k)
		}
	}
	var z T
	p, err := d.drv.Alloc(max(len(data), 1) * int(unsafe.Sizeof(z)))
	if err != nil {
		return 0, err
	}
	if len(data) > 0 {
		if err := d.drv.HtoD(p, unsafe.Pointer(&data[0]), len(data)*int(unsafe.Sizeof(z))); err != nil {
			d.drv.Free(p)
			return 0, err
		}
	}
	d.consts[key] = p
	return p, nil
}

// ---- launching ----

// launchLocked launches kernel name with args, a pointer to its parameter
// struct (kernelSigs), after checking the struct's type, the grid and block
// limits and the shared memory; callers hold d.mu.
func (d *Device) launchLocked(name string, grid, block [3]int, smem int, args any) error {
	k, ok := d.kernels[name]
	if !ok {
		return fmt.Errorf("gpu: no kernel %s", name)
	}
	v := reflect.ValueOf(args)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Type().Elem() != k.args {
		return fmt.Errorf("gpu: kernel %s takes a *%s, got %T", name, k.args.Name(), args)
	}
	threads := block[0] * block[1] * block[2]
	switch {
	case grid[0] < 1 || grid[1] < 1 || grid[2] < 1 || grid[0] > math.MaxInt32 || grid[1] > 65535 || grid[2] > 65535:
		return fmt.Errorf("gpu: kernel %s: grid %v out of range", name, grid)
	case threads < 1 || threads > 1024:
		return fmt.Errorf("gpu: kernel %s: block %v out of range", name, block)
	case smem < 0 || smem > d.info.MaxSharedOptin:
		return fmt.Errorf("gpu: kernel %s needs %d bytes of shared memory; the device allows %d", name, smem, d.info.MaxSharedOptin)
	}
	if smem > k.maxSmem {
		if err := d.drv.SetMaxDynamicSmem(k.fn, name, smem); err != nil {
			return err
		}
		k.maxSmem = smem
	}
	return d.drv.Launch(k.fn, name, grid, block, smem, v.UnsafePointer(), int(k.args.Size()))
}

// launch is launchLocked with the lock taken.
func (d *Device) launch(name string, grid, block [3]int, smem int, args any) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.launchLocked(name, grid, block, smem, args)
}

// ---- timing ----

// Timer measures the device time of the work queued between Start and Stop
// with CUDA events.
type Timer struct {
	d          *Device
	start, end driver.Event
}

// NewTimer creates the events of a timer.
func (d *Device) NewTimer() (*Timer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := d.drv.NewEvent()
	if err != nil {
		return nil, err
	}
	e, err := d.drv.NewEvent()
	if err != nil {
		d.drv.DestroyEvent(s)
		return nil, err
	}
	return &Timer{d: d, start: s, end: e}, nil
}

// Start records the start event on the stream.
func (t *Timer) Start() error {
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	return t.d.drv.Record(t.start)
}

// Stop records the end event, waits for it and returns the milliseconds
// since Start.
func (t *Timer) Stop() (float64, error) {
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	if err := t.d.drv.Record(t.end); err != nil {
		return 0, err
	}
	return t.d.drv.Elapsed(t.start, t.end)
}

// Close destroys the events.
func (t *Timer) Close() error {
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	err := t.d.drv.DestroyEvent(t.start)
	if err2 := t.d.drv.DestroyEvent(t.end); err == nil {
		err = err2
	}
	return err
}

// ---- bfloat16 ----

// ToBF16 rounds float32 values to bfloat16 (round to nearest even; NaN stays
// NaN), as raw 16-bit patterns for the *BF16 kernels.
func ToBF16(x []float32) []uint16 {
	out := make([]uint16, len(x))
	for i, v := range x {
		out[i] = bf16.Bits(v)
	}
	return out
}
