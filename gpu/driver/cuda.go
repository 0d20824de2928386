//go:build gpu && !gpuemu

package driver

// The CUDA driver API, loaded at run time with dlopen("libcuda.so.1"), so
// that one binary runs (and skips) anywhere and every driver call is under
// our control: each call makes the device's context current on the calling
// OS thread first, so a goroutine may move between threads freely. Only
// cuda.h (CUDA 11.8, nvidia-cuda-dev) is needed to build; nothing is linked
// but libdl.

/*
#cgo LDFLAGS: -ldl
#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef CUresult (*t_Init)(unsigned int);
typedef CUresult (*t_DriverGetVersion)(int*);
typedef CUresult (*t_DeviceGetCount)(int*);
typedef CUresult (*t_DeviceGet)(CUdevice*, int);
typedef CUresult (*t_DeviceGetName)(char*, int, CUdevice);
typedef CUresult (*t_DeviceGetAttribute)(int*, CUdevice_attribute, CUdevice);
typedef CUresult (*t_DeviceTotalMem)(size_t*, CUdevice);
typedef CUresult (*t_PrimaryCtxRetain)(CUcontext*, CUdevice);
typedef CUresult (*t_PrimaryCtxRelease)(CUdevice);
typedef CUresult (*t_CtxSetCurrent)(CUcontext);
typedef CUresult (*t_CtxSynchronize)(void);
typedef CUresult (*t_ModuleLoadDataEx)(CUmodule*, const void*, unsigned int, CUjit_option*, void**);
typedef CUresult (*t_ModuleUnload)(CUmodule);
typedef CUresult (*t_ModuleGetFunction)(CUfunction*, CUmodule, const char*);
typedef CUresult (*t_FuncSetAttribute)(CUfunction, CUfunction_attribute, int);
typedef CUresult (*t_FuncGetAttribute)(int*, CUfunction_attribute, CUfunction);
typedef CUresult (*t_OccupancyMaxActiveBlocksPerMultiprocessor)(int*, CUfunction, int, size_t);
typedef CUresult (*t_MemAlloc)(CUdeviceptr*, size_t);
typedef CUresult (*t_MemFree)(CUdeviceptr);
typedef CUresult (*t_MemcpyHtoD)(CUdeviceptr, const void*, size_t);
typedef CUresult (*t_MemcpyDtoH)(void*, CUdeviceptr, size_t);
typedef CUresult (*t_MemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
typedef CUresult (*t_MemsetD32Async)(CUdeviceptr, unsigned int, size_t, CUstream);
typedef CUresult (*t_LaunchKernel)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int, unsigned int,
                                   unsigned int, unsigned int, CUstream, void**, void**);
typedef CUresult (*t_StreamCreate)(CUstream*, unsigned int);
typedef CUresult (*t_StreamDestroy)(CUstream);
typedef CUresult (*t_StreamSynchronize)(CUstream);
typedef CUresult (*t_EventCreate)(CUevent*, unsigned int);
typedef CUresult (*t_EventDestroy)(CUevent);
typedef CUresult (*t_EventRecord)(CUevent, CUstream);
typedef CUresult (*t_EventSynchronize)(CUevent);
typedef CUresult (*t_EventElapsedTime)(float*, CUevent, CUevent);
typedef CUresult (*t_GetErrorString)(CUresult, const char**);

static struct {
	void* lib;
	t_Init Init;
	t_DriverGetVersion DriverGetVersion;
	t_DeviceGetCount DeviceGetCount;
	t_DeviceGet DeviceGet;
	t_DeviceGetName DeviceGetName;
	t_DeviceGetAttribute DeviceGetAttribute;
	t_DeviceTotalMem DeviceTotalMem;
	t_PrimaryCtxRetain PrimaryCtxRetain;
	t_PrimaryCtxRelease PrimaryCtxRelease;
	t_CtxSetCurrent CtxSetCurrent;
	t_CtxSynchronize CtxSynchronize;
	t_ModuleLoadDataEx ModuleLoadDataEx;
	t_ModuleUnload ModuleUnload;
	t_ModuleGetFunction ModuleGetFunction;
	t_FuncSetAttribute FuncSetAttribute;
	t_FuncGetAttribute FuncGetAttribute;
	t_OccupancyMaxActiveBlocksPerMultiprocessor OccupancyMaxActiveBlocksPerMultiprocessor;
	t_MemAlloc MemAlloc;
	t_MemFree MemFree;
	t_MemcpyHtoD MemcpyHtoD;
	t_MemcpyDtoH MemcpyDtoH;
	t_MemcpyDtoDAsync MemcpyDtoDAsync;
	t_MemsetD32Async MemsetD32Async;
	t_LaunchKernel LaunchKernel;
	t_StreamCreate StreamCreate;
	t_StreamDestroy StreamDestroy;
	t_StreamSynchronize StreamSynchronize;
	t_EventCreate EventCreate;
	t_EventDestroy EventDestroy;
	t_EventRecord EventRecord;
	t_EventSynchronize EventSynchronize;
	t_EventElapsedTime EventElapsedTime;
	t_GetErrorString GetErrorString;
} gau_cu;

// gau_cu_load opens libcuda.so.1 and resolves every entry point (the _v2
// names where cuda.h maps the plain name to them). 0 on success; otherwise
// a message in err.
static int gau_cu_load(char* err, int n) {
	if (gau_cu.lib) return 0;
	void* h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
	if (!h) {
		snprintf(err, n, "cannot load libcuda.so.1 (no NVIDIA driver): %s", dlerror());
		return 1;
	}
#define GAU_SYM(field, name)                                               \
	gau_cu.field = (t_##field)dlsym(h, name);                              \
	if (!gau_cu.field) {                                                   \
		snprintf(err, n, "libcuda.so.1 has no %s", name);                  \
		dlclose(h);                                                        \
		return 1;                                                          \
	}
	GAU_SYM(Init, "cuInit")
	GAU_SYM(DriverGetVersion, "cuDriverGetVersion")
	GAU_SYM(DeviceGetCount, "cuDeviceGetCount")
	GAU_SYM(DeviceGet, "cuDeviceGet")
	GAU_SYM(DeviceGetName, "cuDeviceGetName")
	GAU_SYM(DeviceGetAttribute, "cuDeviceGetAttribute")
	GAU_SYM(DeviceTotalMem, "cuDeviceTotalMem_v2")
	GAU_SYM(PrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
	GAU_SYM(PrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2")
	GAU_SYM(CtxSetCurrent, "cuCtxSetCurrent")
	GAU_SYM(CtxSynchronize, "cuCtxSynchronize")
	GAU_SYM(ModuleLoadDataEx, "cuModuleLoadDataEx")
	GAU_SYM(ModuleUnload, "cuModuleUnload")
	GAU_SYM(ModuleGetFunction, "cuModuleGetFunction")
	GAU_SYM(FuncSetAttribute, "cuFuncSetAttribute")
	GAU_SYM(FuncGetAttribute, "cuFuncGetAttribute")
	GAU_SYM(OccupancyMaxActiveBlocksPerMultiprocessor, "cuOccupancyMaxActiveBlocksPerMultiprocessor")
	GAU_SYM(MemAlloc, "cuMemAlloc_v2")
	GAU_SYM(MemFree, "cuMemFree_v2")
	GAU_SYM(MemcpyHtoD, "cuMemcpyHtoD_v2")
	GAU_SYM(MemcpyDtoH, "cuMemcpyDtoH_v2")
	GAU_SYM(MemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2")
	GAU_SYM(MemsetD32Async, "cuMemsetD32Async")
	GAU_SYM(LaunchKernel, "cuLaunchKernel")
	GAU_SYM(StreamCreate, "cuStreamCreate")
	GAU_SYM(StreamDestroy, "cuStreamDestroy_v2")
	GAU_SYM(StreamSynchronize, "cuStreamSynchronize")
	GAU_SYM(EventCreate, "cuEventCreate")
	GAU_SYM(EventDestroy, "cuEventDestroy_v2")
	GAU_SYM(EventRecord, "cuEventRecord")
	GAU_SYM(EventSynchronize, "cuEventSynchronize")
	GAU_SYM(GetErrorString, "cuGetErrorString")
#undef GAU_SYM
	// cuEventElapsedTime: the original symbol, else the _v2 of newer drivers.
	gau_cu.EventElapsedTime = (t_EventElapsedTime)dlsym(h, "cuEventElapsedTime");
	if (!gau_cu.EventElapsedTime) gau_cu.EventElapsedTime = (t_EventElapsedTime)dlsym(h, "cuEventElapsedTime_v2");
	if (!gau_cu.EventElapsedTime) {
		snprintf(err, n, "libcuda.so.1 has no cuEventElapsedTime");
		dlclose(h);
		return 1;
	}
	gau_cu.lib = h;
	return 0;
}

static const char* gau_cu_errstr(CUresult r) {
	const char* s = NULL;
	if (gau_cu.GetErrorString && gau_cu.GetErrorString(r, &s) == CUDA_SUCCESS && s) return s;
	return "unknown CUDA error";
}

// Every call below makes ctx current on the calling thread first.
#define GAU_CTX(ctx)                                       \
	do {                                                   \
		CUresult r_ = gau_cu.CtxSetCurrent(ctx);           \
		if (r_ != CUDA_SUCCESS) return r_;                 \
	} while (0)

static CUresult gau_init(void) { return gau_cu.Init(0); }
static CUresult gau_driver_version(int* v) { return gau_cu.DriverGetVersion(v); }
static CUresult gau_device_count(int* n) { return gau_cu.DeviceGetCount(n); }
static CUresult gau_device_get(CUdevice* d, int ordinal) { return gau_cu.DeviceGet(d, ordinal); }
static CUresult gau_device_name(char* buf, int n, CUdevice d) { return gau_cu.DeviceGetName(buf, n, d); }
static CUresult gau_device_attr(int* v, int attr, CUdevice d) { return gau_cu.DeviceGetAttribute(v, (CUdevice_attribute)attr, d); }
static CUresult gau_device_mem(size_t* v, CUdevice d) { return gau_cu.DeviceTotalMem(v, d); }
static CUresult gau_ctx_retain(CUcontext* c, CUdevice d) { return gau_cu.PrimaryCtxRetain(c, d); }
static CUresult gau_ctx_release(CUdevice d) { return gau_cu.PrimaryCtxRelease(d); }

static CUresult gau_module_load(CUcontext ctx, CUmodule* m, const char* image, char* log, size_t logsize) {
	GAU_CTX(ctx);
	CUjit_option opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
	void* vals[2] = {(void*)log, (void*)(uintptr_t)logsize};
	return gau_cu.ModuleLoadDataEx(m, image, 2, opts, vals);
}
static CUresult gau_module_unload(CUcontext ctx, CUmodule m) { GAU_CTX(ctx); return gau_cu.ModuleUnload(m); }
static CUresult gau_module_function(CUcontext ctx, CUfunction* f, CUmodule m, const char* name) {
	GAU_CTX(ctx);
	return gau_cu.ModuleGetFunction(f, m, name);
}
static CUresult gau_func_set_max_dyn_smem(CUcontext ctx, CUfunction f, int bytes) {
	GAU_CTX(ctx);
	return gau_cu.FuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
}
static CUresult gau_func_attr(CUcontext ctx, int* v, int attr, CUfunction f) {
	GAU_CTX(ctx);
	return gau_cu.FuncGetAttribute(v, (CUfunction_attribute)attr, f);
}
static CUresult gau_occupancy(CUcontext ctx, int* blocks, CUfunction f, int block, size_t smem) {
	GAU_CTX(ctx);
	return gau_cu.OccupancyMaxActiveBlocksPerMultiprocessor(blocks, f, block, smem);
}
static CUresult gau_mem_alloc(CUcontext ctx, CUdeviceptr* p, size_t n) { GAU_CTX(ctx); return gau_cu.MemAlloc(p, n); }
static CUresult gau_mem_free(CUcontext ctx, CUdeviceptr p) { GAU_CTX(ctx); return gau_cu.MemFree(p); }

// Copies to and from the host run on the legacy default stream, which is
// ordered with the device's stream (created blocking, CU_STREAM_DEFAULT):
// kernels queued later wait for the copy, even when cuMemcpyHtoD returns
// before its DMA from pageable memory has landed. Synchronising the stream
// first also reports the errors of earlier asynchronous work here.
static CUresult gau_htod(CUcontext ctx, CUstream s, CUdeviceptr dst, const void* src, size_t n) {
	GAU_CTX(ctx);
	CUresult r = gau_cu.StreamSynchronize(s);
	if (r != CUDA_SUCCESS) return r;
	return gau_cu.MemcpyHtoD(dst, src, n);
}
static CUresult gau_dtoh(CUcontext ctx, CUstream s, void* dst, CUdeviceptr src, size_t n) {
	GAU_CTX(ctx);
	CUresult r = gau_cu.StreamSynchronize(s);
	if (r != CUDA_SUCCESS) return r;
	return gau_cu.MemcpyDtoH(dst, src, n);
}
static CUresult gau_dtod(CUcontext ctx, CUstream s, CUdeviceptr dst, CUdeviceptr src, size_t n) {
	GAU_CTX(ctx);
	return gau_cu.MemcpyDtoDAsync(dst, src, n, s);
}
static CUresult gau_memset32(CUcontext ctx, CUstream s, CUdeviceptr p, unsigned int v, size_t n) {
	GAU_CTX(ctx);
	return gau_cu.MemsetD32Async(p, v, n, s);
}

// gau_launch launches f with its one parameter, the struct at params: the
// driver copies it at the call, so nothing outlives the call.
static CUresult gau_launch(CUcontext ctx, CUstream s, CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                           unsigned int bx, unsigned int by, unsigned int bz, unsigned int smem, void* params) {
	void* ptrs[1] = {params};
	GAU_CTX(ctx);
	return gau_cu.LaunchKernel(f, gx, gy, gz, bx, by, bz, smem, s, ptrs, NULL);
}

static CUresult gau_stream_create(CUcontext ctx, CUstream* s) { GAU_CTX(ctx); return gau_cu.StreamCreate(s, CU_STREAM_DEFAULT); }
static CUresult gau_stream_destroy(CUcontext ctx, CUstream s) { GAU_CTX(ctx); return gau_cu.StreamDestroy(s); }
static CUresult gau_stream_sync(CUcontext ctx, CUstream s) { GAU_CTX(ctx); return gau_cu.StreamSynchronize(s); }
static CUresult gau_event_create(CUcontext ctx, CUevent* e) { GAU_CTX(ctx); return gau_cu.EventCreate(e, CU_EVENT_DEFAULT); }
static CUresult gau_event_destroy(CUcontext ctx, CUevent e) { GAU_CTX(ctx); return gau_cu.EventDestroy(e); }
static CUresult gau_event_record(CUcontext ctx, CUevent e, CUstream s) { GAU_CTX(ctx); return gau_cu.EventRecord(e, s); }
static CUresult gau_event_elapsed(CUcontext ctx, float* ms, CUevent a, CUevent b) {
	GAU_CTX(ctx);
	CUresult r = gau_cu.EventSynchronize(b);
	if (r != CUDA_SUCCESS) return r;
	return gau_cu.EventElapsedTime(ms, a, b);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Backend names the implementation this build has.
const Backend = "cuda"

func cuErr(what string, r C.CUresult) error {
	if r == C.CUDA_SUCCESS {
		return nil
	}
	return fmt.Errorf("gpu: %s: %s (CUresult %d)", what, C.GoString(C.gau_cu_errstr(r)), int(r))
}

// cudaDriver is the Driver of a real device: its primary context (the one
// the CUDA runtime, and so cuBLAS, uses), one blocking stream, and cuBLAS
// once a product has run.
type cudaDriver struct {
	dev    C.CUdevice
	ctx    C.CUcontext
	stream C.CUstream
	blas   *cublas
}

// Probe loads the driver and counts the devices; it never exits the process.
func Probe() (int, error) {
	var msg [512]C.char
	if C.gau_cu_load(&msg[0], C.int(len(msg))) != 0 {
		return 0, fmt.Errorf("gpu: %s", C.GoString(&msg[0]))
	}
	if err := cuErr("cuInit", C.gau_init()); err != nil {
		return 0, err
	}
	var n C.int
	if err := cuErr("cuDeviceGetCount", C.gau_device_count(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// Open opens device ordinal: retains its primary context and creates the
// stream every call is queued on.
func Open(ordinal int) (Driver, error) {
	// The primary context is the one the CUDA runtime (and so cuBLAS) uses;
	// driver calls below make it current on whatever thread they run.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n, err := Probe()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("gpu: device %d requested, %d present", ordinal, n)
	}
	b := &cudaDriver{}
	if err := cuErr("cuDeviceGet", C.gau_device_get(&b.dev, C.int(ordinal))); err != nil {
		return nil, err
	}
	if err := cuErr("cuDevicePrimaryCtxRetain", C.gau_ctx_retain(&b.ctx, b.dev)); err != nil {
		return nil, err
	}
	if err := cuErr("cuStreamCreate", C.gau_stream_create(b.ctx, &b.stream)); err != nil {
		C.gau_ctx_release(b.dev)
		return nil, err
	}
	return b, nil
}

func (b *cudaDriver) Close() error {
	var first error
	if b.blas != nil {
		first = b.blas.destroy(b)
		b.blas = nil
	}
	if err := cuErr("cuStreamDestroy", C.gau_stream_destroy(b.ctx, b.stream)); err != nil && first == nil {
		first = err
	}
	if err := cuErr("cuDevicePrimaryCtxRelease", C.gau_ctx_release(b.dev)); err != nil && first == nil {
		first = err
	}
	return first
}

// Device attributes (cuda.h CUdevice_attribute).
const (
	attrMaxSmemOptin = C.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
	attrSMs          = C.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
	attrCCMajor      = C.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	attrCCMinor      = C.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
)

func (b *cudaDriver) attr(a C.int) (int, error) {
	var v C.int
	err := cuErr("cuDeviceGetAttribute", C.gau_device_attr(&v, a, b.dev))
	return int(v), err
}

func (b *cudaDriver) Info() (Info, error) {
	var in Info
	var name [256]C.char
	if err := cuErr("cuDeviceGetName", C.gau_device_name(&name[0], C.int(len(name)), b.dev)); err != nil {
		return in, err
	}
	in.Name = C.GoString(&name[0])
	var err error
	if in.Major, err = b.attr(attrCCMajor); err != nil {
		return in, err
	}
	if in.Minor, err = b.attr(attrCCMinor); err != nil {
		return in, err
	}
	if in.SMs, err = b.attr(attrSMs); err != nil {
		return in, err
	}
	if in.MaxSharedOptin, err = b.attr(attrMaxSmemOptin); err != nil {
		return in, err
	}
	var mem C.size_t
	if err := cuErr("cuDeviceTotalMem", C.gau_device_mem(&mem, b.dev)); err != nil {
		return in, err
	}
	in.Memory = int64(mem)
	var v C.int
	if err := cuErr("cuDriverGetVersion", C.gau_driver_version(&v)); err != nil {
		return in, err
	}
	in.Driver = int(v)
	in.Backend = Backend
	return in, nil
}

// loadModule loads image, a fatbin or PTX text (moduleImage), with
// cuModuleLoadDataEx: the driver takes the fatbin's SASS for the device or
// JIT-compiles PTX (the fatbin's, or the text), writing errors to the log.
// C.CString copies every byte of the image and adds the NUL that PTX text
// needs (a fatbin's own header gives its size).
func (b *cudaDriver) LoadModule(name, image string) (Module, error) {
	src := C.CString(image)
	defer C.free(unsafe.Pointer(src))
	var log [8192]C.char
	var cm C.CUmodule
	r := C.gau_module_load(b.ctx, &cm, src, &log[0], C.size_t(len(log)))
	m := Module{p: unsafe.Pointer(cm)}
	if r != C.CUDA_SUCCESS {
		return m, fmt.Errorf("%w\nJIT log: %s", cuErr("cuModuleLoadDataEx "+name, r), C.GoString(&log[0]))
	}
	return m, nil
}

func (b *cudaDriver) UnloadModule(m Module) error {
	return cuErr("cuModuleUnload", C.gau_module_unload(b.ctx, C.CUmodule(m.p)))
}

func (b *cudaDriver) Function(m Module, name string) (Function, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	var cf C.CUfunction
	err := cuErr("cuModuleGetFunction "+name, C.gau_module_function(b.ctx, &cf, C.CUmodule(m.p), cs))
	f := Function{p: unsafe.Pointer(cf)}
	return f, err
}

func (b *cudaDriver) SetMaxDynamicSmem(f Function, name string, bytes int) error {
	return cuErr("cuFuncSetAttribute(max dynamic shared memory) "+name, C.gau_func_set_max_dyn_smem(b.ctx, C.CUfunction(f.p), C.int(bytes)))
}

// Function attributes (cuda.h CUfunction_attribute).
const (
	funcAttrRegs       = C.CU_FUNC_ATTRIBUTE_NUM_REGS
	funcAttrLocal      = C.CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES
	funcAttrStaticSmem = C.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES
	funcAttrMaxThreads = C.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK
)

// funcAttrs reads f's registers per thread, local memory per thread, static
// shared memory and largest block (cuFuncGetAttribute).
func (b *cudaDriver) FuncAttrs(f Function, name string) (FuncAttrs, error) {
	var a FuncAttrs
	for _, x := range []struct {
		attr C.int
		dst  *int
		what string
	}{
		{funcAttrRegs, &a.Registers, "NUM_REGS"},
		{funcAttrLocal, &a.LocalBytes, "LOCAL_SIZE_BYTES"},
		{funcAttrStaticSmem, &a.StaticSmem, "SHARED_SIZE_BYTES"},
		{funcAttrMaxThreads, &a.MaxThreads, "MAX_THREADS_PER_BLOCK"},
	} {
		var v C.int
		if err := cuErr("cuFuncGetAttribute("+x.what+") "+name, C.gau_func_attr(b.ctx, &v, x.attr, C.CUfunction(f.p))); err != nil {
			return a, err
		}
		*x.dst = int(v)
	}
	return a, nil
}

// maxThreadsPerSM is the most resident threads one multiprocessor holds.
func (b *cudaDriver) MaxThreadsPerSM() (int, error) {
	return b.attr(C.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR)
}

// occupancy returns how many blocks of f, block threads each with smem
// bytes of dynamic shared memory, fit on one multiprocessor
// (cuOccupancyMaxActiveBlocksPerMultiprocessor).
func (b *cudaDriver) Occupancy(f Function, name string, block, smem int) (int, error) {
	var n C.int
	err := cuErr("cuOccupancyMaxActiveBlocksPerMultiprocessor "+name, C.gau_occupancy(b.ctx, &n, C.CUfunction(f.p), C.int(block), C.size_t(smem)))
	return int(n), err
}

func (b *cudaDriver) Alloc(bytes int) (Ptr, error) {
	var p C.CUdeviceptr
	if err := cuErr(fmt.Sprintf("cuMemAlloc(%d bytes)", bytes), C.gau_mem_alloc(b.ctx, &p, C.size_t(bytes))); err != nil {
		return 0, err
	}
	return Ptr(p), nil
}

func (b *cudaDriver) Free(p Ptr) error {
	return cuErr("cuMemFree", C.gau_mem_free(b.ctx, C.CUdeviceptr(p)))
}

func (b *cudaDriver) HtoD(dst Ptr, src unsafe.Pointer, bytes int) error {
	return cuErr("cuMemcpyHtoD", C.gau_htod(b.ctx, b.stream, C.CUdeviceptr(dst), src, C.size_t(bytes)))
}

func (b *cudaDriver) DtoH(dst unsafe.Pointer, src Ptr, bytes int) error {
	return cuErr("cuMemcpyDtoH", C.gau_dtoh(b.ctx, b.stream, dst, C.CUdeviceptr(src), C.size_t(bytes)))
}

func (b *cudaDriver) DtoD(dst, src Ptr, bytes int) error {
	return cuErr("cuMemcpyDtoDAsync", C.gau_dtod(b.ctx, b.stream, C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(bytes)))
}

func (b *cudaDriver) Memset32(p Ptr, v uint32, n int) error {
	return cuErr("cuMemsetD32Async", C.gau_memset32(b.ctx, b.stream, C.CUdeviceptr(p), C.uint(v), C.size_t(n)))
}

// launch launches kernel f with its parameter struct at params (bytes
// long; the size the kernel's .param declares, checked at Open).
func (b *cudaDriver) Launch(f Function, name string, grid, block [3]int, smem int, params unsafe.Pointer, bytes int) error {
	r := C.gau_launch(b.ctx, b.stream, C.CUfunction(f.p), C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]),
		C.uint(block[0]), C.uint(block[1]), C.uint(block[2]), C.uint(smem), params)
	return cuErr("cuLaunchKernel "+name, r)
}

func (b *cudaDriver) Sync() error {
	return cuErr("cuStreamSynchronize", C.gau_stream_sync(b.ctx, b.stream))
}

func (b *cudaDriver) NewEvent() (Event, error) {
	var ce C.CUevent
	err := cuErr("cuEventCreate", C.gau_event_create(b.ctx, &ce))
	e := Event{p: unsafe.Pointer(ce)}
	return e, err
}

func (b *cudaDriver) DestroyEvent(e Event) error {
	return cuErr("cuEventDestroy", C.gau_event_destroy(b.ctx, C.CUevent(e.p)))
}

func (b *cudaDriver) Record(e Event) error {
	return cuErr("cuEventRecord", C.gau_event_record(b.ctx, C.CUevent(e.p), b.stream))
}

// elapsed waits for `to` and returns the milliseconds between the events.
func (b *cudaDriver) Elapsed(from, to Event) (float64, error) {
	var ms C.float
	err := cuErr("cuEventElapsedTime", C.gau_event_elapsed(b.ctx, &ms, C.CUevent(from.p), C.CUevent(to.p)))
	return float64(ms), err
}
