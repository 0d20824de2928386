//go:build gpu && !gpuemu

package driver

// cuBLAS, loaded at run time: its symbols are versioned per major release, so
// linking libcublas.so.11 (CUDA 11.8's) would not start where only cuBLAS 12
// or 13 exists. The libraries tried, in order, are cublasCandidates's
// (blas.go, package cudalib): GAUALPHA_CUBLAS, then
// libcublas.so.13, .12 and .11 (those the driver runs) in the Python
// environments' wheels, ldconfig's cache and the CUDA toolkits, then
// through the dynamic loader's search path. A file found outside the
// loader's path has its libcublasLt opened from the same folder first.

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

typedef int (*t_bCreate)(void**);
typedef int (*t_bDestroy)(void*);
typedef int (*t_bSetStream)(void*, CUstream);
typedef int (*t_bSgemm)(void*, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*,
                        float*, int);
typedef int (*t_bGemmEx)(void*, int, int, int, int, int, const void*, const void*, int, int, const void*, int, int,
                         const void*, void*, int, int, int, int);
typedef int (*t_bGemmStridedBatchedEx)(void*, int, int, int, int, int, const void*, const void*, int, int, long long,
                                       const void*, int, int, long long, const void*, void*, int, int, long long, int, int,
                                       int);
typedef CUresult (*t_bCtxSetCurrent)(CUcontext);
typedef int (*t_bGetProperty)(int, int*);

static struct {
	void* lib;
	t_bCreate Create;
	t_bDestroy Destroy;
	t_bSetStream SetStream;
	t_bSgemm Sgemm;
	t_bGemmEx GemmEx;
	t_bGemmStridedBatchedEx GemmStridedBatchedEx;
	t_bCtxSetCurrent CtxSetCurrent;
	t_bGetProperty GetProperty;
} gau_blas;

// gau_blas_preload opens a library cuBLAS needs (its libcublasLt) from
// the file path, so that its soname is resolved when cuBLAS is opened.
// 0 on success; otherwise a message in err.
static int gau_blas_preload(const char* path, char* err, int n) {
	if (dlopen(path, RTLD_NOW | RTLD_GLOBAL)) return 0;
	snprintf(err, n, "%s", dlerror());
	return 1;
}

static int gau_blas_loaded(void) { return gau_blas.lib != NULL; }

// gau_blas_open opens the cuBLAS at path (a file or a soname) unless one is
// open already. 0 on success; otherwise a message in err.
static int gau_blas_open(const char* path, char* err, int n) {
	if (gau_blas.lib) return 0;
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, n, "%s", dlerror());
		return 1;
	}
	gau_blas.Create = (t_bCreate)dlsym(h, "cublasCreate_v2");
	gau_blas.Destroy = (t_bDestroy)dlsym(h, "cublasDestroy_v2");
	gau_blas.SetStream = (t_bSetStream)dlsym(h, "cublasSetStream_v2");
	gau_blas.Sgemm = (t_bSgemm)dlsym(h, "cublasSgemm_v2");
	gau_blas.GemmEx = (t_bGemmEx)dlsym(h, "cublasGemmEx");
	gau_blas.GetProperty = (t_bGetProperty)dlsym(h, "cublasGetProperty"); // optional: the version
	// optional: without it a batch runs as one GemmEx per product
	gau_blas.GemmStridedBatchedEx = (t_bGemmStridedBatchedEx)dlsym(h, "cublasGemmStridedBatchedEx");
	if (!gau_blas.Create || !gau_blas.Destroy || !gau_blas.SetStream || !gau_blas.Sgemm || !gau_blas.GemmEx) {
		snprintf(err, n, "%s lacks cublasCreate_v2, cublasDestroy_v2, cublasSetStream_v2, cublasSgemm_v2 or cublasGemmEx", path);
		dlclose(h);
		return 1;
	}
	gau_blas.lib = h;
	return 0;
}

// gau_blas_ctx resolves cuCtxSetCurrent (the driver is loaded by then: a
// device is open). 0 on success.
static int gau_blas_ctx(void) {
	if (gau_blas.CtxSetCurrent) return 0;
	gau_blas.CtxSetCurrent = (t_bCtxSetCurrent)dlsym(RTLD_DEFAULT, "cuCtxSetCurrent");
	if (!gau_blas.CtxSetCurrent) {
		void* cu = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
		if (cu) gau_blas.CtxSetCurrent = (t_bCtxSetCurrent)dlsym(cu, "cuCtxSetCurrent");
	}
	return gau_blas.CtxSetCurrent ? 0 : 1;
}

