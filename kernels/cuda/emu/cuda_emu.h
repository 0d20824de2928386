// cuda_emu.h: a small CPU emulator that runs the kernels of kernels/cuda as
// C++ for tests on machines without a GPU (package gpu built with
// -tags gpuemu). It is not part of the GPU build.
//
// Every CUDA thread of a block is a fiber (ucontext) with its own stack; the
// fibers of a block run on one OS thread, one at a time, each until it
// reaches a barrier:
//   - __syncthreads / __syncthreads_or: all threads of the block;
//   - __shfl_*_sync / __syncwarp: all 32 threads of the warp (the kernels
//     only shuffle with full warps).
// Between two barriers the threads run in an order drawn afresh for every
// round from the launch's seeded generator (order_random), or in increasing,
// then decreasing order, alternately (order_forward, order_reverse: the
// other start), so a missing barrier between a shared memory write and a
// read by another thread shows as a wrong result. The emulator reports,
// instead of hanging or going on:
// a barrier reached from different call sites (divergent __syncthreads), a
// barrier some threads never reach (deadlock, early exit), cp.async copies
// still pending when their thread exits or misaligned ones, a parameter
// struct field that is not 8 bytes (compile time), parameters of the wrong
// size,
// dynamic shared memory above the limit set for the function (48 KiB unless
// raised, as CUDA's cudaFuncAttributeMaxDynamicSharedMemorySize), static
// shared memory above 48 KiB, and grid or block sizes CUDA refuses. Shared
// memory and "device" allocations start filled with 0xff bytes (NaN as
// float32) so reads of unwritten memory show up.
//
// Blocks run one after another, in an order drawn per launch from the
// launch's key (a permutation of the grid), so a result that depends on the
// order of blocks, such as a float sum made of atomicAdds, changes with the
// key as it changes on a GPU. Atomics are read-modify-writes in the order the
// fibers reach them: within a block the order of the threads in their
// round, across blocks the block order (one block's atomics never interleave
// with another's). The kernels are compiled with -ffp-contract=fast and FMA
// instructions, as nvcc contracts a*b+c by default (--fmad=true); the _rn
// intrinsics are kept from contracting, as in CUDA.
#pragma once

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <cmath>
#include <cstddef>
#include <deque>
#include <type_traits>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

using std::isinf;
using std::isnan;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)

struct dim3 {
	unsigned int x, y, z;
};
struct float2 {
	float x, y;
};
struct alignas(16) float4 {
	float x, y, z, w;
};

