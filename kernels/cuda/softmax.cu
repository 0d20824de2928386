// softmax.cu: the entropy-invariant softmax over rows of logits for the
// unfused attention path and for tests: y = softmax(c_r · x_r) with a factor
// c_r per row (InfoScale's c(n), softmax_plus's ln n / ln base, or 1).
// -Inf logits are masked (probability 0, also when c_r = 0); a row with no
// finite logit is all zeros (the attention's padding-row convention).
#include "common.cuh"

template <typename TIn>
__device__ __forceinline__ void softmax_fwd_impl(float* y, const TIn* x, const float* factor, i64 rows, i64 n) {
	GAU_SMEM(float, red, 33);
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const TIn* xr = x + r * n;
		float* yr = y + r * n;
		const float c = factor ? factor[r] : 1.0f;
		float mx = -GAU_INF;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
			float v = ldf(xr + j);
			if (v != -GAU_INF) mx = fmaxf(mx, c * v);
		}
		mx = block_max(mx, red);
		if (mx == -GAU_INF) {  // uniform: nothing to attend to
			for (i64 j = threadIdx.x; j < n; j += blockDim.x) yr[j] = 0.0f;
			continue;
		}
		float s = 0;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
			float v = ldf(xr + j);
			if (v != -GAU_INF) s += expf(c * v - mx);
		}
		s = block_sum(s, red);
		const float inv = 1.0f / s;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
			float v = ldf(xr + j);
			yr[j] = v == -GAU_INF ? 0.0f : expf(c * v - mx) * inv;
		}
	}
}
extern "C" __global__ void softmax_fwd_f32(float* y, const float* x, const float* factor, i64 rows, i64 n) {
	softmax_fwd_impl(y, x, factor, rows, n);
}
GAU_REGISTER(softmax_fwd_f32)
extern "C" __global__ void softmax_fwd_bf16(float* y, const bf16* x, const float* factor, i64 rows, i64 n) {
	softmax_fwd_impl(y, x, factor, rows, n);
}
GAU_REGISTER(softmax_fwd_bf16)

// softmax_bwd_f32: dx = c_r · y ⊙ (dy - Σ_j y_j dy_j), from the forward output y.
extern "C" __global__ void softmax_bwd_f32(float* dx, const float* y, const float* dy, const float* factor, i64 rows, i64 n) {
	GAU_SMEM(float, red, 33);
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const float* yr = y + r * n;
		const float* dyr = dy + r * n;
		const float c = factor ? factor[r] : 1.0f;
		float s = 0;
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) s += yr[j] * dyr[j];
		s = block_sum(s, red);
		for (i64 j = threadIdx.x; j < n; j += blockDim.x) dx[r * n + j] = c * yr[j] * (dyr[j] - s);
	}
}
GAU_REGISTER(softmax_bwd_f32)
