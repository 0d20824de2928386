// common.cuh: definitions shared by every kernel file.
//
// Conventions (see ABI.md):
//   - every kernel is extern "C", named gau_..., and takes one parameter
//     struct whose fields are 8 bytes each: device pointers, i64 (long
//     long), u64 (unsigned long long) or double (GAU_KERNEL below).
//   - float32 storage; a "bf16" kernel reads its floating-point tensor inputs
//     as bfloat16 (raw 16-bit patterns), computes in float32 and writes
//     float32.
//   - GAU_REGISTER(name) after each kernel registers it with the CPU
//     emulator (kernels/cuda/emu) when the file is compiled as C++ for the
//     tests; for nvcc it expands to nothing.
#pragma once

#ifdef GAU_EMU
#include "emu/cuda_emu.h"
#else
#define GAU_REGISTER(name)
#define GAU_LAYOUT(NAME, STRUCT, ARGS)
// The block's dynamic shared memory (16-byte aligned).
extern __shared__ float4 gau_dyn_smem_raw[];
#define GAU_DYN_SMEM(T, name) T* name = reinterpret_cast<T*>(gau_dyn_smem_raw)
#define GAU_SMEM(T, name, count) __shared__ T name[count]
#endif

typedef long long i64;
typedef unsigned long long u64;
// bf16 is a raw bfloat16 bit pattern (the high half of a float32).
typedef unsigned short bf16;

// ---- parameter structs ----
//
// Every kernel takes one parameter: a struct of its arguments, declared
// once as an X-macro list ARGS(F) of F(type, name) entries, every field 8
// bytes (a pointer, i64, u64 or double: no padding anywhere), so that
// package gpu's Go struct of the same fields in the same order has the same
// layout (ABI.md; TestArgsLayout compares the two field by field through
// the emulator, TestABI the size with the PTX's .param). GAU_KERNEL(NAME,
// ARGS) defines struct NAME_args and begins the kernel NAME(const
// NAME_args args); GAU_UNPACK(ARGS) at the start of its body declares each
// field as a local of the same name. Families of kernels (template
// instances) share one struct: GAU_ARGS(S, ARGS) defines it, and
// GAU_KERNEL_OF(NAME, S, ARGS, bounds...) begins each kernel.
#define GAU_FIELD(type, name) \
	type name;                \
	static_assert(sizeof(type) == 8, "parameter fields are 8 bytes");
#define GAU_LOCAL(type, name) type name = args.name;
#define GAU_ARGS(S, ARGS) \
	struct S {            \
		ARGS(GAU_FIELD)   \
	};
#define GAU_UNPACK(ARGS) ARGS(GAU_LOCAL)
#define GAU_KERNEL(NAME, ARGS) \
	GAU_ARGS(NAME##_args, ARGS) GAU_LAYOUT(NAME, NAME##_args, ARGS) extern "C" __global__ void NAME(const NAME##_args args)
#define GAU_KERNEL_OF(NAME, S, ARGS, ...) \
	GAU_LAYOUT(NAME, S, ARGS) extern "C" __global__ void __launch_bounds__(__VA_ARGS__) NAME(const S args)

#define GAU_INF __int_as_float(0x7f800000)

// ldf loads one element as float32.
__device__ __forceinline__ float ldf(const float* p) { return *p; }
__device__ __forceinline__ float ldf(const bf16* p) { return __uint_as_float(((unsigned int)(*p)) << 16); }
// tobf16 rounds a float32 to bfloat16 (round to nearest even; a NaN stays a
// quiet NaN), bit for bit as gpu.ToBF16 does on the host.
__device__ __forceinline__ bf16 tobf16(float v) {
	unsigned int b = __float_as_uint(v);
	if ((b & 0x7fffffffu) > 0x7f800000u) return (bf16)((b >> 16) | 0x40u);
	b += 0x7fffu + ((b >> 16) & 1u);
	return (bf16)(b >> 16);
}

__device__ __forceinline__ i64 iabs64(i64 x) { return x < 0 ? -x : x; }
__device__ __forceinline__ i64 imin64(i64 a, i64 b) { return a < b ? a : b; }
__device__ __forceinline__ i64 imax64(i64 a, i64 b) { return a > b ? a : b; }

// Grid-stride loop over [0, n) with 64-bit indices.
#define GAU_FOR(i, n) \
	for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)gridDim.x * blockDim.x)

// ---- dropout: the counter-based hash of kernels/cpu/rng.go, bit for bit ----

