//go:build gpuemu

package driver

// The emulator: the kernels of kernels/cuda compiled as C++ (emu.cc) and
// run on the CPU by kernels/cuda/emu/cuda_emu.h, with host memory standing
// in for device memory. It exists so that the kernels, their launch code
// and the tests of package gpu run on machines without a GPU:
//
//	go test -tags gpuemu ./gpu/...
//
// GAU_EMU_SEED (an unsigned integer, default 1) seeds the orders that a GPU
// leaves open: the order of the blocks of every launch and the order of a
// block's threads between barriers (and so of their atomics), drawn from
// the seed and the launch's sequence number in the process, and the split-k
// slicing of the GEMMs, drawn from the seed and the GEMM's shape (cuBLAS
// picks one kernel per shape, and gives the same result from call to
// call). A run is reproducible: the same tests with the same seed replay
// the same orders. The seed is printed on standard error when the emulator
// opens (go test shows it for a failing package).
//
// GAU_EMU_ORDER=forward or reverse runs every block's threads in increasing
// and decreasing order alternately, starting with the one named, instead of
// a seeded order per round: a deterministic check for missing barriers
// (every write-read pair of threads is run both ways round in two runs).
//
// The kernels are compiled with FMA contraction, as nvcc compiles them by
// default (--fmad=true): g++ contracts a*b + c by default in C++
// (-ffp-contract=fast, a flag cgo does not accept), in a pass that runs
// from -O2, and on x86-64 -march=x86-64-v3 provides the FMA instructions
// (Haswell and later; cgo does not accept -mfma). g++ fuses a product only
// where every use of it is an addition; nvcc also fuses a product that has
// other uses, so the emulator fuses a subset of what the GPU fuses.
// TestEmuFMA checks the contraction.

