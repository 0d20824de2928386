// embed.cu: embedding gather and its adjoint, mirroring kernels/cpu/embed.go.
#include "common.cuh"

// gather: out row i = table row ids[i] (row width n; the table has `rows`
// rows). An id outside [0, rows) writes a zero row and records i+1 in *flag
// (the CPU returns an error).
template <typename TIn>
__device__ __forceinline__ void gather_impl(float* out, const TIn* table, const i64* ids, i64 nids, i64 n, i64 rows, i64* flag) {
	GAU_FOR(k, nids * n) {
		i64 i = k / n, c = k - i * n;
		i64 id = ids[i];
		if (id < 0 || id >= rows) {
			out[k] = 0.0f;
			if (c == 0) gau_flag(flag, i);
		} else {
			out[k] = ldf(table + id * n + c);
		}
	}
}
#define GAU_GATHER_F32_ARGS(F)                                                                 \
	F(float*, out) F(const float*, table) F(const i64*, ids) F(i64, nids) F(i64, n) F(i64, rows)  \
	F(i64*, flag)
GAU_KERNEL(gau_gather_f32, GAU_GATHER_F32_ARGS) {
	GAU_UNPACK(GAU_GATHER_F32_ARGS)
	gather_impl(out, table, ids, nids, n, rows, flag);
}
GAU_REGISTER(gau_gather_f32)

// gau_scatter_add_f32 adds row i of dout into row ids[i] of dtable with atomicAdd
// (the caller zeroes dtable first, as cpu.ScatterAdd does). The order of the
// additions into a row read by several ids is not fixed: results can differ
// in the last bits from run to run. Bad ids are skipped and flagged.
#define GAU_SCATTER_ADD_F32_ARGS(F)                                                              \
	F(float*, dtable) F(const float*, dout) F(const i64*, ids) F(i64, nids) F(i64, n) F(i64, rows)  \
	F(i64*, flag)
GAU_KERNEL(gau_scatter_add_f32, GAU_SCATTER_ADD_F32_ARGS) {
	GAU_UNPACK(GAU_SCATTER_ADD_F32_ARGS)
	GAU_FOR(k, nids * n) {
		i64 i = k / n, c = k - i * n;
		i64 id = ids[i];
		if (id < 0 || id >= rows) {
			if (c == 0) gau_flag(flag, i);
		} else {
			atomicAdd(dtable + id * n + c, dout[k]);
		}
	}
}
GAU_REGISTER(gau_scatter_add_f32)
