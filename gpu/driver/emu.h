// emu.h: the C interface of the CPU emulator backend (emu.cc), used by
// emu.go under the gpuemu build tag.
#ifndef GAU_EMU_API_H
#define GAU_EMU_API_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
// emu_sources_hash is GAU_EMU_SOURCES_HASH as compiled (gpu/driver/emu_sources.h).
const char* emu_sources_hash(void);
// emu_launch runs a kernel: order 0 runs the threads of each round in an
// order drawn from key, 1 and 2 in increasing and decreasing order
// alternately (starting with increasing, decreasing); key also draws the
// order of the blocks. 0 on success, else 1 with a message in err.
// args holds the parameters, bytes of them: a kernel's parameter struct.
int emu_launch(const char* name, const unsigned int* grid, const unsigned int* block, size_t smem, const void* args,
               size_t bytes, int order, uint64_t key, char* err, int errlen);
void emu_set_max_dyn_smem(const char* name, size_t bytes);
// emu_has_kernel reports whether kernel name is compiled in, and the bytes
// of its parameters.
int emu_has_kernel(const char* name, size_t* bytes);
// emu_layout describes field i of kernel name's parameter struct (name,
// offset, size, kind: 'p', 'i', 'u' or 'f'): 1, or 0 past the last field
// (*size: the struct's size; 0 for an unknown kernel).
int emu_layout(const char* name, int i, const char** field, size_t* offset, size_t* size, char* kind);
// emu_probe_fma_run launches emu.cc's emu_probe_fma on host memory (in[3],
// out[4], ind[3], outd[4]); 0 on success.
int emu_probe_fma_run(const float* in, float* out, const double* ind, double* outd, char* err, int errlen);
// "Device" addresses are host addresses carried as integers.
uint64_t emu_malloc(size_t bytes);
void emu_free(uint64_t p);
void emu_memset32(uint64_t p, unsigned int v, size_t n);
void emu_htod(uint64_t dst, const void* src, size_t n);
void emu_dtoh(void* dst, uint64_t src, size_t n);
void emu_dtod(uint64_t dst, uint64_t src, size_t n);
// emu_gemm is cuBLAS's column-major GEMM in float32 (emu.cc); key draws the
// split-k slice count (the same key for the same shape: the same sums).
void emu_gemm(int bf16, int ta, int tb, int m, int n, int k, float alpha, uint64_t a, int lda, uint64_t b, int ldb,
              float beta, uint64_t c, int ldc, uint64_t key);
#ifdef __cplusplus
}
#endif
#endif
