// elementwise.cu: swish, Norm, the gate, add, dropout and unpack, mirroring
// kernels/cpu/elementwise.go and graph/attention.go's unpack.
#include "common.cuh"

// ---- swish: y = x·σ(x) ----

template <typename TIn>
__device__ __forceinline__ void swish_impl(float* y, const TIn* x, i64 n) {
	GAU_FOR(i, n) {
		float v = ldf(x + i);
		y[i] = v * (1.0f / (1.0f + expf(-v)));
	}
}
#define GAU_SWISH_F32_ARGS(F) F(float*, y) F(const float*, x) F(i64, n)
GAU_KERNEL(gau_swish_f32, GAU_SWISH_F32_ARGS) {
	GAU_UNPACK(GAU_SWISH_F32_ARGS)
	swish_impl(y, x, n);
}
GAU_REGISTER(gau_swish_f32)

// gau_swish_grad_f32: dx = dy·σ(x)·(1 + x·(1-σ(x))).
#define GAU_SWISH_GRAD_F32_ARGS(F) F(float*, dx) F(const float*, x) F(const float*, dy) F(i64, n)
GAU_KERNEL(gau_swish_grad_f32, GAU_SWISH_GRAD_F32_ARGS) {
	GAU_UNPACK(GAU_SWISH_GRAD_F32_ARGS)
	GAU_FOR(i, n) {
		float v = x[i];
		float s = 1.0f / (1.0f + expf(-v));
		dx[i] = dy[i] * s * (1.0f + v * (1.0f - s));
	}
}
GAU_REGISTER(gau_swish_grad_f32)

// ---- Norm over rows of width n: y = x / sqrt(mean(x²) + 1e-12) ----
// One block per row (grid-stride over rows); sums in float64 as the CPU does.

template <typename TIn>
__device__ __forceinline__ void norm_impl(float* y, const TIn* x, i64 rows, i64 n) {
	GAU_SMEM(double, red, 33);
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const TIn* xr = x + r * n;
		double s = 0;
		for (i64 c = threadIdx.x; c < n; c += blockDim.x) {
			double v = (double)ldf(xr + c);
			s += v * v;
		}
		s = block_sum(s, red);
		const float inv = (float)(1.0 / sqrt(s / (double)n + 1e-12));
		for (i64 c = threadIdx.x; c < n; c += blockDim.x) y[r * n + c] = ldf(xr + c) * inv;
	}
}
#define GAU_NORM_F32_ARGS(F) F(float*, y) F(const float*, x) F(i64, rows) F(i64, n)
GAU_KERNEL(gau_norm_f32, GAU_NORM_F32_ARGS) {
	GAU_UNPACK(GAU_NORM_F32_ARGS)
	norm_impl(y, x, rows, n);
}
GAU_REGISTER(gau_norm_f32)

// gau_norm_grad_f32: dx = (dy - y·mean(dy⊙y)) / rms(x), in float64 like the CPU.
#define GAU_NORM_GRAD_F32_ARGS(F) F(float*, dx) F(const float*, x) F(const float*, dy) F(i64, rows) F(i64, n)
GAU_KERNEL(gau_norm_grad_f32, GAU_NORM_GRAD_F32_ARGS) {
	GAU_UNPACK(GAU_NORM_GRAD_F32_ARGS)
	GAU_SMEM(double, red, 33);
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const float* xr = x + r * n;
		const float* dyr = dy + r * n;
		double s = 0;
		for (i64 c = threadIdx.x; c < n; c += blockDim.x) {
			double v = (double)xr[c];
			s += v * v;
		}
		s = block_sum(s, red);
		const double rms = sqrt(s / (double)n + 1e-12);
		double m = 0;
		for (i64 c = threadIdx.x; c < n; c += blockDim.x) m += (double)dyr[c] * (double)xr[c] / rms;
		m = block_sum(m, red) / (double)n;
		for (i64 c = threadIdx.x; c < n; c += blockDim.x) {
			double yv = (double)xr[c] / rms;
			dx[r * n + c] = (float)(((double)dyr[c] - yv * m) / rms);
		}
	}
}
GAU_REGISTER(gau_norm_grad_f32)

// ---- the gate y = u ⊙ O (u: the first e columns of x, row width xw; O: the
// first e columns of o, row width ow); y is [rows, e] ----

#define GAU_GATE_F32_ARGS(F)                                                                      \
	F(float*, y) F(const float*, x) F(const float*, o) F(i64, rows) F(i64, e) F(i64, xw) F(i64, ow)
GAU_KERNEL(gau_gate_f32, GAU_GATE_F32_ARGS) {
	GAU_UNPACK(GAU_GATE_F32_ARGS)
	GAU_FOR(k, rows * e) {
		i64 r = k / e, c = k - r * e;
		y[k] = x[r * xw + c] * o[r * ow + c];
	}
}
GAU_REGISTER(gau_gate_f32)