namespace emu {

enum { RUN = 0, WAIT_BLOCK = 1, WAIT_WARP = 2, DONE = 3 };

// Thread orders within a block (emu_launch's order).
enum { order_random = 0, order_forward = 1, order_reverse = 2 };

// mix64 is SplitMix64's finaliser: a bijection of 64-bit words that spreads
// every input bit over the output.
inline uint64_t mix64(uint64_t z) {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

// Rng is SplitMix64: the emulator's deterministic generator, one per launch
// key (and per block, from the launch key and the block's index).
struct Rng {
	uint64_t s;
	explicit Rng(uint64_t seed = 0) : s(seed) {}
	uint64_t next() { return mix64(s += 0x9e3779b97f4a7c15ull); }
	// below returns a value in [0, n), n > 0 (multiply-shift; the bias is
	// below 2^-32 for the n used here).
	uint64_t below(uint64_t n) { return (uint64_t)(((unsigned __int128)next() * n) >> 64); }
	template <typename T>
	void shuffle(T* v, size_t n) {
		for (size_t i = n; i > 1; i--) {
			size_t j = (size_t)below(i);
			T t = v[i - 1];
			v[i - 1] = v[j];
			v[j] = t;
		}
	}
};

// AsyncCopy is one cp.async: size bytes to shared memory at dst, the first
// src_bytes of them from global memory at src, the rest zeros.
struct AsyncCopy {
	char* dst;
	const char* src;
	int size, src_bytes;
	bool landed;  // already copied (at its issue)
};

struct Fiber {
	ucontext_t ctx;  // portable fallback
	void* sp;        // x86-64 fast switch
	unsigned int tx, ty, tz;
	int linear;
	int state;
	char* stack;
	// The thread's cp.async copies: issued since its last commit_group,
	// and its committed groups, oldest first. A copy lands in shared memory
	// only when a wait_group completes its group (as late as PTX allows).
	std::vector<AsyncCopy> uncommitted;
	std::deque<std::vector<AsyncCopy>> groups;
};

struct Warp {
	int arrived;
	const void* site;
	uint64_t x[32];
	uint32_t mma[32][10];  // mma_16816's exchange: a[4], b[2], c[4] per lane
};

struct Launch {
	dim3 grid, block, bidx;
	int nthreads;
	std::vector<Fiber> fibers;
	std::vector<Warp> warps;
	Fiber* cur;
	ucontext_t sched;
	void* sched_sp;
	// block barrier
	int arrived;
	const void* site;
	int or_acc, or_result;
	// shared memory (exact sizes: under AddressSanitizer an access past the
	// end is reported; glibc's allocations are 16-byte aligned)
	std::vector<char> dyn;
	std::map<const void*, std::vector<char>> statics;
	size_t static_bytes;
	// kernel
	void (*invoke)(void*, const void*);
	void* fn;
	const void* args;
	// result
	bool failed;
	std::string err;
	// thread order: order_random, order_forward or order_reverse
	int order;
	Rng rng;  // this block's generator (order_random)
	std::vector<int> perm;
};

inline thread_local Launch* cur = nullptr;

#if defined(__x86_64__)
// A minimal context switch (System V x86-64): saves the callee-saved
// registers, MXCSR and the x87 control word on the current stack, stores
// the stack pointer in *save, and resumes the context whose stack pointer is
// load. Some 50 times cheaper than swapcontext, which makes a system call.
extern "C" void gau_emu_switch(void** save, void* load);
asm(R"(
	.text
	.p2align 4
	.type gau_emu_switch,@function
gau_emu_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $16, %rsp
	stmxcsr 8(%rsp)
	fnstcw (%rsp)
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	fldcw (%rsp)
	ldmxcsr 8(%rsp)
	addq $16, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size gau_emu_switch,.-gau_emu_switch
)");
#define GAU_EMU_FAST_SWITCH 1
#endif

// A unique address per call site (and per template instantiation).
#define EMU_SITE ([]() -> const void* { static char s; return &s; }())

inline void yield_to_sched() {
	Launch* l = cur;
#ifdef GAU_EMU_FAST_SWITCH
	gau_emu_switch(&l->cur->sp, l->sched_sp);
#else
	swapcontext(&l->cur->ctx, &l->sched);
#endif
}

[[noreturn]] inline void fail(const std::string& msg) {
	Launch* l = cur;
	char where[160];
	snprintf(where, sizeof where, " (block %u,%u,%u thread %u,%u,%u)", l->bidx.x, l->bidx.y, l->bidx.z, l->cur->tx,
	         l->cur->ty, l->cur->tz);
	l->failed = true;
	l->err = msg + where;
	for (;;) yield_to_sched();  // the scheduler never resumes a failed launch
}

inline int block_barrier(const void* site, int pred) {
	Launch* l = cur;
	if (l->arrived == 0) {
		l->site = site;
	} else if (l->site != site) {
		fail("__syncthreads reached from different call sites (divergent barrier)");
	}
	l->arrived++;
	if (pred) l->or_acc = 1;
	if (l->arrived == l->nthreads) {
		l->or_result = l->or_acc;
		l->or_acc = 0;
		l->arrived = 0;
		for (auto& f : l->fibers)
			if (f.state == WAIT_BLOCK) f.state = RUN;
	} else {
		l->cur->state = WAIT_BLOCK;
		yield_to_sched();
	}
	return l->or_result;
}

inline void warp_barrier(const void* site) {
	Launch* l = cur;
	const int w = l->cur->linear / 32;
	Warp& wp = l->warps[w];
	if (wp.arrived == 0) {
		wp.site = site;
	} else if (wp.site != site) {
		fail("warp shuffle or __syncwarp reached from different call sites within a warp");
	}
	wp.arrived++;
	if (wp.arrived == 32) {
		wp.arrived = 0;
		for (int t = 0; t < 32; t++) {
			Fiber& f = l->fibers[w * 32 + t];
			if (f.state == WAIT_WARP) f.state = RUN;
		}
	} else {
		l->cur->state = WAIT_WARP;
		yield_to_sched();
	}
}

template <typename T>
inline uint64_t to_bits(T v) {
	static_assert(sizeof(T) <= 8, "shuffle of a type wider than 8 bytes");
	uint64_t u = 0;
	memcpy(&u, &v, sizeof(T));
	return u;
}
template <typename T>
inline T from_bits_n(uint64_t u) {
	T v;
	memcpy(&v, &u, sizeof(T));
	return v;
}

template <typename T>
inline T shfl(unsigned int mask, T v, int src_lane_fn(int, int), int arg, const void* site) {
	if (mask != 0xffffffffu) fail("shuffle with a partial mask");
	Launch* l = cur;
	const int lane = l->cur->linear & 31;
	Warp& wp = l->warps[l->cur->linear / 32];
	warp_barrier(site);  // the previous exchange has been read
	wp.x[lane] = to_bits(v);
	warp_barrier(site);  // every lane has written
	const int src = src_lane_fn(lane, arg);
	return from_bits_n<T>(wp.x[src & 31]);
}
inline int lane_xor(int lane, int m) { return lane ^ m; }
inline int lane_idx(int, int src) { return src; }

// mma_16816 is PTX's mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// for one warp: D = A·B + C with A 16×16 and B 16×8 bfloat16, C and D 16×8
// float32, each spread over the 32 lanes in the PTX ISA's fragment layouts
// (g = lane/4, t = lane%4; a register's lower half holds the lower column
// or row index):
//   A: a[0] = A[g][2t..2t+1], a[1] = A[g+8][2t..2t+1],
//      a[2] = A[g][2t+8..2t+9], a[3] = A[g+8][2t+8..2t+9];
//   B: b[0] = B[2t..2t+1][g], b[1] = B[2t+8..2t+9][g];
//   C, D: c[0], c[1] = C[g][2t], C[g][2t+1]; c[2], c[3] = C[g+8][2t], C[g+8][2t+1].
// The products of bfloat16 values are exact in float32; the sums run in k
// order (the hardware's order is unspecified).
inline void mma_16816(float* d, const uint32_t* a, const uint32_t* b, const float* c, const void* site) {
	Launch* l = cur;
	const int lane = l->cur->linear & 31;
	Warp& wp = l->warps[l->cur->linear / 32];
	warp_barrier(site);  // the previous exchange has been read
	uint32_t* mine = wp.mma[lane];
	for (int i = 0; i < 4; i++) mine[i] = a[i];
	mine[4] = b[0];
	mine[5] = b[1];
	for (int i = 0; i < 4; i++) memcpy(&mine[6 + i], &c[i], 4);
	warp_barrier(site);  // every lane has written
	auto half = [](uint32_t r, int hi) {
		const uint32_t bits = (hi ? r >> 16 : r & 0xffffu) << 16;
		float f;
		memcpy(&f, &bits, 4);
		return f;
	};
	// A[row][k] and B[k][col] from the lanes that hold them.
	auto A = [&](int row, int k) {
		const int g = row & 7, hiRow = row >> 3, hiK = k >> 3, t = (k & 7) >> 1;
		return half(wp.mma[4 * g + t][hiRow + 2 * hiK], k & 1);
	};
	auto B = [&](int k, int col) {
		const int t = (k & 7) >> 1;
		return half(wp.mma[4 * col + t][4 + (k >> 3)], k & 1);
	};
	const int g = lane >> 2, t = lane & 3;
	for (int i = 0; i < 4; i++) {
		const int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
		float acc = c[i];
		for (int k = 0; k < 16; k++) acc += A(row, k) * B(k, col);
		d[i] = acc;
	}
}

// in_smem reports whether the bytes [p, p+n) lie in the block's shared
// memory (dynamic or static).
inline bool in_smem(const void* p, size_t n) {
	Launch* l = cur;
	auto inside = [&](const std::vector<char>& v) {
		const char* c = (const char*)p;
		return c >= v.data() && c + n <= v.data() + v.size();
	};
	if (inside(l->dyn)) return true;
	for (auto& s : l->statics)
		if (inside(s.second)) return true;
	return false;
}

// ldmatrix is PTX's ldmatrix.sync.aligned.m8n8.{x1,x2,x4}{,.trans}.shared.b16
// for one warp: num 8×8 matrices of 16-bit elements, matrix m's row rr at
// the 16-byte aligned shared address that lane 8m + rr gives (the other
// lanes' addresses are ignored). Lane i receives in r[m] two elements of
// matrix m, the lower index in the lower half:
//   without .trans: row i/4, elements 2(i%4) and 2(i%4)+1;
//   with .trans:    element i/4 of rows 2(i%4) and 2(i%4)+1 (the same
//                   positions of the transposed matrix).
// Without .trans this is the A fragment layout of mma m16n8k16 (and with
// an 8×8 matrix of keys × dims, the B layout); with .trans it turns a
// row-major [k][n] tile into the B fragment. The lanes deposit their
// addresses, meet, read, and meet again, so no lane writes shared memory
// before every lane has read it.
inline void ldmatrix(uint32_t* r, int num, bool trans, const void* p, const void* site) {
	Launch* l = cur;
	const int lane = l->cur->linear & 31;
	Warp& wp = l->warps[l->cur->linear / 32];
	if (lane < 8 * num) {
		if ((uintptr_t)p % 16 != 0) fail("ldmatrix: a row address that is not 16-byte aligned");
		if (!in_smem(p, 16)) fail("ldmatrix: a row address outside shared memory");
	}
	warp_barrier(site);  // the previous exchange has been read
	wp.x[lane] = (uint64_t)(uintptr_t)p;
	warp_barrier(site);  // every lane has written
	const int q = lane >> 2, w = lane & 3;
	for (int m = 0; m < num; m++) {
		uint16_t lo, hi;
		if (!trans) {
			const uint16_t* row = (const uint16_t*)(uintptr_t)wp.x[8 * m + q];
			lo = row[2 * w];
			hi = row[2 * w + 1];
		} else {
			lo = ((const uint16_t*)(uintptr_t)wp.x[8 * m + 2 * w])[q];
			hi = ((const uint16_t*)(uintptr_t)wp.x[8 * m + 2 * w + 1])[q];
		}
		r[m] = (uint32_t)lo | ((uint32_t)hi << 16);
	}
	warp_barrier(site);  // every lane has read
}

// cp_async is PTX's cp.async.cg.shared.global [dst], [src], size, src_bytes
// (.ca for 4 and 8 bytes) for the calling thread. As PTX specifies, the
// copy belongs to no group until the thread's next commit_group, and its
// bytes are in shared memory, for the issuing thread, once a wait_group has
// completed that group (and for the other threads of the block after a
// barrier that follows the wait); __syncthreads alone does not complete
// it. Until then the copy may land at any moment. The emulator lands each
// copy at one of the two extremes: at its issue (so a thread still reading
// the old contents of the destination, which a barrier before the issue
// would have protected, reads the new ones) or at the wait (so a read
// before the wait sees the old contents): drawn per copy from the block's
// generator in the seeded order, at the issue with GAU_EMU_ORDER=forward,
// at the wait with reverse.
inline void cp_async(void* dst, const void* src, int size, int src_bytes) {
	if (size != 4 && size != 8 && size != 16) fail("cp.async: size not 4, 8 or 16 bytes");
	if (src_bytes < 0 || src_bytes > size) fail("cp.async: source size outside [0, size]");
	if ((uintptr_t)dst % size != 0 || (uintptr_t)src % size != 0) fail("cp.async: an address not aligned to the copy size");
	if (!in_smem(dst, size)) fail("cp.async: destination outside shared memory");
	if (in_smem(src, 1)) fail("cp.async: source in shared memory (it copies from global memory)");
	Launch* l = cur;
	const bool early = l->order == order_forward || (l->order == order_random && (l->rng.next() & 1));
	if (early) {
		memcpy(dst, src, (size_t)src_bytes);
		memset((char*)dst + src_bytes, 0, (size_t)(size - src_bytes));
	}
	l->cur->uncommitted.push_back(AsyncCopy{(char*)dst, (const char*)src, size, src_bytes, early});
}

// cp_async_commit is cp.async.commit_group: the copies issued since the
// last commit form a new group (possibly empty).
inline void cp_async_commit() {
	Fiber* f = cur->cur;
	f->groups.push_back(std::move(f->uncommitted));
	f->uncommitted.clear();
}

// cp_async_wait is cp.async.wait_group n: the thread's committed groups
// are completed, oldest first, until at most n are pending. Copies not yet
// committed are not waited for.
inline void cp_async_wait(int n) {
	Fiber* f = cur->cur;
	while ((int)f->groups.size() > n) {
		for (const AsyncCopy& c : f->groups.front()) {
			if (c.landed) continue;
			memcpy(c.dst, c.src, (size_t)c.src_bytes);
			memset(c.dst + c.src_bytes, 0, (size_t)(c.size - c.src_bytes));
		}
		f->groups.pop_front();
	}
}

inline void* static_smem(const void* site, size_t bytes) {
	Launch* l = cur;
	auto it = l->statics.find(site);
	if (it == l->statics.end()) {
		l->static_bytes += bytes;
		if (l->static_bytes > 48 * 1024) fail("static shared memory above 48 KiB");
		it = l->statics.emplace(site, std::vector<char>(bytes, (char)0xff)).first;
		if ((uintptr_t)it->second.data() % 16 != 0) fail("emulator: static shared memory not 16-byte aligned");
	}
	return it->second.data();
}

inline void* dyn_smem() {
	Launch* l = cur;
	if ((uintptr_t)l->dyn.data() % 16 != 0) fail("emulator: dynamic shared memory not 16-byte aligned");
	return l->dyn.data();
}

inline dim3 tid3() { return dim3{cur->cur->tx, cur->cur->ty, cur->cur->tz}; }
inline dim3 bid3() { return cur->bidx; }

// ---- kernel registry: name → (parameter bytes, invoker) ----
//
// A kernel of kernels/cuda takes one parameter struct (GAU_KERNEL), whose
// bytes the launch passes; the emulator's own probe kernels take 8-byte
// parameters, passed as consecutive words. Either way the launch gives a
// buffer and its size, which must be the kernel's.

struct Entry {
	size_t bytes;
	void (*invoke)(void*, const void*);
	void* fn;
};

inline std::map<std::string, Entry>& registry() {
	static std::map<std::string, Entry> r;
	return r;
}

template <typename T>
inline T arg_from(const void* p) {
	T v;
	memcpy(&v, p, sizeof(T));
	return v;
}

template <typename... A>
struct Reg {
	typedef void (*F)(A...);
	static constexpr bool one_struct = sizeof...(A) == 1 && (std::is_class<A>::value && ...);
	static_assert(one_struct || ((sizeof(A) == 8) && ...),
	              "a kernel takes one parameter struct, or (the emulator's probes) 8-byte parameters");
	Reg(const char* name, F f) {
		registry()[name] = Entry{one_struct ? (sizeof(A) + ... + 0) : 8 * sizeof...(A), &invoke, (void*)f};
	}
	static void invoke(void* fn, const void* a) { call((F)fn, (const char*)a, std::index_sequence_for<A...>{}); }
	template <size_t... I>
	static void call(F f, const char* a, std::index_sequence<I...>) {
		f(arg_from<A>(a + 8 * I)...);
	}
};

// Layouts: every parameter struct's fields, for the Go side's test
// (TestArgsLayout): name, offset, size and kind ('p' pointer, 'i' signed
// integer, 'u' unsigned, 'f' floating point).
struct Field {
	const char* name;
	size_t offset, size;
	char kind;
};
struct Layout {
	size_t size;
	std::vector<Field> fields;
};
inline std::map<std::string, Layout>& layouts() {
	static std::map<std::string, Layout> m;
	return m;
}
template <typename T>
constexpr char kind_of() {
	return std::is_pointer<T>::value ? 'p' : std::is_floating_point<T>::value ? 'f' : std::is_signed<T>::value ? 'i' : 'u';
}
struct LayoutReg {
	LayoutReg(const char* kernel, Layout l) { layouts()[kernel] = std::move(l); }
};

}  // namespace emu

#define GAU_REGISTER(name) static emu::Reg emu_reg_##name(#name, &name);
#define GAU_LAYOUT_FIELD(type, field) emu::Field{#field, offsetof(S, field), sizeof(type), emu::kind_of<type>()},
#define GAU_LAYOUT(NAME, STRUCT, ARGS)                                                                  \
	static emu::LayoutReg emu_layout_##NAME(#NAME, []() {                                             \
		typedef STRUCT S;                                                                             \
		return emu::Layout{sizeof(S), std::vector<emu::Field>{ARGS(GAU_LAYOUT_FIELD)}};               \
	}());