__device__ __forceinline__ u64 gau_mix64(u64 x) {
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

// gau_keep is cpu.Keep: element idx of dropout site `site` in the step keyed
// by `key` survives iff the 53-bit hash is >= thr (thr = cpu.DropThreshold(p);
// 0 keeps everything).
__device__ __forceinline__ bool gau_keep(u64 key, u64 site, u64 idx, u64 thr) {
	if (thr == 0) return true;
	u64 h = gau_mix64(key ^ gau_mix64(site * 0x9e3779b97f4a7c15ULL + idx));
	return (h >> 11) >= thr;
}

// ---- warp and block reductions (blockDim.x a multiple of 32, <= 1024) ----

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ double warp_sum_d(double v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

__device__ __forceinline__ i64 warp_sum_i(i64 v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

// block_sum returns the sum of v over the block to every thread. red is
// shared scratch of at least 33 elements; the leading barrier lets a caller
// reuse it in consecutive calls.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* red) {
	const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	__syncthreads();
	if (lane == 0) red[w] = v;
	__syncthreads();
	if (w == 0) {
		T r = lane < nw ? red[lane] : (T)0;
#pragma unroll
		for (int o = 16; o > 0; o >>= 1) r += __shfl_xor_sync(0xffffffffu, r, o);
		if (lane == 0) red[32] = r;
	}
	__syncthreads();
	return red[32];
}

// block_max is block_sum with max (float).
__device__ __forceinline__ float block_max(float v, float* red) {
	const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
	v = warp_max(v);
	__syncthreads();
	if (lane == 0) red[w] = v;
	__syncthreads();
	if (w == 0) {
		float r = lane < nw ? red[lane] : -GAU_INF;
		r = warp_max(r);
		if (lane == 0) red[32] = r;
	}
	__syncthreads();
	return red[32];
}

// ---- tensor cores (sm_80 and later) ----

// mma_bf16_16816: d = A·B + c for one warp, A 16×16 and B 16×8 bfloat16, c
// and d 16×8 float32 (PTX mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32;
// the fragment layouts are in emu/cuda_emu.h, emu::mma_16816). Every lane
// of the warp must call it.
__device__ __forceinline__ void mma_bf16_16816(float d[4], const unsigned a[4], const unsigned b[2], const float c[4]) {
#ifdef GAU_EMU
	GAU_EMU_MMA_16816(d, a, b, c);
#else
	asm volatile(
	    "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
	    : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
	    : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
#endif
}

// cp_async16 copies 16 bytes from global memory at src to shared memory at
// dst asynchronously (PTX cp.async.cg, sm_80 and later, through L2 only),
// the first src_bytes of them from src and zeros after (src_bytes 0: zeros
// only, src not read but a valid address). Both addresses 16-byte aligned.
// The copy joins the group the thread's next cp_async_commit closes; its
// data is in shared memory once cp_async_wait<n> has left at most n newer
// groups pending, for the other threads after a __syncthreads that follows.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
#ifdef GAU_EMU
	GAU_EMU_CP_ASYNC(dst, src, 16, src_bytes);
#else
	const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(src_bytes) : "memory");
#endif
}

// cp_async_commit closes the group of the copies issued since the last one.
__device__ __forceinline__ void cp_async_commit() {
#ifdef GAU_EMU
	GAU_EMU_CP_ASYNC_COMMIT();
#else
	asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// cp_async_wait<n> waits until at most the n newest committed groups of the
// thread are pending.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#ifdef GAU_EMU
	GAU_EMU_CP_ASYNC_WAIT(N);
#else
	asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

// ldmatrix_x4: four 8×8 matrices of 16-bit elements from shared memory
// for one warp (PTX ldmatrix.sync.aligned.m8n8.x4.shared.b16): lane l gives
// the 16-byte aligned address of row l%8 of matrix l/8 and receives in r[m]
// row lane/4, elements 2(lane%4) and +1, of matrix m; ldmatrix_x4_trans
// (.trans) gives it element lane/4 of rows 2(lane%4) and +1 instead. The
// layouts are spelt out in emu/cuda_emu.h, emu::ldmatrix. Every lane of the
// warp must call it.
__device__ __forceinline__ void ldmatrix_x4(unsigned r[4], const void* p) {
#ifdef GAU_EMU
	GAU_EMU_LDMATRIX(r, 4, false, p);
#else
	const unsigned a = (unsigned)__cvta_generic_to_shared(p);
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
	             : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
	             : "r"(a)
	             : "memory");
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned r[4], const void* p) {
#ifdef GAU_EMU
	GAU_EMU_LDMATRIX(r, 4, true, p);
#else
	const unsigned a = (unsigned)__cvta_generic_to_shared(p);
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
	             : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
	             : "r"(a)
	             : "memory");
#endif
}

// pack_bf16 rounds two floats to bfloat16 and packs them, lo in the low half.
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
	return (unsigned)tobf16(lo) | ((unsigned)tobf16(hi) << 16);
}

// gau_flag records the first failing item (index+1) in a device flag word.
__device__ __forceinline__ void gau_flag(i64* flag, i64 item) {
	if (flag) atomicCAS(reinterpret_cast<unsigned long long*>(flag), 0ULL, (unsigned long long)(item + 1));
}
