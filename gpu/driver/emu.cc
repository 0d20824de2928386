//go:build gpuemu

// emu.cc: the kernels of kernels/cuda compiled as C++ and run by the CPU
// emulator (kernels/cuda/emu/cuda_emu.h), for package gpu's tests on
// machines without a GPU. Host memory stands in for device memory.
#define GAU_EMU 1
#include "../../kernels/cuda/attention_bwd.cu"
#include "../../kernels/cuda/attention_fwd.cu"
#include "../../kernels/cuda/attention_mat.cu"
#include "../../kernels/cuda/attention_tc.cu"
#include "../../kernels/cuda/elementwise.cu"
#include "../../kernels/cuda/embed.cu"
#include "../../kernels/cuda/optim.cu"
#include "../../kernels/cuda/xent.cu"
#include "emu.h"
#include "emu_sources.h"

// emu_probe_fma is the emulator's own check of its floating-point
// contraction (gpu/emu_test.go): thread 0 computes a·b + c four ways in
// float32 (out[0..3]) and in float64 (outd[0..3]), as nvcc compiles them:
// a plain a*b + c is fused (--fmad=true), __fadd_rn and __fmul_rn are
// never fused, not even with a plain product as an operand, and fmaf is.
// Each way is a function of its own: within one function the compiler
// would compute a·b once for all of them, and GCC fuses a product only
// where every use of it is an addition.
template <typename T>
__attribute__((noinline)) T probe_plain(T a, T b, T c) {
	return a * b + c;
}
__attribute__((noinline)) float probe_rn(float a, float b, float c) { return __fadd_rn(__fmul_rn(a, b), c); }
__attribute__((noinline)) double probe_rn(double a, double b, double c) { return __dadd_rn(__dmul_rn(a, b), c); }
__attribute__((noinline)) float probe_rn_add(float a, float b, float c) { return __fadd_rn(a * b, c); }
__attribute__((noinline)) double probe_rn_add(double a, double b, double c) { return __dadd_rn(a * b, c); }

__global__ void emu_probe_fma(const float* in, float* out, const double* ind, double* outd) {
	if (threadIdx.x != 0) return;
	out[0] = probe_plain(in[0], in[1], in[2]);
	out[1] = probe_rn(in[0], in[1], in[2]);
	out[2] = probe_rn_add(in[0], in[1], in[2]);
	out[3] = fmaf(in[0], in[1], in[2]);
	outd[0] = probe_plain(ind[0], ind[1], ind[2]);
	outd[1] = probe_rn(ind[0], ind[1], ind[2]);
	outd[2] = probe_rn_add(ind[0], ind[1], ind[2]);
	outd[3] = fma(ind[0], ind[1], ind[2]);
}
GAU_REGISTER(emu_probe_fma)

// emu_probe_ldmatrix is the emulator's check of ldmatrix (gpu/emu_ldmatrix_test.go),
// one warp: in [32][24] (bfloat16 bits) is copied to shared memory, then
// lane l gives the address of row rows[l] at column cols[l] (0, 8 or 16)
// to ldmatrix x1, x2 and x4, without and with .trans: out[v][lane][0..3],
// v = 0..5 (registers a variant does not load stay 0). Then the matrix
// product the attention kernel forms: A = in[0..15][0..15] by ldmatrix_x4
// and B = in[16..31][0..15] (row-major [k][n]) by ldmatrix_x4_trans, with
// the kernel's addressing, into mma_bf16_16816: dout [16][16] = A·B.
__global__ void emu_probe_ldmatrix(const unsigned short* in, const long long* rows, const long long* cols,
                                   unsigned* out, float* dout) {
	GAU_SMEM(unsigned short, sm, 32 * 24);
	const int lane = threadIdx.x;
	for (int k = 0; k < 24; k++) sm[lane * 24 + k] = in[lane * 24 + k];
	__syncthreads();
	const unsigned short* p = sm + rows[lane] * 24 + cols[lane];
	for (int v = 0; v < 6; v++) {
		unsigned r[4] = {0, 0, 0, 0};
		GAU_EMU_LDMATRIX(r, 1 << (v % 3), v >= 3, p);
		for (int m = 0; m < 4; m++) out[(v * 32 + lane) * 4 + m] = r[m];
	}
	unsigned a[4], b[4];
	ldmatrix_x4(a, sm + (lane % 8 + 8 * ((lane / 8) & 1)) * 24 + 8 * (lane / 16));
	ldmatrix_x4_trans(b, sm + (16 + lane % 8 + 8 * ((lane / 8) & 1)) * 24 + 8 * (lane / 16));
	const int g = lane / 4, t = lane % 4;
	for (int n = 0; n < 2; n++) {
		const float z[4] = {0, 0, 0, 0};
		float d[4];
		const unsigned bn[2] = {b[2 * n], b[2 * n + 1]};
		mma_bf16_16816(d, a, bn, z);
		for (int e = 0; e < 4; e++) dout[(g + 8 * (e / 2)) * 16 + 8 * n + 2 * t + e % 2] = d[e];
	}
}
GAU_REGISTER(emu_probe_ldmatrix)

