// attention_mat.cu: the kernels of the materialised attention
// (gpu/attention_mat.go), which computes the L×L matrices of a group of
// sequences with cuBLAS and runs these kernels between the products:
//
//   forward   gau_attn_prep_* (attention_fwd.cu): q̃, k̃ and their rotations;
//             S_v = Q_v·K_vᵀ (cuBLAS, one product per rotation variant v:
//             near qr·krᵀ, and with a far window behind qc·k0ᵀ and ahead
//             q0·kcᵀ); gau_attn_mat_softmax_*: the mask, ALiBi's bias, the row
//             log-sum-exp and P = dropout(exp(S - lse)); O = P·V (cuBLAS).
//   backward  prep; δ = rowsum(dO ⊙ O) (gau_attn_bwd_delta); S_v again;
//             gau_attn_mat_softmax_* reading the forward's lse: Pd; dV = Pdᵀ·dO
//             and dPd = dO·Vᵀ (cuBLAS); gau_attn_mat_ds_*: dS = P ⊙ (dP - δ)
//             with dP = dPd·dropscale, split by rotation variant; dq̃_v =
//             dS_v·K_v, dk̃_v = dS_vᵀ·Q_v (cuBLAS); gau_attn_bwd_post
//             (attention_bwd.cu).
//
// The logit of pair (i, j) is the element of the variant its kind selects
// (pair_kind, attention.cuh) plus bscale_b·(-slope·|i-j|), -Inf where the
// policy or the padding removes the key: the same values as the fused
// kernels' and the CPU's. The policy scalars are those of attention.cuh.
//
// The kernels see a group of g sequences starting at sequence b0: row r of
// the group (0 <= r < g·L) is row i = r mod L of sequence b = b0 + r/L, and
// its L elements are at r·L in S_v, P, dP and dS_v. One block of 256
// threads per row (grid-stride over rows).
#include "attention.cuh"

// mat_logit returns the logit of pair (i, j) at element e of the group's
// matrices and its kind (K_MASKED: -Inf).
__device__ __forceinline__ float mat_logit(const AttnPolicy& pol, const float* s0, const float* s1, const float* s2, i64 e,
                                           i64 i, i64 j, bool jvalid, float bs, double slope, int& kind) {
	kind = jvalid ? pair_kind(pol, i, j) : K_MASKED;
	if (kind == K_MASKED) return -GAU_INF;
	float s = kind == K_NEAR ? s0[e] : (kind == K_BEHIND ? s1[e] : s2[e]);
	if (slope != 0) s += bs * (float)(-slope * (double)iabs64(i - j));
	return s;
}

__device__ __forceinline__ void mat_store(float* p, i64 e, float v) { p[e] = v; }
__device__ __forceinline__ void mat_store(bf16* p, i64 e, float v) { p[e] = tobf16(v); }