#define GAU_DYN_SMEM(T, name) T* name = reinterpret_cast<T*>(emu::dyn_smem())
#define GAU_SMEM(T, name, count) T* name = reinterpret_cast<T*>(emu::static_smem(EMU_SITE, sizeof(T) * (count)))

#define threadIdx (emu::tid3())
#define blockIdx (emu::bid3())
#define blockDim (emu::cur->block)
#define gridDim (emu::cur->grid)

#define __syncthreads() ((void)emu::block_barrier(EMU_SITE, 0))
#define __syncthreads_or(p) emu::block_barrier(EMU_SITE, (p) ? 1 : 0)
#define __syncwarp(...) emu::warp_barrier(EMU_SITE)
#define __shfl_xor_sync(mask, v, m) emu::shfl((mask), (v), emu::lane_xor, (m), EMU_SITE)
#define __shfl_sync(mask, v, src) emu::shfl((mask), (v), emu::lane_idx, (src), EMU_SITE)
#define GAU_EMU_MMA_16816(d, a, b, c) emu::mma_16816((d), (a), (b), (c), EMU_SITE)
#define GAU_EMU_LDMATRIX(r, num, trans, p) emu::ldmatrix((r), (num), (trans), (p), EMU_SITE)
#define GAU_EMU_CP_ASYNC(dst, src, size, src_bytes) emu::cp_async((dst), (src), (size), (src_bytes))
#define GAU_EMU_CP_ASYNC_COMMIT() emu::cp_async_commit()
#define GAU_EMU_CP_ASYNC_WAIT(n) emu::cp_async_wait(n)

