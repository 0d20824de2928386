// emu.h: the C interface of the CPU emulator backend (emu.cc), used by
// driver_emu.go under the gpuemu build tag.
#ifndef GAU_EMU_API_H
#define GAU_EMU_API_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
// emu_sources_hash is GAU_EMU_SOURCES_HASH as compiled (gpu/emu_sources.h).
const char* emu_sources_hash(void);
int emu_launch(const char* name, const unsigned int* grid, const unsigned int* block, size_t smem, const uint64_t* args,
               int nargs, int reverse_first, char* err, int errlen);
void emu_set_max_dyn_smem(const char* name, size_t bytes);
int emu_has_kernel(const char* name, int* nargs);
// "Device" addresses are host addresses carried as integers.
uint64_t emu_malloc(size_t bytes);
void emu_free(uint64_t p);
void emu_memset32(uint64_t p, unsigned int v, size_t n);
void emu_htod(uint64_t dst, const void* src, size_t n);
void emu_dtoh(void* dst, uint64_t src, size_t n);
void emu_dtod(uint64_t dst, uint64_t src, size_t n);
void emu_gemm(int bf16, int ta, int tb, int m, int n, int k, float alpha, uint64_t a, int lda, uint64_t b, int ldb,
              float beta, uint64_t c, int ldc);
#ifdef __cplusplus
}
#endif
#endif
