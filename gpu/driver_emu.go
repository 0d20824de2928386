//go:build gpuemu

package gpu

// The emulator backend: the kernels of kernels/cuda compiled as C++ (emu.cc)
// and run on the CPU by kernels/cuda/emu/cuda_emu.h, with host memory
// standing in for device memory. It exists so that the kernels, their
// launch code and the tests of this package run on machines without a GPU:
//
//	go test -tags gpuemu ./gpu
//
// GAU_EMU_ORDER=reverse starts every block's threads in decreasing order
// (the default alternates starting with increasing order).

/*
#cgo CXXFLAGS: -std=c++17 -O1 -fno-strict-aliasing -Wno-unused-function
#cgo LDFLAGS: -lpthread
#include <stdlib.h>
#include "emu.h"
*/
import "C"

import (
	"fmt"
	"os"
	"time"
	"unsafe"
)

const backendName = "emulator"

type backend struct {
	reverse bool
	names   map[string]*C.char
}

type module struct{ name string }
type function struct{ name *C.char }
type event struct{ t time.Time }

func probe() (int, error) { return 1, nil }

func openBackend(ordinal int) (*backend, error) {
	if ordinal != 0 {
		return nil, fmt.Errorf("gpu: the emulator has one device, %d requested", ordinal)
	}
	return &backend{reverse: os.Getenv("GAU_EMU_ORDER") == "reverse", names: map[string]*C.char{}}, nil
}

func (b *backend) close() error {
	for _, s := range b.names {
		C.free(unsafe.Pointer(s))
	}
	b.names = nil
	return nil
}

func (b *backend) info() (Info, error) {
	// Reports an sm_90 device so that the sm_90 PTX is the one checked at
	// Open; 132 SMs (an H100 SXM) for the launch heuristics.
	return Info{Name: "CPU emulator", Major: 9, Minor: 0, SMs: 132, Memory: 1 << 40,
		MaxSharedOptin: 227 * 1024, Backend: backendName}, nil
}

func (b *backend) loadModule(name, ptx string) (module, error) { return module{name: name}, nil }
func (b *backend) unloadModule(module) error                   { return nil }

func (b *backend) function(m module, name string) (function, error) {
	cs, ok := b.names[name]
	if !ok {
		cs = C.CString(name)
		b.names[name] = cs
	}
	var n C.int
	if C.emu_has_kernel(cs, &n) == 0 {
		return function{}, fmt.Errorf("gpu: the emulator has no kernel %s", name)
	}
	return function{name: cs}, nil
}

func (b *backend) setMaxDynSmem(f function, name string, bytes int) error {
	C.emu_set_max_dyn_smem(f.name, C.size_t(bytes))
	return nil
}

func (b *backend) alloc(bytes int) (DevicePtr, error) {
	p := C.emu_malloc(C.size_t(bytes))
	if p == 0 {
		return 0, fmt.Errorf("gpu: emulator: cannot allocate %d bytes", bytes)
	}
	return DevicePtr(p), nil
}

func (b *backend) free(p DevicePtr) error {
	C.emu_free(C.uint64_t(p))
	return nil
}

func (b *backend) memInfo() (free, total int64, err error) { return 1 << 40, 1 << 40, nil }

func (b *backend) htod(dst DevicePtr, src unsafe.Pointer, bytes int) error {
	C.emu_htod(C.uint64_t(dst), src, C.size_t(bytes))
	return nil
}

func (b *backend) dtoh(dst unsafe.Pointer, src DevicePtr, bytes int) error {
	C.emu_dtoh(dst, C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (b *backend) dtod(dst, src DevicePtr, bytes int) error {
	C.emu_dtod(C.uint64_t(dst), C.uint64_t(src), C.size_t(bytes))
	return nil
}

func (b *backend) memset32(p DevicePtr, v uint32, n int) error {
	C.emu_memset32(C.uint64_t(p), C.uint(v), C.size_t(n))
	return nil
}

func (b *backend) launch(f function, name string, grid, block [3]int, smem int, args []uint64) error {
	var g, bl [3]C.uint
	for i := range g {
		g[i], bl[i] = C.uint(grid[i]), C.uint(block[i])
	}
	var p *C.uint64_t
	if len(args) > 0 {
		p = (*C.uint64_t)(unsafe.Pointer(&args[0]))
	}
	rev := C.int(0)
	if b.reverse {
		rev = 1
	}
	var msg [1024]C.char
	if C.emu_launch(f.name, &g[0], &bl[0], C.size_t(smem), p, C.int(len(args)), rev, &msg[0], C.int(len(msg))) != 0 {
		return fmt.Errorf("gpu: emulator: %s", C.GoString(&msg[0]))
	}
	return nil
}

func (b *backend) sync() error { return nil }

func (b *backend) newEvent() (event, error) { return event{}, nil }
func (b *backend) destroyEvent(event) error { return nil }
func (b *backend) record(e event) error     { return nil }
func (b *backend) elapsed(from, to event) (float64, error) {
	return 0, fmt.Errorf("gpu: the emulator does not time kernels")
}

func (b *backend) gemmColMajor(bf16, ta, tb bool, m, n, k int, alpha float32, a DevicePtr, lda int, bb DevicePtr, ldb int, beta float32, c DevicePtr, ldc int) error {
	flag := func(v bool) C.int {
		if v {
			return 1
		}
		return 0
	}
	C.emu_gemm(flag(bf16), flag(ta), flag(tb), C.int(m), C.int(n), C.int(k), C.float(alpha), C.uint64_t(a), C.int(lda),
		C.uint64_t(bb), C.int(ldb), C.float(beta), C.uint64_t(c), C.int(ldc))
	return nil
}

// emuSourcesHash is the hash of the kernel sources the emulator was
// compiled from (gpu/emu_sources.h).
func emuSourcesHash() string { return C.GoString(C.emu_sources_hash()) }