inline float __int_as_float(int v) { return emu::from_bits_n<float>((uint32_t)v); }
inline float __uint_as_float(unsigned int v) { return emu::from_bits_n<float>(v); }
inline unsigned int __float_as_uint(float v) { return (unsigned int)emu::to_bits(v); }
// The _rn intrinsics round their result and never take part in an FMA
// (CUDA's guarantee): the empty asm makes the compiler hold the rounded
// value, so -ffp-contract=fast cannot fuse it into a neighbouring add
// (nor fuse a product passed to __fadd_rn into it).
namespace emu {
template <typename T>
inline T rounded(T v) {
#if defined(__x86_64__)
	asm volatile("" : "+x"(v));
#elif defined(__aarch64__)
	asm volatile("" : "+w"(v));
#else
	asm volatile("" : "+m"(v));
#endif
	return v;
}
}  // namespace emu
inline float __fadd_rn(float a, float b) { return emu::rounded(emu::rounded(a) + emu::rounded(b)); }
inline float __fsub_rn(float a, float b) { return emu::rounded(emu::rounded(a) - emu::rounded(b)); }
inline float __fmul_rn(float a, float b) { return emu::rounded(a * b); }
inline double __dadd_rn(double a, double b) { return emu::rounded(emu::rounded(a) + emu::rounded(b)); }
inline double __dmul_rn(double a, double b) { return emu::rounded(a * b); }
inline double __ddiv_rn(double a, double b) { return emu::rounded(a / b); }

