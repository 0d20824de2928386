//go:build gpu && !gpuemu

package driver

// NCCL, loaded at run time like cuBLAS: no Debian package has it (so no
// nccl.h here), and the GPU machines carry it in their Python environments'
// nvidia wheels. The types and constants below are the stable ABI of
// nccl.h (NCCL 2.x): ncclUniqueId is 128 bytes passed by value, the enums
// are ints, ncclComm_t a pointer. The libraries tried, in order, are
// NCCLCandidates's (blas.go): GAUALPHA_NCCL, then libnccl.so.2 in the Python
// environments' wheels, conda, ldconfig's cache and the CUDA toolkits, then
// the loader's search path. The pre-multiplied sum needs NCCL 2.11 or
// newer.

/*
#cgo LDFLAGS: -ldl
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char internal[128]; } gau_nccl_id;
typedef void* gau_nccl_comm;

enum { gau_ncclFloat32 = 7, gau_ncclScalarHostImmediate = 1 };

typedef int (*t_nGetVersion)(int*);
typedef int (*t_nGetUniqueId)(gau_nccl_id*);
typedef int (*t_nCommInitRank)(gau_nccl_comm*, int, gau_nccl_id, int);
typedef int (*t_nCommDestroy)(gau_nccl_comm);
typedef int (*t_nAllReduce)(const void*, void*, size_t, int, int, gau_nccl_comm, CUstream);
typedef int (*t_nRedOpCreatePreMulSum)(int*, void*, int, int, gau_nccl_comm);
typedef int (*t_nRedOpDestroy)(int, gau_nccl_comm);
typedef int (*t_nGroupStart)(void);
typedef int (*t_nGroupEnd)(void);
typedef const char* (*t_nGetErrorString)(int);
typedef CUresult (*t_nCtxSetCurrent)(CUcontext);

static struct {
	void* lib;
	t_nGetVersion GetVersion;
	t_nGetUniqueId GetUniqueId;
	t_nCommInitRank CommInitRank;
	t_nCommDestroy CommDestroy;
	t_nAllReduce AllReduce;
	t_nRedOpCreatePreMulSum RedOpCreatePreMulSum;
	t_nRedOpDestroy RedOpDestroy;
	t_nGroupStart GroupStart;
	t_nGroupEnd GroupEnd;
	t_nGetErrorString GetErrorString;
	t_nCtxSetCurrent CtxSetCurrent;
} gau_nccl;

static int gau_nccl_loaded(void) { return gau_nccl.lib != NULL; }

// gau_nccl_open opens the NCCL at path (a file or a soname) unless one is
// open already, with cuCtxSetCurrent from the driver. 0 on success;
// otherwise a message in err.
static int gau_nccl_open(const char* path, char* err, int n) {
	if (gau_nccl.lib) return 0;
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, n, "%s", dlerror());
		return 1;
	}
#define GAU_NSYM(field, name)                                      \
	gau_nccl.field = (t_n##field)dlsym(h, name);                   \
	if (!gau_nccl.field) {                                         \
		snprintf(err, n, "%s has no %s (NCCL 2.11 or newer needed)", path, name); \
		dlclose(h);                                                \
		return 1;                                                  \
	}
	GAU_NSYM(GetVersion, "ncclGetVersion")
	GAU_NSYM(GetUniqueId, "ncclGetUniqueId")
	GAU_NSYM(CommInitRank, "ncclCommInitRank")
	GAU_NSYM(CommDestroy, "ncclCommDestroy")
	GAU_NSYM(AllReduce, "ncclAllReduce")
	GAU_NSYM(RedOpCreatePreMulSum, "ncclRedOpCreatePreMulSum")
	GAU_NSYM(RedOpDestroy, "ncclRedOpDestroy")
	GAU_NSYM(GroupStart, "ncclGroupStart")
	GAU_NSYM(GroupEnd, "ncclGroupEnd")
	GAU_NSYM(GetErrorString, "ncclGetErrorString")
#undef GAU_NSYM
	gau_nccl.CtxSetCurrent = (t_nCtxSetCurrent)dlsym(RTLD_DEFAULT, "cuCtxSetCurrent");
	if (!gau_nccl.CtxSetCurrent) {
		void* cu = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
		if (cu) gau_nccl.CtxSetCurrent = (t_nCtxSetCurrent)dlsym(cu, "cuCtxSetCurrent");
	}
	if (!gau_nccl.CtxSetCurrent) {
		snprintf(err, n, "cannot resolve cuCtxSetCurrent in libcuda.so.1");
		dlclose(h);
		return 1;
	}
	gau_nccl.lib = h;
	return 0;
}

static void gau_nccl_where(char* path, int n, int* version) {
	Dl_info info;
	path[0] = 0;
	if (dladdr((void*)gau_nccl.GetVersion, &info) && info.dli_fname) snprintf(path, n, "%s", info.dli_fname);
	if (gau_nccl.GetVersion(version) != 0) *version = 0;
}

static const char* gau_nccl_errstr(int r) {
	const char* s = gau_nccl.GetErrorString ? gau_nccl.GetErrorString(r) : NULL;
	return s ? s : "unknown NCCL error";
}

static int gau_nccl_unique_id(gau_nccl_id* id) { return gau_nccl.GetUniqueId(id); }

// -1: cuCtxSetCurrent failed. The id travels by value, as nccl.h declares.
static int gau_nccl_init(CUcontext ctx, gau_nccl_comm* c, int nranks, const gau_nccl_id* id, int rank) {
	if (gau_nccl.CtxSetCurrent(ctx) != CUDA_SUCCESS) return -1;
	return gau_nccl.CommInitRank(c, nranks, *id, rank);
}

static int gau_nccl_destroy(CUcontext ctx, gau_nccl_comm c) {
	if (gau_nccl.CtxSetCurrent(ctx) != CUDA_SUCCESS) return -1;
	return gau_nccl.CommDestroy(c);
}

// gau_nccl_allreduce_scaled queues, in one NCCL group, an in-place
// pre-multiplied sum (scale read now: host-immediate) of each buffer.
static int gau_nccl_allreduce_scaled(CUcontext ctx, CUstream s, gau_nccl_comm c, const CUdeviceptr* ptrs,
                                     const long long* counts, int n, float scale) {
	if (gau_nccl.CtxSetCurrent(ctx) != CUDA_SUCCESS) return -1;
	int op = 0;
	int r = gau_nccl.RedOpCreatePreMulSum(&op, &scale, gau_ncclFloat32, gau_ncclScalarHostImmediate, c);
	if (r != 0) return r;
	r = gau_nccl.GroupStart();
	for (int i = 0; r == 0 && i < n; i++)
		r = gau_nccl.AllReduce((const void*)ptrs[i], (void*)ptrs[i], (size_t)counts[i], gau_ncclFloat32, op, c, s);
	int e = gau_nccl.GroupEnd();
	if (r == 0) r = e;
	int d = gau_nccl.RedOpDestroy(op, c);
	return r != 0 ? r : d;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// ncclMu serialises LoadNCCL: the loaded library is one per process (the C
// struct gau_nccl).
var ncclMu sync.Mutex

// LoadNCCL opens the first NCCL of NCCLCandidates that loads, once per
// process, and returns the file it came from, its version (ncclGetVersion:
// 22703 is 2.27.3) and what was tried (one line per candidate).
func LoadNCCL() (path string, version int, tried []string, err error) {
	ncclMu.Lock()
	defer ncclMu.Unlock()
	var msg [1024]C.char
	loaded := C.gau_nccl_loaded() != 0
	for _, c := range NCCLCandidates() {
		if loaded {
			break
		}
		cs := C.CString(c.Path)
		r := C.gau_nccl_open(cs, &msg[0], C.int(len(msg)))
		C.free(unsafe.Pointer(cs))
		line := fmt.Sprintf("%s: %s: ", c.Where, c.Path)
		if r != 0 {
			tried = append(tried, line+C.GoString(&msg[0]))
			continue
		}
		tried = append(tried, line+"loaded")
		loaded = true
	}
	if !loaded {
		return "", 0, tried, fmt.Errorf("gpu: cannot load NCCL (set %s to libnccl.so.2; pip's nvidia-nccl-cu12 or -cu13 has it): %s", NCCLEnv, strings.Join(tried, "; "))
	}
	var where [4096]C.char
	var v C.int
	C.gau_nccl_where(&where[0], C.int(len(where)), &v)
	return C.GoString(&where[0]), int(v), tried, nil
}

func ncclErr(what string, r C.int) error {
	switch r {
	case 0:
		return nil
	case -1:
		return fmt.Errorf("gpu: %s: cuCtxSetCurrent failed", what)
	}
	return fmt.Errorf("gpu: %s: %s (ncclResult_t %d)", what, C.GoString(C.gau_nccl_errstr(r)), int(r))
}

// NewGroupID loads NCCL and makes a new group's id (ncclGetUniqueId; it
// names this host's address, where the members meet).
func NewGroupID() (GroupID, error) {
	var id GroupID
	if _, _, _, err := LoadNCCL(); err != nil {
		return id, err
	}
	var cid C.gau_nccl_id
	if err := ncclErr("ncclGetUniqueId", C.gau_nccl_unique_id(&cid)); err != nil {
		return id, err
	}
	C.memcpy(unsafe.Pointer(&id[0]), unsafe.Pointer(&cid), C.size_t(len(id)))
	return id, nil
}

// ncclGroup is NCCL's communicator of one device, on the device's stream.
type ncclGroup struct {
	b    *cudaDriver
	comm C.gau_nccl_comm
}

// JoinGroup loads NCCL and initialises this device's communicator
// (ncclCommInitRank; it returns when every member has joined).
func (b *cudaDriver) JoinGroup(id GroupID, rank, size int) (Group, error) {
	if rank < 0 || rank >= size {
		return nil, fmt.Errorf("gpu: rank %d outside a group of %d", rank, size)
	}
	if _, _, _, err := LoadNCCL(); err != nil {
		return nil, err
	}
	var cid C.gau_nccl_id
	C.memcpy(unsafe.Pointer(&cid), unsafe.Pointer(&id[0]), C.size_t(len(id)))
	g := &ncclGroup{b: b}
	if err := ncclErr(fmt.Sprintf("ncclCommInitRank(rank %d of %d)", rank, size), C.gau_nccl_init(b.ctx, &g.comm, C.int(size), &cid, C.int(rank))); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *ncclGroup) AllReduceScaled(ptrs []Ptr, counts []int, scale float32) error {
	if len(ptrs) != len(counts) {
		return fmt.Errorf("gpu: all-reduce of %d buffers with %d counts", len(ptrs), len(counts))
	}
	if len(ptrs) == 0 {
		return nil
	}
	if g.comm == nil {
		return errors.New("gpu: all-reduce on a closed group")
	}
	cp := make([]C.CUdeviceptr, len(ptrs))
	cn := make([]C.longlong, len(ptrs))
	for i, p := range ptrs {
		cp[i], cn[i] = C.CUdeviceptr(p), C.longlong(counts[i])
	}
	return ncclErr("ncclAllReduce (pre-multiplied sum)", C.gau_nccl_allreduce_scaled(g.b.ctx, g.b.stream, g.comm, &cp[0], &cn[0], C.int(len(ptrs)), C.float(scale)))
}

func (g *ncclGroup) Close() error {
	if g.comm == nil {
		return nil
	}
	err := ncclErr("ncclCommDestroy", C.gau_nccl_destroy(g.b.ctx, g.comm))
	g.comm = nil
	return err
}

// GroupsReady reports whether this process can join groups: NCCL loads.
func GroupsReady() error {
	_, _, _, err := LoadNCCL()
	return err
}