// gau_blas_where writes the file the open cuBLAS was loaded from and its
// version (major, minor, patch; -1 each where cublasGetProperty is absent).
static void gau_blas_where(char* path, int n, int* ver) {
	Dl_info info;
	path[0] = 0;
	if (dladdr((void*)gau_blas.Create, &info) && info.dli_fname) snprintf(path, n, "%s", info.dli_fname);
	for (int i = 0; i < 3; i++) {
		ver[i] = -1;
		if (gau_blas.GetProperty && gau_blas.GetProperty(i, &ver[i]) != 0) ver[i] = -1;
	}
}

static int gau_blas_create(CUcontext ctx, CUstream s, void** h) {
	if (gau_blas_ctx() != 0 || gau_blas.CtxSetCurrent(ctx) != CUDA_SUCCESS) return -1;
	int r = gau_blas.Create(h);
	if (r != 0) return r;
	return gau_blas.SetStream(*h, s);
}

static int gau_blas_destroy(CUcontext ctx, void* h) {
	if (gau_blas.CtxSetCurrent(ctx) != CUDA_SUCCESS) return -1;
	return gau_blas.Destroy(h);
}

static int gau_blas_sgemm(CUcontext ctx, void* h, int ta, int tb, int m, int n, int k, float alpha, CUdeviceptr a, int lda,
                          CUdeviceptr b, int ldb, float beta, CUdeviceptr c, int ldc) {
	if (gau_blas.CtxSetCurrent(ctx) != CUDA_SUCCESS) return -1;
	return gau_blas.Sgemm(h, ta, tb, m, n, k, &alpha, (const float*)a, lda, (const float*)b, ldb, &beta, (float*)c, ldc);
}