inline float atomicAdd(float* p, float v) {
	float o = *p;
	*p = o + v;
	return o;
}
inline double atomicAdd(double* p, double v) {
	double o = *p;
	*p = o + v;
	return o;
}
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long cmp, unsigned long long v) {
	unsigned long long o = *p;
	if (o == cmp) *p = v;
	return o;
}

// ---- the launcher ----

namespace emu {

static const size_t kStack = 256 * 1024;

inline void fiber_entry() {
	Launch* l = cur;
	l->invoke(l->fn, l->args);
	if (!l->cur->uncommitted.empty() || !l->cur->groups.empty()) {
		// Copies no wait_group completed: their data was never used, or was
		// read before it could have arrived.
		fail("cp.async copies still pending at the thread's exit (a missing commit_group or wait_group)");
	}
	l->cur->state = DONE;
#ifdef GAU_EMU_FAST_SWITCH
	for (;;) gau_emu_switch(&l->cur->sp, l->sched_sp);  // never resumed
#endif
	// (ucontext: returning switches to uc_link, the scheduler)
}

// start_fiber prepares f to run fiber_entry on its stack when first resumed.
inline void start_fiber(Launch* l, Fiber& f) {
#ifdef GAU_EMU_FAST_SWITCH
	// The frame gau_emu_switch pops: x87 control word and MXCSR, r15..r12,
	// rbx, rbp, then the "return" address fiber_entry. At its entry the stack
	// pointer is 8 mod 16, as after a call.
	uintptr_t top = ((uintptr_t)f.stack + kStack) & ~(uintptr_t)15;
	uint64_t* s = (uint64_t*)(top - 80);
	unsigned int mx;
	unsigned short cw;
	asm volatile("stmxcsr %0" : "=m"(mx));
	asm volatile("fnstcw %0" : "=m"(cw));
	memset(s, 0, 80);
	memcpy((char*)s, &cw, sizeof cw);
	memcpy((char*)s + 8, &mx, sizeof mx);
	s[8] = (uint64_t)(uintptr_t)&fiber_entry;
	f.sp = s;
	(void)l;
#else
	getcontext(&f.ctx);
	f.ctx.uc_stack.ss_sp = f.stack;
	f.ctx.uc_stack.ss_size = kStack;
	f.ctx.uc_link = &l->sched;
	makecontext(&f.ctx, (void (*)())fiber_entry, 0);
#endif
}

inline void resume_fiber(Launch* l, Fiber& f) {
#ifdef GAU_EMU_FAST_SWITCH
	gau_emu_switch(&l->sched_sp, f.sp);
#else
	swapcontext(&l->sched, &f.ctx);
#endif
}

// run_block runs every thread of block l->bidx to completion; false on error.
inline bool run_block(Launch* l) {
	const int n = l->nthreads;
	for (int t = 0; t < n; t++) {
		Fiber& f = l->fibers[t];
		f.state = RUN;
		f.linear = t;
		f.tx = t % l->block.x;
		f.ty = (t / l->block.x) % l->block.y;
		f.tz = t / (l->block.x * l->block.y);
		f.uncommitted.clear();
		f.groups.clear();
		start_fiber(l, f);
	}
	for (auto& w : l->warps) w.arrived = 0;
	l->arrived = 0;
	l->or_acc = 0;
	l->or_result = 0;
	l->static_bytes = 0;
	l->statics.clear();
	memset(l->dyn.data(), 0xff, l->dyn.size());
	bool rev = l->order == order_reverse;
	int* perm = l->perm.data();
	for (int t = 0; t < n; t++) perm[t] = t;
	for (;;) {
		int ran = 0, alive = 0;
		if (l->order == order_random) l->rng.shuffle(perm, n);
		for (int k = 0; k < n; k++) {
			Fiber& f = l->fibers[l->order == order_random ? perm[k] : rev ? n - 1 - k : k];
			if (f.state == RUN) {
				l->cur = &f;
				resume_fiber(l, f);
				ran++;
				if (l->failed) return false;
			}
		}
		for (int t = 0; t < n; t++)
			if (l->fibers[t].state != DONE) alive++;
		if (alive == 0) return true;
		if (ran == 0) {
			int wb = 0, ww = 0, done = 0;
			for (auto& f : l->fibers) {
				wb += f.state == WAIT_BLOCK;
				ww += f.state == WAIT_WARP;
				done += f.state == DONE;
			}
			char msg[256];
			snprintf(msg, sizeof msg,
			         "deadlock in block %u,%u,%u: %d threads wait at __syncthreads, %d at a warp barrier, %d exited",
			         l->bidx.x, l->bidx.y, l->bidx.z, wb, ww, done);
			l->failed = true;
			l->err = msg;
			return false;
		}
		rev = !rev;
	}
}

inline std::map<std::string, size_t>& max_dyn_smem() {
	static std::map<std::string, size_t> m;
	return m;
}

struct LaunchReq {
	const char* name;
	unsigned int g[3], b[3];
	size_t smem;
	const void* args;
	size_t bytes;
	int order;
	uint64_t key;  // the block order, and the thread orders with order_random
	std::string err;
};

inline void* launch_thread(void* p) {
	LaunchReq* r = (LaunchReq*)p;
	auto it = registry().find(r->name);
	if (it == registry().end()) {
		r->err = std::string("unknown kernel ") + r->name;
		return nullptr;
	}
	if (it->second.bytes != r->bytes) {
		char m[200];
		snprintf(m, sizeof m, "kernel %s takes %zu bytes of parameters, launched with %zu", r->name, it->second.bytes,
		         r->bytes);
		r->err = m;
		return nullptr;
	}
	const unsigned long long threads = (unsigned long long)r->b[0] * r->b[1] * r->b[2];
	if (r->g[0] == 0 || r->g[1] == 0 || r->g[2] == 0 || threads == 0 || r->g[1] > 65535 || r->g[2] > 65535 ||
	    r->g[0] > 2147483647u || r->b[0] > 1024 || r->b[1] > 1024 || r->b[2] > 64 || threads > 1024) {
		r->err = std::string("invalid grid or block size for ") + r->name;
		return nullptr;
	}
	if (threads % 32 != 0) {
		r->err = std::string("the emulator needs a multiple of 32 threads per block: ") + r->name;
		return nullptr;
	}
	size_t limit = 48 * 1024;
	auto ms = max_dyn_smem().find(r->name);
	if (ms != max_dyn_smem().end()) limit = ms->second;
	if (r->smem > limit) {
		char m[200];
		snprintf(m, sizeof m, "kernel %s: %zu bytes of dynamic shared memory, limit %zu (set the function attribute)",
		         r->name, r->smem, limit);
		r->err = m;
		return nullptr;
	}
	Launch l;
	l.grid = dim3{r->g[0], r->g[1], r->g[2]};
	l.block = dim3{r->b[0], r->b[1], r->b[2]};
	l.nthreads = (int)threads;
	l.fibers.resize(threads);
	l.warps.resize(threads / 32);
	l.dyn.resize(r->smem > 0 ? r->smem : 16);
	l.invoke = it->second.invoke;
	l.fn = it->second.fn;
	l.args = r->args;
	l.failed = false;
	l.order = r->order;
	l.perm.resize(threads);
	l.cur = nullptr;
	// malloc, not a vector: the stacks are not touched until used.
	char* stacks = (char*)malloc((size_t)threads * kStack);
	if (!stacks) {
		r->err = "emulator: out of memory for fiber stacks";
		return nullptr;
	}
	for (size_t t = 0; t < threads; t++) l.fibers[t].stack = stacks + t * kStack;
	cur = &l;
	// The blocks in a permutation drawn from the key: a shuffled list of
	// linear block indices, or for grids too large to list (never in the
	// tests) an affine permutation i -> (a*i + b) mod N with a prime to N.
	const uint64_t nblocks = (uint64_t)l.grid.x * l.grid.y * l.grid.z;
	Rng brng(mix64(r->key));
	std::vector<uint32_t> border;
	uint64_t ba = 1, bb = 0;
	if (nblocks <= (1u << 24)) {
		border.resize(nblocks);
		for (uint64_t i = 0; i < nblocks; i++) border[i] = (uint32_t)i;
		brng.shuffle(border.data(), nblocks);
	} else {
		bb = brng.below(nblocks);
		do ba = 1 + brng.below(nblocks - 1);
		while (std::gcd(ba, nblocks) != 1);
	}
	for (uint64_t i = 0; i < nblocks && !l.failed; i++) {
		const uint64_t b = border.empty() ? (uint64_t)(((unsigned __int128)ba * i + bb) % nblocks) : border[i];
		l.bidx = dim3{(unsigned int)(b % l.grid.x), (unsigned int)(b / l.grid.x % l.grid.y),
		              (unsigned int)(b / ((uint64_t)l.grid.x * l.grid.y))};
		l.rng = Rng(mix64(r->key ^ mix64(b + 1)));
		if (!run_block(&l)) break;
		if (l.static_bytes + r->smem > 227 * 1024) {
			l.failed = true;
			l.err = std::string("more than 227 KiB of shared memory per block: ") + r->name;
		}
	}
	cur = nullptr;
	free(stacks);
	if (l.failed) r->err = std::string(r->name) + ": " + l.err;
	return nullptr;
}

}  // namespace emu