// gau_gate_grad_x_f32 writes all of dx [rows, xw]: dy⊙O in the u columns, 0 elsewhere.
#define GAU_GATE_GRAD_X_F32_ARGS(F)                                                                 \
	F(float*, dx) F(const float*, o) F(const float*, dy) F(i64, rows) F(i64, e) F(i64, xw) F(i64, ow)
GAU_KERNEL(gau_gate_grad_x_f32, GAU_GATE_GRAD_X_F32_ARGS) {
	GAU_UNPACK(GAU_GATE_GRAD_X_F32_ARGS)
	GAU_FOR(k, rows * xw) {
		i64 r = k / xw, c = k - r * xw;
		dx[k] = c < e ? dy[r * e + c] * o[r * ow + c] : 0.0f;
	}
}
GAU_REGISTER(gau_gate_grad_x_f32)

// gau_gate_grad_o_f32 writes all of do [rows, ow]: dy⊙u in the first e columns, 0 elsewhere.
#define GAU_GATE_GRAD_O_F32_ARGS(F)                                                        \
	F(float*, dout) F(const float*, x) F(const float*, dy) F(i64, rows) F(i64, e) F(i64, xw)  \
	F(i64, ow)
GAU_KERNEL(gau_gate_grad_o_f32, GAU_GATE_GRAD_O_F32_ARGS) {
	GAU_UNPACK(GAU_GATE_GRAD_O_F32_ARGS)
	GAU_FOR(k, rows * ow) {
		i64 r = k / ow, c = k - r * ow;
		dout[k] = c < e ? dy[r * e + c] * x[r * xw + c] : 0.0f;
	}
}
GAU_REGISTER(gau_gate_grad_o_f32)

// ---- add: z = x + y ----

template <typename TIn>
__device__ __forceinline__ void add_impl(float* z, const TIn* x, const TIn* y, i64 n) {
	GAU_FOR(i, n) z[i] = ldf(x + i) + ldf(y + i);
}
#define GAU_ADD_F32_ARGS(F) F(float*, z) F(const float*, x) F(const float*, y) F(i64, n)
GAU_KERNEL(gau_add_f32, GAU_ADD_F32_ARGS) {
	GAU_UNPACK(GAU_ADD_F32_ARGS)
	add_impl(z, x, y, n);
}
GAU_REGISTER(gau_add_f32)

// ---- to_bf16: y = x rounded to bfloat16, the inputs of the bf16 kernels and
// of the bf16 GEMM under -precision bf16 ----
#define GAU_TO_BF16_F32_ARGS(F) F(bf16*, y) F(const float*, x) F(i64, n)
GAU_KERNEL(gau_to_bf16_f32, GAU_TO_BF16_F32_ARGS) {
	GAU_UNPACK(GAU_TO_BF16_F32_ARGS)
	GAU_FOR(i, n) { y[i] = tobf16(x[i]); }
}
GAU_REGISTER(gau_to_bf16_f32)

// ---- dropout: y = x·keep/(1-p), keep from (key, site, element index) ----
// thr = cpu.DropThreshold(p) (0: y = x), inv = 1/(1-p) (rounded to float32
// here exactly as the CPU's T(1/(1-p))).

template <typename TIn>
__device__ __forceinline__ void dropout_impl(float* y, const TIn* x, i64 n, u64 thr, double inv, u64 key, u64 site) {
	const float invf = (float)inv;
	GAU_FOR(i, n) {
		float v = ldf(x + i);
		if (thr == 0) {
			y[i] = v;
		} else {
			y[i] = gau_keep(key, site, (u64)i, thr) ? v * invf : 0.0f;
		}
	}
}
#define GAU_DROPOUT_F32_ARGS(F)                                                                 \
	F(float*, y) F(const float*, x) F(i64, n) F(u64, thr) F(double, inv) F(u64, key) F(u64, site)
GAU_KERNEL(gau_dropout_f32, GAU_DROPOUT_F32_ARGS) {
	GAU_UNPACK(GAU_DROPOUT_F32_ARGS)
	dropout_impl(y, x, n, thr, inv, key, site);
}
GAU_REGISTER(gau_dropout_f32)

// ---- unpack: dst [rows, cols] = src[row : row+rows, 0 : cols] (src row width
// `width`), the block copy that splits the attention backward's packed output ----

#define GAU_UNPACK_F32_ARGS(F)                                                            \
	F(float*, dst) F(const float*, src) F(i64, row) F(i64, rows) F(i64, cols) F(i64, width)
GAU_KERNEL(gau_unpack_f32, GAU_UNPACK_F32_ARGS) {
	GAU_UNPACK(GAU_UNPACK_F32_ARGS)
	GAU_FOR(k, rows * cols) {
		i64 r = k / cols, c = k - r * cols;
		dst[k] = src[(row + r) * width + c];
	}
}
GAU_REGISTER(gau_unpack_f32)