// emu_probe_cp_async is the emulator's check of cp.async
// (gpu/emu_cpasync_test.go), one warp. in holds 128 words: lane l copies
// in[2l..2l+1] (16 bytes) to A[l] and in[64+2l..] to B[l] as the mode says;
// out[slot][lane][0..1] records A or B of the next lane ((l+1) % 32) read
// at the slot's point, so a copy another lane's read cannot yet see shows
// the shared memory's old contents (0xff bytes). Modes:
//   0 copy, commit, wait 0, barrier, read A (slot 0);
//   1 copy, commit, barrier, read A (slot 0: too early), barrier, wait 0;
//   2 A then commit, B then commit, wait 1, barrier, read A (slot 0) and B
//     (slot 1: its group pending), barrier, wait 0, barrier, read B (slot 2);
//   3 copy without commit, wait 0, barrier, read A (slot 0: not in a group,
//     not waited for), barrier, commit, wait 0, barrier, read A (slot 1);
// (the barriers before the waits keep every lane's read before any lane's
// wait: on a GPU a read racing with the copy may see either contents).
//   4 8 of 16 bytes from in to A, none to B (zero fill), commit, wait 0,
//     barrier, read A (slot 0) and B (slot 1);
//   5 copy and commit, never wait (the emulator reports the exit);
//   6 a copy to a destination 8 bytes off alignment (reported).
__global__ void emu_probe_cp_async(const unsigned long long* in, unsigned long long* out, long long mode) {
	GAU_SMEM(unsigned long long, sm, 2 * 64);
	unsigned long long* A = sm;
	unsigned long long* B = sm + 64;
	const int lane = threadIdx.x, next = (lane + 1) % 32;
	auto read = [&](int slot, const unsigned long long* r) {
		out[(slot * 32 + lane) * 2] = r[2 * next];
		out[(slot * 32 + lane) * 2 + 1] = r[2 * next + 1];
	};
	switch (mode) {
	case 0:
		cp_async16(A + 2 * lane, in + 2 * lane, 16);
		cp_async_commit();
		cp_async_wait<0>();
		__syncthreads();
		read(0, A);
		break;
	case 1:
		cp_async16(A + 2 * lane, in + 2 * lane, 16);
		cp_async_commit();
		__syncthreads();
		read(0, A);
		__syncthreads();  // every read before any wait
		cp_async_wait<0>();
		break;
	case 2:
		cp_async16(A + 2 * lane, in + 2 * lane, 16);
		cp_async_commit();
		cp_async16(B + 2 * lane, in + 64 + 2 * lane, 16);
		cp_async_commit();
		cp_async_wait<1>();
		__syncthreads();
		read(0, A);
		read(1, B);
		__syncthreads();  // every read before any wait
		cp_async_wait<0>();
		__syncthreads();
		read(2, B);
		break;
	case 3:
		cp_async16(A + 2 * lane, in + 2 * lane, 16);
		cp_async_wait<0>();
		__syncthreads();
		read(0, A);
		__syncthreads();  // every read before any wait
		cp_async_commit();
		cp_async_wait<0>();
		__syncthreads();
		read(1, A);
		break;
	case 4:
		cp_async16(A + 2 * lane, in + 2 * lane, 8);
		cp_async16(B + 2 * lane, in + 64 + 2 * lane, 0);
		cp_async_commit();
		cp_async_wait<0>();
		__syncthreads();
		read(0, A);
		read(1, B);
		break;
	case 5:
		cp_async16(A + 2 * lane, in + 2 * lane, 16);
		cp_async_commit();
		break;
	case 6:
		cp_async16((char*)(A + 2 * lane) + 8, in + 2 * lane, 16);
		cp_async_commit();
		cp_async_wait<0>();
		break;
	}
}
GAU_REGISTER(emu_probe_cp_async)