// ============================ softmax ============================
//
// gau_attn_mat_softmax_{f32,bf16}: per row, P = exp(s - lse) times the dropout
// scale (0 or 1/(1-p), pipeline.Keep's mask for ((b·L+i)·L+j)), 0 where
// masked, stored as float32 or bfloat16. read_lse = 0 (forward): the row's
// log-sum-exp is computed (one pass with a running maximum, then the block
// combines) and written into out[b·L+i, E]; a row with no key in reach gets
// lse 0 and P 0, and a valid one raises err. read_lse = 1 (backward): the
// lse is read from out. In the float32 forward P may be S0 itself: every
// element is read (both passes) before the barrier that precedes its
// write, by the thread that writes it.
template <typename TP>
__device__ __forceinline__ void mat_softmax_impl(TP* P, float* out, i64* err, const float* S0, const float* S1,
                                                 const float* S2, const i64* mask, const float* bscale, i64 b0, i64 g,
                                                 i64 L, i64 E, i64 mask_mode, i64 radius, i64 sinks, i64 far_w,
                                                 double slope, u64 thr, double inv_keep, u64 key, u64 site,
                                                 i64 read_lse, i64 ow, i64 ld) {
	GAU_SMEM(float, red, 33);
	const AttnPolicy pol{mask_mode, radius, sinks, far_w};
	const i64 rows = g * L, OW = ow;
	const float invk = (float)inv_keep;
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const i64 bl = r / L, i = r - bl * L, b = b0 + bl;
		const i64 row = b * L + i, base = r * ld;
		const float bs = bscale[b];
		float lse;
		if (read_lse) {
			lse = out[row * OW + E];
		} else {
			float m = -GAU_INF, l = 0.0f;
			for (i64 j = threadIdx.x; j < L; j += blockDim.x) {
				const bool jv = mask == nullptr || mask[b * L + j] != 0;
				int kind;
				const float s = mat_logit(pol, S0, S1, S2, base + j, i, j, jv, bs, slope, kind);
				if (kind == K_MASKED) continue;
				if (s > m) {
					l = l * expf(m - s) + 1.0f;
					m = s;
				} else {
					l += expf(s - m);
				}
			}
			const float M = block_max(m, red);
			const float part = l == 0.0f ? 0.0f : l * expf(m - M);
			const float sum = block_sum(part, red);
			if (M == -GAU_INF) {
				lse = 0.0f;
				if (threadIdx.x == 0 && (mask == nullptr || mask[row] != 0)) gau_flag(err, row);
			} else {
				lse = M + (float)log((double)sum);
			}
			if (threadIdx.x == 0) out[row * OW + E] = lse;
		}
		for (i64 j = threadIdx.x; j < L; j += blockDim.x) {
			const bool jv = mask == nullptr || mask[b * L + j] != 0;
			int kind;
			const float s = mat_logit(pol, S0, S1, S2, base + j, i, j, jv, bs, slope, kind);
			float p = 0.0f;
			if (kind != K_MASKED) {
				p = expf(s - lse);
				if (thr != 0) {
					const u64 idx = ((u64)b * (u64)L + (u64)i) * (u64)L + (u64)j;
					p = gau_keep(key, site, idx, thr) ? p * invk : 0.0f;
				}
			}
			mat_store(P, base + j, p);
		}
	}
}

// gau_attn_mat_softmax_{f32,bf16} (P float32 or bfloat16): struct attn_mat_softmax_args.
#define ATTN_MAT_SOFTMAX_ARGS(F)                                                                                           \
	F(void*, P) F(float*, out) F(i64*, err) F(const float*, S0) F(const float*, S1) F(const float*, S2)                     \
	F(const i64*, mask) F(const float*, bscale) F(i64, b0) F(i64, g) F(i64, L) F(i64, E) F(i64, mask_mode) F(i64, radius)  \
	F(i64, sinks) F(i64, far_w) F(double, slope) F(u64, thr) F(double, inv_keep) F(u64, key) F(u64, site)                  \
	F(i64, read_lse) F(i64, ow) F(i64, ld)
GAU_ARGS(attn_mat_softmax_args, ATTN_MAT_SOFTMAX_ARGS)

#define ATT_MAT_SOFTMAX(NAME, TP)                                                                                          \
	GAU_KERNEL_OF(NAME, attn_mat_softmax_args, ATTN_MAT_SOFTMAX_ARGS, ATT_THREADS) {                                         \
		GAU_UNPACK(ATTN_MAT_SOFTMAX_ARGS)                                                                                  \
		mat_softmax_impl<TP>((TP*)P, out, err, S0, S1, S2, mask, bscale, b0, g, L, E, mask_mode, radius, sinks, far_w,      \
		                     slope, thr, inv_keep, key, site, read_lse, ow, ld);                                            \
	}                                                                                                                        \
	GAU_REGISTER(NAME)

ATT_MAT_SOFTMAX(gau_attn_mat_softmax_f32, float)
ATT_MAT_SOFTMAX(gau_attn_mat_softmax_bf16, bf16)

