// attention_tc.cu: the bfloat16 attention forward on tensor cores
// (attn_fwd_tc_bf16_d*). The shared definitions and the list of kernels are
// in attention.cuh; its inputs come from attn_prep_bf16 (attention_fwd.cu).
#include "attention.cuh"

// ======================= forward on tensor cores =======================
//
// attn_fwd_tc_bf16_dD: the forward with bfloat16 inputs on tensor cores
// (mma.sync m16n8k16, float32 accumulation), for the policies without a far
// rotation and without dropout (the host checks: far_w = 0, thr = 0, D one
// of 16, 32, 64, 128). q̃ and k̃ come from attn_prep_bf16 (float32, rounded
// to bfloat16 here), V from the bfloat16 X; P is rounded to bfloat16 for
// P·V, the row sums l take it unrounded (as FlashAttention does).
//
// Grid (ceil(L/64), ceil(E/128), B), 128 threads (4 warps). Warp w owns the
// 16 query rows i0 + 16w .. +15 of the block's 64 and the block's 128 E
// columns: its q fragments stay in registers for the whole kernel, its
// logits S [16][64] per key tile and its O [16][128] in mma accumulators
// (lane: rows g and g+8, g = lane/4; see mma_bf16_16816). Per key tile of
// 64 the block stages K [64][D] and Vᵀ [128][64] (bfloat16, rows padded by
// 8 so that the 32-bit fragment loads of a warp hit distinct banks), then
// each warp: S = Q·Kᵀ (D/16 × 8 mma), mask and bias, online softmax over
// the row (the 4 lanes sharing a row combine with shuffles), O ← O·corr,
// O += P·V (4 × 16 mma, P taken straight from the S accumulators). The
// column blocks recompute the logits (E/128 of them).
//
// Dynamic shared memory (bytes): 2·(64·(D+8) + 128·72) + 4·64.

#define TC_BQ 64
#define TC_BK 64
#define TC_EC 128
#define TC_THREADS 128

__host__ __device__ constexpr i64 attn_fwd_tc_smem_bytes(i64 D) {
	return 2 * (TC_BK * (D + 8) + TC_EC * (TC_BK + 8)) + 4 * TC_BK;
}