extern "C" {

const char* emu_sources_hash(void) { return GAU_EMU_SOURCES_HASH; }

int emu_probe_cp_async_run(const unsigned long long* in, unsigned long long* out, long long mode, int order, char* err,
                           int errlen) {
	const unsigned int grid[3] = {1, 1, 1}, block[3] = {32, 1, 1};
	const uint64_t args[3] = {(uint64_t)(uintptr_t)in, (uint64_t)(uintptr_t)out, (uint64_t)mode};
	return emu_launch_impl("emu_probe_cp_async", grid, block, 0, args, sizeof args, order, 1, err, errlen);
}

int emu_probe_fma_run(const float* in, float* out, const double* ind, double* outd, char* err, int errlen) {
	const unsigned int grid[3] = {1, 1, 1}, block[3] = {32, 1, 1};
	const uint64_t args[4] = {(uint64_t)(uintptr_t)in, (uint64_t)(uintptr_t)out, (uint64_t)(uintptr_t)ind,
	                          (uint64_t)(uintptr_t)outd};
	return emu_launch_impl("emu_probe_fma", grid, block, 0, args, sizeof args, emu::order_random, 1, err, errlen);
}

int emu_probe_ldmatrix_run(const unsigned short* in, const long long* rows, const long long* cols, unsigned* out,
                           float* dout, char* err, int errlen) {
	const unsigned int grid[3] = {1, 1, 1}, block[3] = {32, 1, 1};
	const uint64_t args[5] = {(uint64_t)(uintptr_t)in, (uint64_t)(uintptr_t)rows, (uint64_t)(uintptr_t)cols,
	                          (uint64_t)(uintptr_t)out, (uint64_t)(uintptr_t)dout};
	return emu_launch_impl("emu_probe_ldmatrix", grid, block, 0, args, sizeof args, emu::order_random, 1, err, errlen);
}

int emu_launch(const char* name, const unsigned int* grid, const unsigned int* block, size_t smem, const void* args,
               size_t bytes, int order, uint64_t key, char* err, int errlen) {
	return emu_launch_impl(name, grid, block, smem, args, bytes, order, key, err, errlen);
}

void emu_set_max_dyn_smem(const char* name, size_t bytes) { emu_set_max_dyn_smem_impl(name, bytes); }

int emu_has_kernel(const char* name, size_t* bytes) { return emu_has_kernel_impl(name, bytes); }

int emu_layout(const char* name, int i, const char** field, size_t* offset, size_t* size, char* kind) {
	return emu_layout_impl(name, i, field, offset, size, kind);
}

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
// when beta = 0) in float32, summed as a GPU GEMM does: the k range is cut
// into 1, 2 or 4 slices of whole 32-wide k blocks (split-k; the count drawn
// from key, which the caller derives from the seed and the shape: the
// kernel cuBLAS picks for a shape is not known here), each slice
// accumulated in k order with FMA from zero, the slices' partial sums added
// in order, then alpha·sum + beta·C with one FMA. The products of bfloat16
// inputs are exact in float32, so bf16 differs only in the inputs.
void emu_gemm(int bf16, int ta, int tb, int m, int n, int k, float alpha, uint64_t ap, int lda, uint64_t bp, int ldb,
              float beta, uint64_t cp_, int ldc, uint64_t key) {
	const void* a = (const void*)(uintptr_t)ap;
	const void* b = (const void*)(uintptr_t)bp;
	float* c = (float*)(uintptr_t)cp_;
	if (m <= 0 || n <= 0) return;
	const int kblocks = (k + 31) / 32;
	int splits = 1 << emu::Rng(emu::mix64(key)).below(3);
	while (splits > 1 && splits > kblocks) splits /= 2;
	const int per = (kblocks + splits - 1) / splits * 32;  // k per slice
	// op(A) as k rows of m (row p holds op(A)[0..m-1][p]), so that the
	// inner loop runs over i with unit stride; one column of op(B).
	std::vector<float> at((size_t)k * m), bcol(k > 0 ? k : 1), sum(m), part(m);
	for (int p = 0; p < k; p++)
		for (int i = 0; i < m; i++)
			at[(size_t)p * m + i] = ta ? emu_ld(bf16, a, (long long)i * lda + p) : emu_ld(bf16, a, (long long)p * lda + i);
	for (int j = 0; j < n; j++) {
		for (int p = 0; p < k; p++)
			bcol[p] = tb ? emu_ld(bf16, b, (long long)p * ldb + j) : emu_ld(bf16, b, (long long)j * ldb + p);
		for (int i = 0; i < m; i++) sum[i] = 0;
		for (int p0 = 0; p0 < k; p0 += per) {
			const int p1 = p0 + per < k ? p0 + per : k;
			for (int i = 0; i < m; i++) part[i] = 0;
			for (int p = p0; p < p1; p++) {
				const float bv = bcol[p];
				const float* ar = &at[(size_t)p * m];
				for (int i = 0; i < m; i++) part[i] = fmaf(ar[i], bv, part[i]);
			}
			if (p0 == 0) {
				for (int i = 0; i < m; i++) sum[i] = part[i];
			} else {
				for (int i = 0; i < m; i++) sum[i] = __fadd_rn(sum[i], part[i]);
			}
		}
		float* cj = c + (long long)j * ldc;
		for (int i = 0; i < m; i++) cj[i] = beta == 0 ? __fmul_rn(alpha, sum[i]) : fmaf(alpha, sum[i], __fmul_rn(beta, cj[i]));
	}
}
}