// ============================ dS ============================
//
// gau_attn_mat_ds_{f32,bf16}: per element of a row, with the forward's lse
// (out[b·L+i, E]) and δ_i: P = exp(s - lse) (as attn_mat_softmax
// computes it), dP = dPd·dropscale, dS = P ⊙ (dP - δ_i), 0 where masked,
// written to the dS of the pair's variant (dS0 near, dS1 behind, dS2 ahead)
// and 0 to the others; dS1 null: one variant (no far pairs). A dS_v may be
// S_v itself (float32): each element is read and then written by one
// thread.
template <typename TD>
__device__ __forceinline__ void mat_ds_impl(TD* dS0, TD* dS1, TD* dS2, const float* S0, const float* S1, const float* S2,
                                            const float* dP, const float* out, const float* delta, const i64* mask,
                                            const float* bscale, i64 b0, i64 g, i64 L, i64 E, i64 mask_mode, i64 radius,
                                            i64 sinks, i64 far_w, double slope, u64 thr, double inv_keep, u64 key,
                                            u64 site, i64 ow, i64 ld) {
	const AttnPolicy pol{mask_mode, radius, sinks, far_w};
	const i64 rows = g * L, OW = ow;
	const float invk = (float)inv_keep;
	const bool three = dS1 != nullptr;
	for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
		const i64 bl = r / L, i = r - bl * L, b = b0 + bl;
		const i64 row = b * L + i, base = r * ld;
		const float bs = bscale[b];
		const float lse = out[row * OW + E];
		const float di = delta[row];
		for (i64 j = threadIdx.x; j < L; j += blockDim.x) {
			const i64 e = base + j;
			const bool jv = mask == nullptr || mask[b * L + j] != 0;
			int kind;
			const float s = mat_logit(pol, S0, S1, S2, e, i, j, jv, bs, slope, kind);
			float ds = 0.0f;
			if (kind != K_MASKED) {
				float dp = dP[e];
				if (thr != 0) {
					const u64 idx = ((u64)b * (u64)L + (u64)i) * (u64)L + (u64)j;
					dp = gau_keep(key, site, idx, thr) ? dp * invk : 0.0f;
				}
				ds = expf(s - lse) * (dp - di);
			}
			if (!three) {
				mat_store(dS0, e, ds);
				continue;
			}
			mat_store(dS0, e, kind == K_NEAR ? ds : 0.0f);
			mat_store(dS1, e, kind == K_BEHIND ? ds : 0.0f);
			mat_store(dS2, e, kind == K_AHEAD ? ds : 0.0f);
		}
	}
}

// gau_attn_mat_ds_{f32,bf16} (dS float32 or bfloat16): struct attn_mat_ds_args.
#define ATTN_MAT_DS_ARGS(F)                                                                                                \
	F(void*, dS0) F(void*, dS1) F(void*, dS2) F(const float*, S0) F(const float*, S1) F(const float*, S2)                  \
	F(const float*, dP) F(const float*, out) F(const float*, delta) F(const i64*, mask) F(const float*, bscale) F(i64, b0)  \
	F(i64, g) F(i64, L) F(i64, E) F(i64, mask_mode) F(i64, radius) F(i64, sinks) F(i64, far_w) F(double, slope)            \
	F(u64, thr) F(double, inv_keep) F(u64, key) F(u64, site) F(i64, ow) F(i64, ld)
GAU_ARGS(attn_mat_ds_args, ATTN_MAT_DS_ARGS)

#define ATT_MAT_DS(NAME, TD)                                                                                               \
	GAU_KERNEL_OF(NAME, attn_mat_ds_args, ATTN_MAT_DS_ARGS, ATT_THREADS) {                                                   \
		GAU_UNPACK(ATTN_MAT_DS_ARGS)                                                                                       \
		mat_ds_impl<TD>((TD*)dS0, (TD*)dS1, (TD*)dS2, S0, S1, S2, dP, out, delta, mask, bscale, b0, g, L, E, mask_mode,     \
		                radius, sinks, far_w, slope, thr, inv_keep, key, site, ow, ld);                                        \
	}                                                                                                                        \
	GAU_REGISTER(NAME)

ATT_MAT_DS(gau_attn_mat_ds_f32, float)
ATT_MAT_DS(gau_attn_mat_ds_bf16, bf16)