// bf16 inputs (CUDA_R_16BF = 14), float32 output (CUDA_R_32F = 0), float32
// compute (CUBLAS_COMPUTE_32F = 68), default algorithm (-1).
static int gau_blas_gemm_bf16(CUcontext ctx, void* h, int ta, int tb, int m, int n, int k, float alpha, CUdeviceptr a,
                              int lda, CUdeviceptr b, int ldb, float beta, CUdeviceptr c, int ldc) {
	if (gau_blas.CtxSetCurrent(ctx) != CUDA_SUCCESS) return -1;
	return gau_blas.GemmEx(h, ta, tb, m, n, k, &alpha, (const void*)a, 14, lda, (const void*)b, 14, ldb, &beta, (void*)c, 0,
	                       ldc, 68, -1);
}
// gau_blas_gemm_batched: batch products strideA, strideB, strideC elements
// apart, float32 (bf16 = 0: CUDA_R_32F = 0) or bfloat16 (CUDA_R_16BF = 14) A
// and B, float32 C, CUBLAS_COMPUTE_32F (68: full float32, no TF32), the
// default algorithm (-1). Without cublasGemmStridedBatchedEx, one
// cublasGemmEx per product.
static int gau_blas_gemm_batched(CUcontext ctx, void* h, int bf16, int ta, int tb, int m, int n, int k, float alpha,
                                 CUdeviceptr a, int lda, long long sa, CUdeviceptr b, int ldb, long long sb, float beta,
                                 CUdeviceptr c, int ldc, long long sc, int batch) {
	if (gau_blas.CtxSetCurrent(ctx) != CUDA_SUCCESS) return -1;
	const int t = bf16 ? 14 : 0;
	if (gau_blas.GemmStridedBatchedEx)
		return gau_blas.GemmStridedBatchedEx(h, ta, tb, m, n, k, &alpha, (const void*)a, t, lda, sa, (const void*)b, t, ldb, sb,
		                                     &beta, (void*)c, 0, ldc, sc, batch, 68, -1);
	const long long in = bf16 ? 2 : 4;
	for (int i = 0; i < batch; i++) {
		int r = gau_blas.GemmEx(h, ta, tb, m, n, k, &alpha, (const void*)(a + i * sa * in), t, lda,
		                        (const void*)(b + i * sb * in), t, ldb, &beta, (void*)(c + i * sc * 4), 0, ldc, 68, -1);
		if (r != 0) return r;
	}
	return 0;
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

type cublas struct{ h unsafe.Pointer }

// blasMu serialises LoadBLAS: the loaded library is one per process (the C
// struct gau_blas).
var blasMu sync.Mutex

// LoadBLAS opens the first cuBLAS of CuBLASCandidates that a driver of
// version driverVersion (cuDriverGetVersion; 0: unknown) runs, once per
// process, and returns the file it came from, its version and what was
// tried (one line per candidate: where it was found, the file, and why it
// did not load or "loaded").
func LoadBLAS(driverVersion int) (path, version string, tried []string, err error) {
	blasMu.Lock()
	defer blasMu.Unlock()
	var msg [1024]C.char
	open := func(f func(*C.char, *C.char, C.int) C.int, file string) error {
		cs := C.CString(file)
		defer C.free(unsafe.Pointer(cs))
		if f(cs, &msg[0], C.int(len(msg))) != 0 {
			return errors.New(C.GoString(&msg[0]))
		}
		return nil
	}
	openBlas := func(p, e *C.char, n C.int) C.int { return C.gau_blas_open(p, e, n) }
	preload := func(p, e *C.char, n C.int) C.int { return C.gau_blas_preload(p, e, n) }
	loaded := C.gau_blas_loaded() != 0
	for _, c := range CuBLASCandidates(CudaMajor(driverVersion)) {
		if loaded {
			break
		}
		var err error
		for _, p := range c.Preload {
			if err = open(preload, p); err != nil {
				break
			}
		}
		if err == nil {
			err = open(openBlas, c.Path)
		}
		line := fmt.Sprintf("%s: %s: ", c.Where, c.Path)
		if err != nil {
			tried = append(tried, line+err.Error())
			continue
		}
		tried = append(tried, line+"loaded")
		loaded = true
	}
	if !loaded {
		runs := ""
		if m := CudaMajor(driverVersion); m > 0 {
			runs = fmt.Sprintf("; the CUDA %d driver runs cuBLAS %d or older", m, m)
		}
		return "", "", tried, fmt.Errorf("gpu: cannot load cuBLAS (set %s to the file%s): %s", CuBLASEnv, runs, strings.Join(tried, "; "))
	}
	var where [4096]C.char
	var ver [3]C.int
	C.gau_blas_where(&where[0], C.int(len(where)), &ver[0])
	version = "unknown"
	if ver[0] >= 0 {
		version = fmt.Sprintf("%d.%d.%d", int(ver[0]), int(ver[1]), int(ver[2]))
	}
	return C.GoString(&where[0]), version, tried, nil
}

// blasHandle loads cuBLAS and creates a handle bound to the device's stream
// on first use.
func (b *cudaDriver) blasHandle() (*cublas, error) {
	if b.blas != nil {
		return b.blas, nil
	}
	in, err := b.Info()
	if err != nil {
		return nil, err
	}
	if _, _, _, err := LoadBLAS(in.Driver); err != nil {
		return nil, err
	}
	var h unsafe.Pointer
	if r := C.gau_blas_create(b.ctx, b.stream, &h); r != 0 {
		return nil, fmt.Errorf("gpu: cublasCreate/cublasSetStream: status %d", int(r))
	}
	b.blas = &cublas{h: h}
	return b.blas, nil
}

func (c *cublas) destroy(b *cudaDriver) error {
	if r := C.gau_blas_destroy(b.ctx, c.h); r != 0 {
		return fmt.Errorf("gpu: cublasDestroy: status %d", int(r))
	}
	return nil
}

// Gemm runs g with cuBLAS (cublasSgemm_v2, cublasGemmEx, or
// cublasGemmStridedBatchedEx for a batch), on the device's stream.
func (b *cudaDriver) Gemm(g Gemm) error {
	h, err := b.blasHandle()
	if err != nil {
		return err
	}
	flag := func(t bool) C.int {
		if t {
			return 1 // CUBLAS_OP_T, or bfloat16
		}
		return 0
	}
	var r C.int
	switch {
	case g.Batch > 1:
		r = C.gau_blas_gemm_batched(b.ctx, h.h, flag(g.BF16), flag(g.TransA), flag(g.TransB), C.int(g.M), C.int(g.N), C.int(g.K),
			C.float(g.Alpha), C.CUdeviceptr(g.A), C.int(g.LDA), C.longlong(g.StrideA), C.CUdeviceptr(g.B), C.int(g.LDB),
			C.longlong(g.StrideB), C.float(g.Beta), C.CUdeviceptr(g.C), C.int(g.LDC), C.longlong(g.StrideC), C.int(g.Batch))
	case g.BF16:
		r = C.gau_blas_gemm_bf16(b.ctx, h.h, flag(g.TransA), flag(g.TransB), C.int(g.M), C.int(g.N), C.int(g.K), C.float(g.Alpha),
			C.CUdeviceptr(g.A), C.int(g.LDA), C.CUdeviceptr(g.B), C.int(g.LDB), C.float(g.Beta), C.CUdeviceptr(g.C), C.int(g.LDC))
	default:
		r = C.gau_blas_sgemm(b.ctx, h.h, flag(g.TransA), flag(g.TransB), C.int(g.M), C.int(g.N), C.int(g.K), C.float(g.Alpha),
			C.CUdeviceptr(g.A), C.int(g.LDA), C.CUdeviceptr(g.B), C.int(g.LDB), C.float(g.Beta), C.CUdeviceptr(g.C), C.int(g.LDC))
	}
	if r != 0 {
		return fmt.Errorf("gpu: cuBLAS gemm (bf16=%v, batch %d): status %d", g.BF16, g.Batch, int(r))
	}
	return nil
}
