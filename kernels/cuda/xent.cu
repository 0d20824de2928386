// xent.cu: the masked cross entropy of kernels/cpu/xent.go (graph's
// CrossEntropyOp and its gradient). logits [M, V]; targets [M] (int64), a
// target of -1 does not count. Three small steps keep the forward
// deterministic: count, per-row losses, a fixed-order sum.
#include "common.cuh"

#define XENT_IGNORE (-1LL)

// gau_xent_count_f32 counts the rows whose target is not -1 into *count (what the
// loss is averaged over, as cpu.CrossEntropy and cpu.CrossEntropyGrad do),
// and records the first row with a target outside [0, V) in *flag. One block.
#define GAU_XENT_COUNT_F32_ARGS(F) F(i64*, count) F(i64*, flag) F(const i64*, targets) F(i64, M) F(i64, V)
GAU_KERNEL(gau_xent_count_f32, GAU_XENT_COUNT_F32_ARGS) {
	GAU_UNPACK(GAU_XENT_COUNT_F32_ARGS)
	GAU_SMEM(i64, red, 33);
	i64 c = 0;
	for (i64 r = threadIdx.x; r < M; r += blockDim.x) {
		i64 t = targets[r];
		if (t == XENT_IGNORE) continue;
		c++;
		if (t < 0 || t >= V) gau_flag(flag, r);
	}
	c = block_sum(c, red);
	if (threadIdx.x == 0) *count = c;
}
GAU_REGISTER(gau_xent_count_f32)

// row_lse returns log Σ e^row (float32 max and sum, float64 log, as the CPU's
// logSumExp), to every thread of the block.
template <typename TIn>
__device__ __forceinline__ double row_lse(const TIn* row, i64 V, float* red) {
	float mx = -GAU_INF;
	for (i64 c = threadIdx.x; c < V; c += blockDim.x) mx = fmaxf(mx, ldf(row + c));
	mx = block_max(mx, red);
	float s = 0;
	for (i64 c = threadIdx.x; c < V; c += blockDim.x) s += expf(ldf(row + c) - mx);
	s = block_sum(s, red);
	return (double)mx + log((double)s);
}

// xent_rows: rowloss[r] = lse(row r) - row r[target] (float64), 0 for rows
// not counted or with a bad target. One block per row (grid-stride).
template <typename TIn>
__device__ __forceinline__ void xent_rows_impl(double* rowloss, const TIn* logits, const i64* targets, i64 M, i64 V) {
	GAU_SMEM(float, red, 33);
	for (i64 r = blockIdx.x; r < M; r += gridDim.x) {
		const i64 t = targets[r];
		if (t < 0 || t >= V) {  // uniform across the block
			if (threadIdx.x == 0) rowloss[r] = 0;
			continue;
		}
		const TIn* row = logits + r * V;
		const double lse = row_lse(row, V, red);
		if (threadIdx.x == 0) rowloss[r] = lse - (double)ldf(row + t);
	}
}
#define GAU_XENT_ROWS_F32_ARGS(F)                                                        \
	F(double*, rowloss) F(const float*, logits) F(const i64*, targets) F(i64, M) F(i64, V)
GAU_KERNEL(gau_xent_rows_f32, GAU_XENT_ROWS_F32_ARGS) {
	GAU_UNPACK(GAU_XENT_ROWS_F32_ARGS)
	xent_rows_impl(rowloss, logits, targets, M, V);
}
GAU_REGISTER(gau_xent_rows_f32)

// gau_xent_reduce_f32 (one block): out[0] = Σ rowloss / count (0 when count is 0),
// out[1] = count; loss32, when not null, receives float32(out[0]). The sum
// order depends only on M, so the loss is reproducible.
#define GAU_XENT_REDUCE_F32_ARGS(F)                                                          \
	F(double*, out) F(float*, loss32) F(const double*, rowloss) F(const i64*, count) F(i64, M)
GAU_KERNEL(gau_xent_reduce_f32, GAU_XENT_REDUCE_F32_ARGS) {
	GAU_UNPACK(GAU_XENT_REDUCE_F32_ARGS)
	GAU_SMEM(double, red, 33);
	double s = 0;
	for (i64 r = threadIdx.x; r < M; r += blockDim.x) s += rowloss[r];
	s = block_sum(s, red);
	if (threadIdx.x == 0) {
		const i64 c = *count;
		const double loss = c > 0 ? s / (double)c : 0.0;
		out[0] = loss;
		out[1] = (double)c;
		if (loss32) *loss32 = (float)loss;
	}
}
GAU_REGISTER(gau_xent_reduce_f32)

// gau_xent_grad_f32 writes the gradient of scale·CrossEntropy with respect to the
// logits: f·(softmax(row) - onehot(target)) with f = scale·(*scale_dev or 1)/count
// on counted rows with a valid target, 0 elsewhere (cpu.CrossEntropyGrad).
// count comes from gau_xent_count_f32. One block per row (grid-stride).
#define GAU_XENT_GRAD_F32_ARGS(F)                                                                  \
	F(float*, dlogits) F(const float*, logits) F(const i64*, targets) F(const i64*, count) F(i64, M)  \
	F(i64, V) F(double, scale) F(const float*, scale_dev)
GAU_KERNEL(gau_xent_grad_f32, GAU_XENT_GRAD_F32_ARGS) {
	GAU_UNPACK(GAU_XENT_GRAD_F32_ARGS)
	GAU_SMEM(float, red, 33);
	const i64 cnt = *count;
	double fd = 0;
	if (cnt > 0) fd = scale * (scale_dev ? (double)*scale_dev : 1.0) / (double)cnt;
	const float f = (float)fd;
	for (i64 r = blockIdx.x; r < M; r += gridDim.x) {
		const i64 t = targets[r];
		float* d = dlogits + r * V;
		if (cnt == 0 || t < 0 || t >= V) {  // uniform across the block
			for (i64 c = threadIdx.x; c < V; c += blockDim.x) d[c] = 0.0f;
			continue;
		}
		const float* row = logits + r * V;
		const float lse = (float)row_lse(row, V, red);
		for (i64 c = threadIdx.x; c < V; c += blockDim.x) {
			float g = expf(row[c] - lse) * f;
			if (c == t) g -= f;
			d[c] = g;
		}
	}
}
GAU_REGISTER(gau_xent_grad_f32)