template <int D>
__device__ __forceinline__ void attn_fwd_tc_impl(float* out, i64* err, const bf16* X, const float* qr, const float* kr,
                                                 const i64* mask, const float* bscale, i64 L, i64 E, i64 mask_mode,
                                                 i64 radius, i64 sinks, double slope) {
	GAU_DYN_SMEM(bf16, sm);
	bf16* Ks = sm;                           // [TC_BK][D+8]
	bf16* Vt = Ks + TC_BK * (D + 8);         // [TC_EC][TC_BK+8]
	int* kval = reinterpret_cast<int*>(Vt + TC_EC * (TC_BK + 8));  // [TC_BK]
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int g = lane >> 2, t = lane & 3;
	const i64 b = blockIdx.z;
	const i64 i0 = (i64)blockIdx.x * TC_BQ;
	const i64 i1 = imin64(i0 + TC_BQ, L);
	const i64 e0 = (i64)blockIdx.y * TC_EC;
	const i64 W = 2 * E + D, OW = E + 1;
	const AttnPolicy pol{mask_mode, radius, sinks, 0};
	const float bs = bscale[b];
	const i64 row[2] = {i0 + 16 * warp + g, i0 + 16 * warp + g + 8};

	// q fragments (rows beyond L are zero).
	unsigned qa[D / 16][4];
#pragma unroll
	for (int ks = 0; ks < D / 16; ks++) {
#pragma unroll
		for (int r = 0; r < 4; r++) {
			const i64 i = row[r & 1];
			const int d = 16 * ks + 2 * t + 8 * (r >> 1);
			qa[ks][r] = i < L ? pack_bf16(qr[(b * L + i) * D + d], qr[(b * L + i) * D + d + 1]) : 0u;
		}
	}
	float o[TC_EC / 8][4];
#pragma unroll
	for (int n = 0; n < TC_EC / 8; n++)
#pragma unroll
		for (int e = 0; e < 4; e++) o[n][e] = 0.0f;
	float m_r[2] = {-GAU_INF, -GAU_INF}, l_r[2] = {0.0f, 0.0f};

	for (i64 j0 = 0; j0 < L; j0 += TC_BK) {
		const i64 j1 = imin64(j0 + TC_BK, L);
		const int cls = tile_class(pol, i0, i1, j0, j1);
		if (cls == C_SKIP) continue;  // uniform over the block
		__syncthreads();  // the previous tile's readers of Ks, Vt, kval are done
		for (int idx = tid; idx < TC_BK * D; idx += TC_THREADS) {
			const int c = idx / D, d = idx - c * D;
			const i64 j = j0 + c;
			Ks[c * (D + 8) + d] = j < L ? tobf16(kr[(b * L + j) * D + d]) : (bf16)0;
		}
		for (int idx = tid; idx < TC_BK * TC_EC; idx += TC_THREADS) {
			const int c = idx / TC_EC, col = idx - c * TC_EC;
			const i64 j = j0 + c;
			Vt[col * (TC_BK + 8) + c] = (j < L && e0 + col < E) ? X[(b * L + j) * W + E + e0 + col] : (bf16)0;
		}
		if (tid < TC_BK) {
			const i64 j = j0 + tid;
			kval[tid] = j < L && (mask == nullptr || mask[b * L + j] != 0);
		}
		__syncthreads();

		// S = Q·Kᵀ: n-tile n holds keys j0 + 8n .. +7.
		float s[TC_BK / 8][4];
#pragma unroll
		for (int n = 0; n < TC_BK / 8; n++) {
#pragma unroll
			for (int e = 0; e < 4; e++) s[n][e] = 0.0f;
			const bf16* krow = Ks + (8 * n + g) * (D + 8) + 2 * t;
#pragma unroll
			for (int ks = 0; ks < D / 16; ks++) {
				const unsigned kb[2] = {*reinterpret_cast<const unsigned*>(krow + 16 * ks),
				                        *reinterpret_cast<const unsigned*>(krow + 16 * ks + 8)};
				mma_bf16_16816(s[n], qa[ks], kb, s[n]);
			}
		}
		// Mask and bias; the row maxima over the tile.
		float mx[2] = {-GAU_INF, -GAU_INF};
#pragma unroll
		for (int n = 0; n < TC_BK / 8; n++) {
#pragma unroll
			for (int e = 0; e < 4; e++) {
				const int c = 8 * n + 2 * t + (e & 1);
				const i64 i = row[e >> 1], j = j0 + c;
				const int kind = elem_kind(pol, cls, i, j, L, kval[c] != 0);
				if (kind == K_MASKED) {
					s[n][e] = -GAU_INF;
				} else if (slope != 0) {
					s[n][e] += bs * (float)(-slope * (double)iabs64(i - j));
				}
				mx[e >> 1] = fmaxf(mx[e >> 1], s[n][e]);
			}
		}
		float corr[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
		for (int h = 0; h < 2; h++) {
			mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
			mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
			corr[h] = 1.0f;
			if (mx[h] != -GAU_INF) {  // uniform over the row's 4 lanes
				const float mnew = fmaxf(m_r[h], mx[h]);
				corr[h] = expf(m_r[h] - mnew);
				m_r[h] = mnew;
			}
		}
		// P = exp(S - m) (0 where masked or the row has no key yet).
#pragma unroll
		for (int n = 0; n < TC_BK / 8; n++) {
#pragma unroll
			for (int e = 0; e < 4; e++) {
				const int h = e >> 1;
				const float p = (mx[h] == -GAU_INF || s[n][e] == -GAU_INF) ? 0.0f : expf(s[n][e] - m_r[h]);
				s[n][e] = p;
				sum[h] += p;
			}
		}
#pragma unroll
		for (int h = 0; h < 2; h++) {
			sum[h] += __shfl_xor_sync(0xffffffffu, sum[h], 1);
			sum[h] += __shfl_xor_sync(0xffffffffu, sum[h], 2);
			l_r[h] = l_r[h] * corr[h] + sum[h];
		}
#pragma unroll
		for (int n = 0; n < TC_EC / 8; n++) {
			o[n][0] *= corr[0];
			o[n][1] *= corr[0];
			o[n][2] *= corr[1];
			o[n][3] *= corr[1];
		}
		// O += P·V: k-step kk covers keys 16kk .. +15, i.e. the S n-tiles 2kk
		// and 2kk+1, whose accumulators are P's A fragment.
#pragma unroll
		for (int kk = 0; kk < TC_BK / 16; kk++) {
			const unsigned pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
			                        pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
			                        pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
			for (int n = 0; n < TC_EC / 8; n++) {
				const bf16* vrow = Vt + (8 * n + g) * (TC_BK + 8) + 16 * kk + 2 * t;
				const unsigned vb[2] = {*reinterpret_cast<const unsigned*>(vrow),
				                        *reinterpret_cast<const unsigned*>(vrow + 8)};
				mma_bf16_16816(o[n], pa, vb, o[n]);
			}
		}
	}

	// The log-sum-exp and the empty-row rule (as attn_fwd_impl of
	// attention_fwd.cu), then O/l.
#pragma unroll
	for (int h = 0; h < 2; h++) {
		const i64 i = row[h];
		if (i >= L) continue;
		const i64 r = b * L + i;
		const float l = l_r[h];
		if (t == 0 && blockIdx.y == 0) {
			if (l == 0.0f) {
				out[r * OW + E] = 0.0f;
				if (mask == nullptr || mask[r] != 0) gau_flag(err, r);
			} else {
				out[r * OW + E] = m_r[h] + (float)log((double)l);
			}
		}
		const float inv = l == 0.0f ? 0.0f : 1.0f / l;
#pragma unroll
		for (int n = 0; n < TC_EC / 8; n++) {
#pragma unroll
			for (int e = 0; e < 2; e++) {
				const i64 col = e0 + 8 * n + 2 * t + e;
				if (col < E) out[r * OW + col] = o[n][2 * h + e] * inv;
			}
		}
	}
}

#define ATT_FWD_TC(NAME, DD)                                                                                               \
	extern "C" __global__ void __launch_bounds__(TC_THREADS)                                                                 \
	NAME(float* out, i64* err, const bf16* X, const float* qr, const float* kr, const i64* mask, const float* bscale,        \
	     i64 L, i64 E, i64 mask_mode, i64 radius, i64 sinks, double slope) {                                                 \
		attn_fwd_tc_impl<DD>(out, err, X, qr, kr, mask, bscale, L, E, mask_mode, radius, sinks, slope);                     \
	}                                                                                                                        \
	GAU_REGISTER(NAME)

ATT_FWD_TC(attn_fwd_tc_bf16_d16, 16)
ATT_FWD_TC(attn_fwd_tc_bf16_d32, 32)
ATT_FWD_TC(attn_fwd_tc_bf16_d64, 64)
ATT_FWD_TC(attn_fwd_tc_bf16_d128, 128)
