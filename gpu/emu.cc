//go:build gpuemu

// emu.cc: the kernels of kernels/cuda compiled as C++ and run by the CPU
// emulator (kernels/cuda/emu/cuda_emu.h), for package gpu's tests on
// machines without a GPU. Host memory stands in for device memory.
#define GAU_EMU 1
#include "../kernels/cuda/attention_bwd.cu"
#include "../kernels/cuda/attention_fwd.cu"
#include "../kernels/cuda/attention_tc.cu"
#include "../kernels/cuda/elementwise.cu"
#include "../kernels/cuda/embed.cu"
#include "../kernels/cuda/optim.cu"
#include "../kernels/cuda/softmax.cu"
#include "../kernels/cuda/xent.cu"
#include "emu.h"
#include "emu_sources.h"

extern "C" {

const char* emu_sources_hash(void) { return GAU_EMU_SOURCES_HASH; }

int emu_launch(const char* name, const unsigned int* grid, const unsigned int* block, size_t smem, const uint64_t* args,
               int nargs, int reverse_first, char* err, int errlen) {
	return emu_launch_impl(name, grid, block, smem, args, nargs, reverse_first, err, errlen);
}

void emu_set_max_dyn_smem(const char* name, size_t bytes) { emu_set_max_dyn_smem_impl(name, bytes); }

int emu_has_kernel(const char* name, int* nargs) { return emu_has_kernel_impl(name, nargs); }

// Allocations start as 0xff bytes (NaN as float32, -1 as integers), as
// uninitialised device memory might hold anything.
// Under AddressSanitizer (go test -asan) allocations have their exact size,
// so a kernel reading or writing past a buffer is reported.
uint64_t emu_malloc(size_t bytes) {
#if defined(__SANITIZE_ADDRESS__)
	size_t n = bytes ? bytes : 1;
	void* p = malloc(n);
#else
	size_t n = (bytes + 255) & ~(size_t)255;
	if (n == 0) n = 256;
	void* p = aligned_alloc(256, n);
#endif
	if (p) memset(p, 0xff, n);
	return (uint64_t)(uintptr_t)p;
}

void emu_free(uint64_t p) { free((void*)(uintptr_t)p); }

void emu_memset32(uint64_t p, unsigned int v, size_t n) {
	unsigned int* q = (unsigned int*)(uintptr_t)p;
	for (size_t i = 0; i < n; i++) q[i] = v;
}

void emu_htod(uint64_t dst, const void* src, size_t n) { memcpy((void*)(uintptr_t)dst, src, n); }
void emu_dtoh(void* dst, uint64_t src, size_t n) { memcpy(dst, (const void*)(uintptr_t)src, n); }
void emu_dtod(uint64_t dst, uint64_t src, size_t n) { memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, n); }

static inline float emu_ld(int bf16, const void* p, long long i) {
	if (bf16) return __uint_as_float(((unsigned int)((const unsigned short*)p)[i]) << 16);
	return ((const float*)p)[i];
}

// emu_gemm is cuBLAS's column-major C = alpha·op(A)·op(B) + beta·C (C not read
// when beta = 0), in plain loops with float64 sums.
void emu_gemm(int bf16, int ta, int tb, int m, int n, int k, float alpha, uint64_t ap, int lda, uint64_t bp, int ldb,
              float beta, uint64_t cp_, int ldc) {
	const void* a = (const void*)(uintptr_t)ap;
	const void* b = (const void*)(uintptr_t)bp;
	float* c = (float*)(uintptr_t)cp_;
	for (int j = 0; j < n; j++) {
		for (int i = 0; i < m; i++) {
			double s = 0;
			for (int p = 0; p < k; p++) {
				float av = ta ? emu_ld(bf16, a, (long long)i * lda + p) : emu_ld(bf16, a, (long long)p * lda + i);
				float bv = tb ? emu_ld(bf16, b, (long long)p * ldb + j) : emu_ld(bf16, b, (long long)j * ldb + p);
				s += (double)av * bv;
			}
			float* cp = c + (long long)j * ldc + i;
			*cp = beta == 0 ? alpha * (float)s : alpha * (float)s + beta * *cp;
		}
	}
}
}