/*
#cgo CXXFLAGS: -std=c++17 -O2 -fno-strict-aliasing -Wno-unused-function
#cgo amd64 CXXFLAGS: -march=x86-64-v3
#cgo LDFLAGS: -lpthread
#include <stdlib.h>
#include "emu.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"unsafe"
)

// Backend names the implementation this build has.
const Backend = "emulator"

var (
	errEmuAttrs = errors.New("not available in the emulator (no device compilation)")
	errEmuBlas  = errors.New("the emulator runs the GEMMs on the CPU, without cuBLAS")
)

// emuLaunches lets launches of several emulated devices (the members of
// an in-process group, emu_group.go) run at once while a kernel's shared
// memory limit is being set, which writes the emulator's one table of
// limits, runs alone.
var emuLaunches sync.RWMutex

// emuDriver is the emulator's Driver.
type emuDriver struct {
	order    C.int  // emu_launch's thread order (emuOrder)
	seed     uint64 // GAU_EMU_SEED
	launches uint64 // launches so far: each one's key is (seed, launches)
	names    map[string]*C.char
}

// emuOrder is GAU_EMU_ORDER as emu_launch's order argument.
func emuOrder(v string) (C.int, error) {
	switch v {
	case "", "random":
		return 0, nil
	case "forward":
		return 1, nil
	case "reverse":
		return 2, nil
	}
	return 0, fmt.Errorf("gpu: GAU_EMU_ORDER=%q: want random, forward or reverse", v)
}

// defaultSeed is the seed when GAU_EMU_SEED is not set.
const defaultSeed = 1

// emuSeed is GAU_EMU_SEED, defaultSeed when empty.
func emuSeed(v string) (uint64, error) {
	if v == "" {
		return defaultSeed, nil
	}
	s, err := strconv.ParseUint(v, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("gpu: GAU_EMU_SEED=%q: want an unsigned integer", v)
	}
	return s, nil
}

// nextKey is the key of the next launch: the seed and the launch's
// sequence number, mixed.
func (b *emuDriver) nextKey() C.uint64_t {
	b.launches++
	return C.uint64_t(mixKey(b.seed, b.launches))
}

// mixKey folds words into a key, each step SplitMix64's finaliser, so that
// neighbouring seeds, sequence numbers or shapes give unrelated keys.
func mixKey(words ...uint64) uint64 {
	var z uint64
	for _, w := range words {
		z = (z ^ w) * 0x9e3779b97f4a7c15
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		z ^= z >> 31
	}
	return z
}

// Probe reports the emulator's one device.
func Probe() (int, error) { return 1, nil }

// Open opens the emulator (ordinal 0), with the thread and block orders of
// GAU_EMU_ORDER and GAU_EMU_SEED.
func Open(ordinal int) (Driver, error) {
	if ordinal != 0 {
		return nil, fmt.Errorf("gpu: the emulator has one device, %d requested", ordinal)
	}
	order, err := emuOrder(os.Getenv("GAU_EMU_ORDER"))
	if err != nil {
		return nil, err
	}
	seed, err := emuSeed(os.Getenv("GAU_EMU_SEED"))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "gpu: CPU emulator, GAU_EMU_SEED=%d (orders of blocks, threads and GEMM sums; the same seed and tests replay them)\n", seed)
	return &emuDriver{order: order, seed: seed, names: map[string]*C.char{}}, nil
}

func (b *emuDriver) Close() error {
	for _, s := range b.names {
		C.free(unsafe.Pointer(s))
	}
	b.names = nil
	return nil
}

func (b *emuDriver) Info() (Info, error) {
	// Reports an sm_90 device so that the sm_90 PTX is the one checked at
	// Open; 132 SMs (an H100 SXM) for the launch heuristics.
	return Info{Name: "CPU emulator", Major: 9, Minor: 0, SMs: 132, Memory: 1 << 40,
		MaxSharedOptin: 227 * 1024, Backend: Backend}, nil
}

func (b *emuDriver) LoadModule(name, image string) (Module, error) { return Module{}, nil }
func (b *emuDriver) UnloadModule(Module) error                     { return nil }

func (b *emuDriver) Function(m Module, name string) (Function, error) {
	cs, ok := b.names[name]
	if !ok {
		cs = C.CString(name)
		b.names[name] = cs
	}
	var n C.size_t
	if C.emu_has_kernel(cs, &n) == 0 {
		return Function{}, fmt.Errorf("gpu: the emulator has no kernel %s", name)
	}
	return Function{p: unsafe.Pointer(cs)}, nil
}

func (b *emuDriver) SetMaxDynamicSmem(f Function, name string, bytes int) error {
	emuLaunches.Lock()
	defer emuLaunches.Unlock()
	C.emu_set_max_dyn_smem((*C.char)(f.p), C.size_t(bytes))
	return nil
}

func (b *emuDriver) Alloc(bytes int) (Ptr, error) {
	p := C.emu_malloc(C.size_t(bytes))
	if p == 0 {
		return 0, fmt.Errorf("gpu: emulator: cannot allocate %d bytes", bytes)
	}
	return Ptr(p), nil
}

func (b *emuDriver) Free(p Ptr) error {
	C.emu_free(C.uint64_t(p))
	return nil
}

func (b *emuDriver) HtoD(dst Ptr, src unsafe.Pointer, bytes int) error {
	C.emu_htod(C.uint64_t(dst), src, C.size_t(bytes))
	return nil
}

func (b *emuDriver) DtoH(dst unsafe.Pointer, src Ptr, bytes int) error {
	C.emu_dtoh(dst, C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (b *emuDriver) DtoD(dst, src Ptr, bytes int) error {
	C.emu_dtod(C.uint64_t(dst), C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (b *emuDriver) Memset32(p Ptr, v uint32, n int) error {
	C.emu_memset32(C.uint64_t(p), C.uint(v), C.size_t(n))
	return nil
}

// launch runs kernel f with its parameter struct at params (bytes long).
func (b *emuDriver) Launch(f Function, name string, grid, block [3]int, smem int, params unsafe.Pointer, bytes int) error {
	var g, bl [3]C.uint
	for i := range g {
		g[i], bl[i] = C.uint(grid[i]), C.uint(block[i])
	}
	var msg [1024]C.char
	emuLaunches.RLock()
	defer emuLaunches.RUnlock()
	if C.emu_launch((*C.char)(f.p), &g[0], &bl[0], C.size_t(smem), params, C.size_t(bytes), b.order, b.nextKey(), &msg[0], C.int(len(msg))) != 0 {
		return fmt.Errorf("gpu: emulator (GAU_EMU_SEED=%d, launch %d): %s", b.seed, b.launches, C.GoString(&msg[0]))
	}
	return nil
}

func (b *emuDriver) Sync() error { return nil }

func (b *emuDriver) NewEvent() (Event, error) { return Event{}, nil }
func (b *emuDriver) DestroyEvent(Event) error { return nil }
func (b *emuDriver) Record(e Event) error     { return nil }
func (b *emuDriver) Elapsed(from, to Event) (float64, error) {
	return 0, fmt.Errorf("gpu: the emulator does not time kernels")
}

// Gemm runs g on the CPU: float32 sums, k in blocks of 32 cut into 1, 2
// or 4 slices (split-k) drawn from the seed and the shape, so fixed for a
// shape as cuBLAS picks one kernel per shape; a batch runs its products one
// by one with that slicing, as cuBLAS runs one kernel for the whole batch.
func (b *emuDriver) Gemm(g Gemm) error {
	flag := func(v bool) C.int {
		if v {
			return 1
		}
		return 0
	}
	key := mixKey(b.seed, uint64(flag(g.BF16)<<2|flag(g.TransA)<<1|flag(g.TransB)), uint64(g.M), uint64(g.N), uint64(g.K))
	in := 4
	if g.BF16 {
		in = 2
	}
	for i := range max(g.Batch, 1) {
		a, bb, c := g.A.Add(i*g.StrideA*in), g.B.Add(i*g.StrideB*in), g.C.Add(i*g.StrideC*4)
		C.emu_gemm(flag(g.BF16), flag(g.TransA), flag(g.TransB), C.int(g.M), C.int(g.N), C.int(g.K), C.float(g.Alpha),
			C.uint64_t(a), C.int(g.LDA), C.uint64_t(bb), C.int(g.LDB), C.float(g.Beta), C.uint64_t(c), C.int(g.LDC), C.uint64_t(key))
	}
	return nil
}

// FuncAttrs has nothing to report: the emulator compiles no kernel for a
// device.
func (b *emuDriver) FuncAttrs(f Function, name string) (FuncAttrs, error) {
	return FuncAttrs{}, errEmuAttrs
}

// Occupancy has nothing to report either.
func (b *emuDriver) Occupancy(f Function, name string, block, smem int) (int, error) {
	return 0, errEmuAttrs
}

// MaxThreadsPerSM is an sm_90 multiprocessor's, as Info reports an sm_90
// device.
func (b *emuDriver) MaxThreadsPerSM() (int, error) { return 2048, nil }

// LoadBLAS lists the cuBLAS files the gpu build would try, and loads none.
func LoadBLAS(driverVersion int) (path, version string, tried []string, err error) {
	for _, c := range CuBLASCandidates(CudaMajor(driverVersion)) {
		tried = append(tried, c.Where+": "+c.Path+": not loaded (emulator)")
	}
	return "", "", tried, errEmuBlas
}

// EmuSourcesHash is the hash of the kernel sources the emulator was
// compiled from (gpu/driver/emu_sources.h; CheckEmuSources compares it with
// the sources).
func EmuSourcesHash() string { return C.GoString(C.emu_sources_hash()) }

// EmuProbeFMA runs emu.cc's emu_probe_fma kernel on in and ind: a·b + c
// computed as a plain expression, with __fadd_rn(__fmul_rn), with
// __fadd_rn of a plain product, and with fmaf / fma.
func EmuProbeFMA(in [3]float32, ind [3]float64) (out [4]float32, outd [4]float64, err error) {
	var msg [256]C.char
	if C.emu_probe_fma_run((*C.float)(&in[0]), (*C.float)(&out[0]), (*C.double)(&ind[0]), (*C.double)(&outd[0]), &msg[0], C.int(len(msg))) != 0 {
		return out, outd, fmt.Errorf("gpu: emulator: %s", C.GoString(&msg[0]))
	}
	return out, outd, nil
}