// ---- C API for the Go backend ----

extern "C" {

// emu_launch runs kernel `name`; 0 on success, else 1 with a message in err.
// order is emu::order_random (the threads of each round in an order drawn
// from key and the block index), order_forward or order_reverse (increasing
// and decreasing order alternately, starting with the one named); key also
// draws the order of the blocks.
static inline int emu_launch_impl(const char* name, const unsigned int* grid, const unsigned int* block, size_t smem,
                                  const void* args, size_t bytes, int order, uint64_t key, char* err, int errlen) {
	emu::LaunchReq r;
	r.name = name;
	for (int i = 0; i < 3; i++) {
		r.g[i] = grid[i];
		r.b[i] = block[i];
	}
	r.smem = smem;
	r.args = args;
	r.bytes = bytes;
	r.order = order;
	r.key = key;
	// The fibers run on a thread of their own, away from the Go runtime's.
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, 8 << 20);
	if (pthread_create(&th, &at, emu::launch_thread, &r) != 0) {
		snprintf(err, errlen, "emulator: cannot start a thread");
		return 1;
	}
	pthread_join(th, nullptr);
	pthread_attr_destroy(&at);
	if (!r.err.empty()) {
		snprintf(err, errlen, "%s", r.err.c_str());
		return 1;
	}
	return 0;
}

static inline void emu_set_max_dyn_smem_impl(const char* name, size_t bytes) { emu::max_dyn_smem()[name] = bytes; }

static inline int emu_has_kernel_impl(const char* name, size_t* bytes) {
	auto it = emu::registry().find(name);
	if (it == emu::registry().end()) return 0;
	*bytes = it->second.bytes;
	return 1;
}

// emu_layout_impl describes field i of kernel name's parameter struct: 1
// with its name, offset, size and kind, 0 past the last field (*size then
// the struct's size) or for an unknown kernel (*size 0).
static inline int emu_layout_impl(const char* name, int i, const char** field, size_t* offset, size_t* size, char* kind) {
	auto it = emu::layouts().find(name);
	if (it == emu::layouts().end()) {
		*size = 0;
		return 0;
	}
	const emu::Layout& l = it->second;
	if (i < 0 || (size_t)i >= l.fields.size()) {
		*size = l.size;
		return 0;
	}
	*field = l.fields[i].name;
	*offset = l.fields[i].offset;
	*size = l.fields[i].size;
	*kind = l.fields[i].kind;
	return 1;
}
}
