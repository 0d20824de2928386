// optim.cu: AdamW in place (train/optim.go, PyTorch's rule), the squared
// norm and the scaling used for gradient clipping (train.ClipGradNorm).
#include "common.cuh"

// gau_adamw_f32 updates n parameters p in place from gradients g and moments m, v:
//
//	m = b1·m + (1-b1)·g;  v = b2·v + (1-b2)·g·g          (float32)
//	p = p·decay - float32(step·m / (sqrt(v)/sqrt_bc2 + eps))   (quotient in float64)
//
// with, from the host: b1, b2 (rounded to float32 here, as the CPU does),
// step = lr/(1-b1^t), sqrt_bc2 = sqrt(1-b2^t), eps, decay = float32(1-lr·wd)
// (1 for parameters without weight decay). The _rn intrinsics keep nvcc from
// fusing multiply-adds so the float32 arithmetic matches the CPU's.
#define GAU_ADAMW_F32_ARGS(F)                                                                     \
	F(float*, p) F(const float*, g) F(float*, m) F(float*, v) F(i64, n) F(double, b1) F(double, b2)  \
	F(double, eps) F(double, step) F(double, sqrt_bc2) F(double, decay)
GAU_KERNEL(gau_adamw_f32, GAU_ADAMW_F32_ARGS) {
	GAU_UNPACK(GAU_ADAMW_F32_ARGS)
	const float b1f = (float)b1, b2f = (float)b2, dec = (float)decay;
	const float c1 = __fsub_rn(1.0f, b1f), c2 = __fsub_rn(1.0f, b2f);
	GAU_FOR(j, n) {
		const float gj = g[j];
		const float mj = __fadd_rn(__fmul_rn(b1f, m[j]), __fmul_rn(c1, gj));
		const float vj = __fadd_rn(__fmul_rn(b2f, v[j]), __fmul_rn(__fmul_rn(c2, gj), gj));
		m[j] = mj;
		v[j] = vj;
		const double denom = __dadd_rn(__ddiv_rn(sqrt((double)vj), sqrt_bc2), eps);
		const float upd = (float)__ddiv_rn(__dmul_rn(step, (double)mj), denom);
		p[j] = __fsub_rn(__fmul_rn(p[j], dec), upd);
	}
}
GAU_REGISTER(gau_adamw_f32)

// gau_sqnorm_f32 adds Σ x² (float64) to *out; the caller zeroes *out once and
// calls it for every gradient tensor to get the global squared norm.
#define GAU_SQNORM_F32_ARGS(F) F(double*, out) F(const float*, x) F(i64, n)
GAU_KERNEL(gau_sqnorm_f32, GAU_SQNORM_F32_ARGS) {
	GAU_UNPACK(GAU_SQNORM_F32_ARGS)
	GAU_SMEM(double, red, 33);
	double s = 0;
	GAU_FOR(i, n) {
		double v = (double)x[i];
		s += v * v;
	}
	s = block_sum(s, red);
	if (threadIdx.x == 0 && s != 0) atomicAdd(out, s);
}
GAU_REGISTER(gau_sqnorm_f32)

// gau_clip_f32 is the scaling step of train.ClipGradNorm with the squared norm
// on the device: norm = sqrt(*sqnorm); when max_norm > 0, the norm is finite
// and exceeds max_norm, x *= float32(max_norm/(norm+1e-6)); otherwise x is
// left alone. Run it on every gradient tensor after the gau_sqnorm_f32 calls.
#define GAU_CLIP_F32_ARGS(F) F(float*, x) F(i64, n) F(const double*, sqnorm) F(double, max_norm)
GAU_KERNEL(gau_clip_f32, GAU_CLIP_F32_ARGS) {
	GAU_UNPACK(GAU_CLIP_F32_ARGS)
	const double norm = sqrt(*sqnorm);
	if (!(max_norm > 0) || isnan(norm) || isinf(norm) || norm <= max_norm) return;
	const float f = (float)(max_norm / (norm + 1e-6));
	GAU_FOR(i, n) x[i] *= f;
}
GAU_REGISTER(gau_clip_f32)
