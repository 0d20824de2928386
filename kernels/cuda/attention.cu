// attention.cu: the fused GAU attention of kernels/cpu/attention.go, forward
// and backward, float32 (the forward also with a bfloat16 X).
//
// Inputs of one layer: X [B·L, W = 2E+D] = [u | v | z], γq, γk [D], the key
// mask [B·L] (int64, nonzero = valid key; null = all valid), position ids
// [B·L] (int64; null = 0..L-1), the policy as scalars (see ABI.md), and from
// the host per sequence sc_b = c(n_b)·m/sqrt(D) and bscale_b = c(n_b)/sqrt(D).
//
// Kernels, in launch order:
//   attn_prep_*      q, k after ScaleOffset, CosScale and the rotation(s)
//                    into a workspace (qr = sc·R(pos)q̃, kr = R(pos)k̃, and for
//                    ReRoPE / LM-Infinite also qc = sc·R(w-1)q̃, q0 = sc·R(0)q̃,
//                    kc = R(w-1)k̃, k0 = R(0)k̃), one warp per row.
//   attn_fwd_*_cN    online softmax and A·V; writes O and the row
//                    log-sum-exp into out [B·L, E+1]. Never stores L×L.
//   attn_bwd_delta   δ_i = dO_i·O_i.
//   attn_bwd_main    per key tile: recompute P from the saved lse, dV, dP
//                    (over E), dS, dq̃ (atomicAdd) and dk̃ per rotation variant.
//   attn_bwd_post    back through the rotation, CosScale and ScaleOffset into
//                    dz and the packed dγq, dγk rows of dx.
//
// Pair classes follow attn.Policy: mask_mode 0 none, 1 StreamingLLM/LM-Infinite
// (keep |i-j| <= radius or i < sinks or j < sinks), 2 windowed (keep
// |i-j| <= radius); far_w > 0 (ReRoPE's w, LM-Infinite's n0) makes kept pairs
// with |i-j| >= far_w use the clamped rotation with the sign of j-i kept;
// slope != 0 adds ALiBi's -slope·|i-j| (times bscale_b).
#include "common.cuh"

#define ATT_THREADS 256
#define ATT_WARPS 8
#define ATT_MAXD 256  // largest key size D (even); the host checks
#define ATT_MAXP (ATT_MAXD / 64)  // rotation pairs per lane

// Forward tiles: 16 query rows per block, key tiles of 32 (one key per lane).
#define FWD_BQ 16
#define FWD_BK 32
// Backward tiles: key tiles of 32 per block, query tiles of 32, E chunks of 64.
#define BWD_BQ 32
#define BWD_BK 32
#define BWD_EC 64

// Element kinds (also the variant index + 1 of the rotated vectors used).
enum { K_MASKED = 0, K_NEAR = 1, K_BEHIND = 2, K_AHEAD = 3 };
// Tile classes (attn.BlockClass); NEAR/BEHIND/AHEAD equal the element kinds.
enum { C_SKIP = 0, C_NEAR = 1, C_BEHIND = 2, C_AHEAD = 3, C_MIXED = 4 };

struct AttnPolicy {
	i64 mask_mode, radius, sinks, far_w;
};

// tile_class is attn.Policy.Classify for queries [i0, i1) and keys [j0, j1).
__device__ __forceinline__ int tile_class(const AttnPolicy& p, i64 i0, i64 i1, i64 j0, i64 j1) {
	const i64 maxDist = imax64(iabs64(i1 - 1 - j0), iabs64(j1 - 1 - i0));
	i64 minDist = 0;
	if (j0 >= i1) {
		minDist = j0 - (i1 - 1);
	} else if (i0 >= j1) {
		minDist = i0 - (j1 - 1);
	}
	if (p.mask_mode != 0) {
		const bool sink = p.mask_mode == 1 && (i0 < p.sinks || j0 < p.sinks);
		if (minDist > p.radius && !sink) return C_SKIP;
		if (maxDist > p.radius) return C_MIXED;
	}
	if (p.far_w > 0) {
		if (maxDist < p.far_w) return C_NEAR;
		if (minDist >= p.far_w && j1 <= i0) return C_BEHIND;
		if (minDist >= p.far_w && j0 >= i1) return C_AHEAD;
		return C_MIXED;
	}
	return C_NEAR;
}

// pair_kind is attn.Policy.Keep and Far for one pair (before padding).
__device__ __forceinline__ int pair_kind(const AttnPolicy& p, i64 i, i64 j) {
	const i64 d = iabs64(i - j);
	if (p.mask_mode != 0 && d > p.radius && !(p.mask_mode == 1 && (i < p.sinks || j < p.sinks))) return K_MASKED;
	if (p.far_w > 0 && d >= p.far_w) return j < i ? K_BEHIND : K_AHEAD;
	return K_NEAR;
}

// elem_kind: the kind of pair (i, j) of a tile of class cls, with padding
// (jvalid) and the sequence end applied.
__device__ __forceinline__ int elem_kind(const AttnPolicy& p, int cls, i64 i, i64 j, i64 L, bool jvalid) {
	if (i >= L || !jvalid) return K_MASKED;
	return cls == C_MIXED ? pair_kind(p, i, j) : cls;
}

// ============================ prep ============================

// attn_prep: one warp per row r of the B·L rows. Writes qr, kr [B·L, D]
// and, when far_w > 0, qc, q0, kc, k0. theta null: no rotation (ALiBi; the
// vectors keep the interleaved layout, as the CPU does). alpha > 0 turns
// CosScale on with q's multiplier alpha = s·sqrt(D).
template <typename TIn>
__device__ __forceinline__ void attn_prep_impl(float* qr, float* kr, float* qc, float* q0, float* kc, float* k0, const TIn* X,
                                               const float* gq, const float* gk, const i64* pos, const double* theta,
                                               const float* sc, i64 rows, i64 L, i64 E, i64 D, i64 far_w, double alpha) {
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const i64 W = 2 * E + D, half = D / 2;
	for (i64 r = (i64)blockIdx.x * ATT_WARPS + warp; r < rows; r += (i64)gridDim.x * ATT_WARPS) {
		const i64 b = r / L;
		const TIn* z = X + r * W + 2 * E;
		float xe[ATT_MAXP], xo[ATT_MAXP], ye[ATT_MAXP], yo[ATT_MAXP];
		double nq = 0, nk = 0;
#pragma unroll
		for (int m = 0; m < ATT_MAXP; m++) {
			const i64 i = lane + 32 * m;
			xe[m] = xo[m] = ye[m] = yo[m] = 0.0f;
			if (i < half) {
				const float z0 = ldf(z + 2 * i), z1 = ldf(z + 2 * i + 1);
				xe[m] = z0 * gq[2 * i];
				xo[m] = z1 * gq[2 * i + 1];
				ye[m] = z0 * gk[2 * i];
				yo[m] = z1 * gk[2 * i + 1];
				nq += (double)xe[m] * xe[m] + (double)xo[m] * xo[m];
				nk += (double)ye[m] * ye[m] + (double)yo[m] * yo[m];
			}
		}
		if (alpha > 0) {  // CosScale: q ← α q/(|q|+1e-9), k ← k/(|k|+1e-9)
			nq = warp_sum_d(nq);
			nk = warp_sum_d(nk);
			const float fq = (float)alpha / ((float)sqrt(nq) + 1e-9f);
			const float fk = 1.0f / ((float)sqrt(nk) + 1e-9f);
#pragma unroll
			for (int m = 0; m < ATT_MAXP; m++) {
				xe[m] *= fq;
				xo[m] *= fq;
				ye[m] *= fk;
				yo[m] *= fk;
			}
		}
		const float s = sc[b];
		const i64 p = pos ? pos[r] : r % L;
		float* qrr = qr + r * D;
		float* krr = kr + r * D;
#pragma unroll
		for (int m = 0; m < ATT_MAXP; m++) {
			const i64 i = lane + 32 * m;
			if (i >= half) continue;
			if (!theta) {
				qrr[2 * i] = s * xe[m];
				qrr[2 * i + 1] = s * xo[m];
				krr[2 * i] = ye[m];
				krr[2 * i + 1] = yo[m];
				continue;
			}
			double sd, cd;
			sincos((double)p * theta[i], &sd, &cd);
			const float c = (float)cd, sn = (float)sd;
			qrr[i] = s * (xe[m] * c - xo[m] * sn);
			qrr[half + i] = s * (xe[m] * sn + xo[m] * c);
			krr[i] = ye[m] * c - yo[m] * sn;
			krr[half + i] = ye[m] * sn + yo[m] * c;
			if (far_w > 0) {
				sincos((double)(far_w - 1) * theta[i], &sd, &cd);
				const float cc = (float)cd, sc2 = (float)sd;
				qc[r * D + i] = s * (xe[m] * cc - xo[m] * sc2);
				qc[r * D + half + i] = s * (xe[m] * sc2 + xo[m] * cc);
				kc[r * D + i] = ye[m] * cc - yo[m] * sc2;
				kc[r * D + half + i] = ye[m] * sc2 + yo[m] * cc;
				q0[r * D + i] = s * xe[m];
				q0[r * D + half + i] = s * xo[m];
				k0[r * D + i] = ye[m];
				k0[r * D + half + i] = yo[m];
			}
		}
	}
}

extern "C" __global__ void __launch_bounds__(ATT_THREADS)
attn_prep_f32(float* qr, float* kr, float* qc, float* q0, float* kc, float* k0, const float* X, const float* gq, const float* gk,
              const i64* pos, const double* theta, const float* sc, i64 rows, i64 L, i64 E, i64 D, i64 far_w, double alpha) {
	attn_prep_impl(qr, kr, qc, q0, kc, k0, X, gq, gk, pos, theta, sc, rows, L, E, D, far_w, alpha);
}
GAU_REGISTER(attn_prep_f32)

extern "C" __global__ void __launch_bounds__(ATT_THREADS)
attn_prep_bf16(float* qr, float* kr, float* qc, float* q0, float* kc, float* k0, const bf16* X, const float* gq, const float* gk,
               const i64* pos, const double* theta, const float* sc, i64 rows, i64 L, i64 E, i64 D, i64 far_w, double alpha) {
	attn_prep_impl(qr, kr, qc, q0, kc, k0, X, gq, gk, pos, theta, sc, rows, L, E, D, far_w, alpha);
}
GAU_REGISTER(attn_prep_bf16)

// ============================ forward ============================
//
// Grid (ceil(L/16), ceil(E/(256·CPT)), B), 256 threads. A block owns 16
// query rows of sequence b and the E columns [e0, e0 + 256·CPT): thread t
// accumulates O for all 16 rows in columns e0 + t + 256·c, c < CPT (16·CPT
// registers). For each key tile of 32 keys, warp w computes the logits of
// rows w and w+8 (lane = key) from q, k in shared memory, runs the online
// softmax with warp shuffles and writes P [16][32] to shared memory; then
// every thread adds P·V for its columns, V read straight from global memory
// (coalesced: a warp reads 32 consecutive floats). Blocks of other column
// ranges recompute the same logits; CPT = 6 covers E = 1536 with one block.
//
// Dynamic shared memory (floats): P [16·32], corr, m, l [3·16],
// Q [nv][16][D] (nv = 3 with far_w, else 1), K [32][D+1] (padded: lane j
// reads row j without bank conflicts).

__host__ __device__ constexpr i64 attn_fwd_smem_floats(i64 D, int nv) {
	return FWD_BQ * FWD_BK + 3 * FWD_BQ + (i64)nv * FWD_BQ * D + FWD_BK * (D + 1);
}

template <typename TIn, int CPT>
__device__ __forceinline__ void attn_fwd_impl(float* out, i64* err, const TIn* X, const float* qr, const float* kr,
                                              const float* qc, const float* q0, const float* kc, const float* k0,
                                              const i64* mask, const float* bscale, i64 L, i64 E, i64 D, i64 mask_mode,
                                              i64 radius, i64 sinks, i64 far_w, double slope, u64 thr, double inv_keep,
                                              u64 key, u64 site) {
	GAU_DYN_SMEM(float, sm);
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const i64 b = blockIdx.z;
	const i64 i0 = (i64)blockIdx.x * FWD_BQ;
	const i64 i1 = imin64(i0 + FWD_BQ, L);
	const i64 e0 = (i64)blockIdx.y * (ATT_THREADS * CPT);
	const i64 W = 2 * E + D, OW = E + 1;
	const bool far = far_w > 0;
	const int nv = far ? 3 : 1;
	const AttnPolicy pol{mask_mode, radius, sinks, far_w};
	const float bs = bscale[b];
	const float invk = (float)inv_keep;
	const int Di = (int)D;

	float* Ps = sm;                      // [FWD_BQ][FWD_BK]
	float* corr_s = Ps + FWD_BQ * FWD_BK;  // [FWD_BQ]
	float* m_s = corr_s + FWD_BQ;        // [FWD_BQ]
	float* l_s = m_s + FWD_BQ;           // [FWD_BQ]
	float* Qs = l_s + FWD_BQ;            // [nv][FWD_BQ][D]
	float* Ks = Qs + nv * FWD_BQ * D;    // [FWD_BK][D+1]

	// Query tiles of every variant: near (qr), behind (qc), ahead (q0).
	for (int v = 0; v < nv; v++) {
		const float* qv = v == 0 ? qr : (v == 1 ? qc : q0);
		for (i64 idx = tid; idx < FWD_BQ * D; idx += ATT_THREADS) {
			const i64 r = idx / D, d = idx - r * D;
			const i64 i = i0 + r;
			Qs[v * FWD_BQ * D + idx] = i < L ? qv[(b * L + i) * D + d] : 0.0f;
		}
	}
	// (the first key pass's barrier publishes Qs)

	float acc[FWD_BQ][CPT];
#pragma unroll
	for (int r = 0; r < FWD_BQ; r++)
#pragma unroll
		for (int c = 0; c < CPT; c++) acc[r][c] = 0.0f;
	const int rr[2] = {warp, warp + ATT_WARPS};
	float m_r[2] = {-GAU_INF, -GAU_INF}, l_r[2] = {0.0f, 0.0f};

	for (i64 j0 = 0; j0 < L; j0 += FWD_BK) {
		const i64 j1 = imin64(j0 + FWD_BK, L);
		const int cls = tile_class(pol, i0, i1, j0, j1);
		if (cls == C_SKIP) continue;  // uniform over the block
		const i64 j = j0 + lane;
		const bool jvalid = j < L && (mask == nullptr || mask[b * L + j] != 0);
		int kind[2];
#pragma unroll
		for (int t = 0; t < 2; t++) kind[t] = elem_kind(pol, cls, i0 + rr[t], j, L, jvalid);
		float s[2] = {-GAU_INF, -GAU_INF};

		// One pass per rotation variant present in the tile.
		for (int v = 0; v < nv; v++) {
			const int want = v + 1;
			int need;
			if (cls == C_MIXED) {
				need = __syncthreads_or(kind[0] == want || kind[1] == want);
			} else {
				need = cls == want;
			}
			if (!need) continue;  // uniform
			const float* kv = v == 0 ? kr : (v == 1 ? k0 : kc);
			__syncthreads();  // earlier readers of Ks are done
			for (i64 idx = tid; idx < FWD_BK * D; idx += ATT_THREADS) {
				const i64 c = idx / D, d = idx - c * D;
				const i64 jj = j0 + c;
				Ks[c * (D + 1) + d] = jj < L ? kv[(b * L + jj) * D + d] : 0.0f;
			}
			__syncthreads();
			if (kind[0] == want || kind[1] == want) {
				const float* q0row = Qs + (v * FWD_BQ + rr[0]) * D;
				const float* q1row = Qs + (v * FWD_BQ + rr[1]) * D;
				const float* krow = Ks + lane * (D + 1);
				float a0 = 0.0f, a1 = 0.0f;
				for (int d = 0; d < Di; d++) {
					const float kk = krow[d];
					a0 += q0row[d] * kk;
					a1 += q1row[d] * kk;
				}
				if (kind[0] == want) s[0] = a0;
				if (kind[1] == want) s[1] = a1;
			}
		}

		// Bias, mask, online softmax (warp w owns rows w and w+8).
		bool live = false;
#pragma unroll
		for (int t = 0; t < 2; t++) {
			const i64 i = i0 + rr[t];
			if (kind[t] == K_MASKED) {
				s[t] = -GAU_INF;
			} else if (slope != 0) {
				s[t] += bs * (float)(-slope * (double)iabs64(i - j));
			}
			const float mx = warp_max(s[t]);
			float p = 0.0f, corr = 1.0f;
			if (mx != -GAU_INF) {  // uniform over the warp
				const float mnew = fmaxf(m_r[t], mx);
				corr = expf(m_r[t] - mnew);
				p = expf(s[t] - mnew);
				const float sum = warp_sum(p);
				if (thr != 0 && p != 0.0f) {
					const u64 idx = ((u64)b * (u64)L + (u64)i) * (u64)L + (u64)j;
					p = gau_keep(key, site, idx, thr) ? p * invk : 0.0f;
				}
				l_r[t] = l_r[t] * corr + sum;
				m_r[t] = mnew;
				live = true;
			}
			Ps[rr[t] * FWD_BK + lane] = p;
			if (lane == 0) corr_s[rr[t]] = corr;
		}
		// The barrier publishes P and corr.
		if (__syncthreads_or(live)) {
#pragma unroll
			for (int r = 0; r < FWD_BQ; r++) {
				const float c = corr_s[r];
#pragma unroll
				for (int c2 = 0; c2 < CPT; c2++) acc[r][c2] *= c;
			}
			for (int kk = 0; kk < FWD_BK; kk += 4) {
				float vv[4][CPT];
#pragma unroll
				for (int u = 0; u < 4; u++) {
					const i64 jj = j0 + kk + u;
#pragma unroll
					for (int c = 0; c < CPT; c++) {
						const i64 col = e0 + tid + (i64)c * ATT_THREADS;
						vv[u][c] = (jj < L && col < E) ? ldf(X + (b * L + jj) * W + E + col) : 0.0f;
					}
				}
#pragma unroll
				for (int r = 0; r < FWD_BQ; r++) {
					const float4 p4 = *reinterpret_cast<const float4*>(Ps + r * FWD_BK + kk);
#pragma unroll
					for (int c = 0; c < CPT; c++)
						acc[r][c] += p4.x * vv[0][c] + p4.y * vv[1][c] + p4.z * vv[2][c] + p4.w * vv[3][c];
				}
			}
		}
		__syncthreads();  // P, corr and Ks are rewritten by the next tile
	}

	if (lane == 0) {
#pragma unroll
		for (int t = 0; t < 2; t++) {
			m_s[rr[t]] = m_r[t];
			l_s[rr[t]] = l_r[t];
		}
	}
	__syncthreads();
	// Row log-sum-exp and the empty-row rule: thread r < 16 of the first
	// column block handles row r. No key in reach: a padding row is defined
	// as zero; a valid row is an error (attn.ErrEmptyRow).
	if (tid < FWD_BQ && blockIdx.y == 0 && i0 + tid < L) {
		const i64 row = b * L + i0 + tid;
		const float l = l_s[tid];
		if (l == 0.0f) {
			out[row * OW + E] = 0.0f;
			if (mask == nullptr || mask[row] != 0) gau_flag(err, row);
		} else {
			out[row * OW + E] = m_s[tid] + (float)log((double)l);
		}
	}
#pragma unroll
	for (int r = 0; r < FWD_BQ; r++) {
		const i64 i = i0 + r;
		if (i >= L) continue;
		const float l = l_s[r];
		const float inv = l == 0.0f ? 0.0f : 1.0f / l;
		float* o = out + (b * L + i) * OW;
#pragma unroll
		for (int c = 0; c < CPT; c++) {
			const i64 col = e0 + tid + (i64)c * ATT_THREADS;
			if (col < E) o[col] = l == 0.0f ? 0.0f : acc[r][c] * inv;
		}
	}
}

#define ATT_FWD(NAME, TIN, CPT)                                                                                            \
	extern "C" __global__ void __launch_bounds__(ATT_THREADS)                                                                \
	NAME(float* out, i64* err, const TIN* X, const float* qr, const float* kr, const float* qc, const float* q0,              \
	     const float* kc, const float* k0, const i64* mask, const float* bscale, i64 L, i64 E, i64 D, i64 mask_mode,          \
	     i64 radius, i64 sinks, i64 far_w, double slope, u64 thr, double inv_keep, u64 key, u64 site) {                       \
		attn_fwd_impl<TIN, CPT>(out, err, X, qr, kr, qc, q0, kc, k0, mask, bscale, L, E, D, mask_mode, radius, sinks, far_w, \
		                        slope, thr, inv_keep, key, site);                                                              \
	}                                                                                                                        \
	GAU_REGISTER(NAME)

ATT_FWD(attn_fwd_f32_c1, float, 1)
ATT_FWD(attn_fwd_f32_c2, float, 2)
ATT_FWD(attn_fwd_f32_c3, float, 3)
ATT_FWD(attn_fwd_f32_c6, float, 6)
ATT_FWD(attn_fwd_bf16_c1, bf16, 1)
ATT_FWD(attn_fwd_bf16_c2, bf16, 2)
ATT_FWD(attn_fwd_bf16_c3, bf16, 3)
ATT_FWD(attn_fwd_bf16_c6, bf16, 6)

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

	// The log-sum-exp and the empty-row rule (as attn_fwd_impl), then O/l.
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

// ============================ backward ============================

// attn_bwd_delta: delta[r] = Σ_{c<E} dout[r, c]·out[r, c] (row width E+1),
// one warp per row.
extern "C" __global__ void __launch_bounds__(ATT_THREADS)
attn_bwd_delta(float* delta, const float* out, const float* dout, i64 rows, i64 E) {
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const i64 OW = E + 1;
	for (i64 r = (i64)blockIdx.x * ATT_WARPS + warp; r < rows; r += (i64)gridDim.x * ATT_WARPS) {
		float s = 0.0f;
		for (i64 c = lane; c < E; c += 32) s += dout[r * OW + c] * out[r * OW + c];
		s = warp_sum(s);
		if (lane == 0) delta[r] = s;
	}
}
GAU_REGISTER(attn_bwd_delta)

// attn_bwd_main: grid (ceil(L/32), B), 256 threads. A block owns the 32 keys
// [j0, j0+32) of sequence b (so it owns their dV and dk̃ rows: plain
// read-modify-write, no atomics) and loops over all query tiles of 32:
//
//  1. logits of the tile, one pass per rotation variant present (thread:
//     key = lane, rows warp + 8n, n < 4), P = exp(s - lse), Pd = P·drop;
//  2. over E in chunks of 64 staged in shared memory (dO both row-major and
//     transposed, V transposed): dP = dO·Vᵀ by 4 groups of 64 threads, each
//     a 4×4 register tile over a quarter of the chunk (float4 loads), and
//     dV += Pdᵀ·dO (thread: 2 keys × 4 columns) straight into dx;
//  3. the 4 partial dP summed through shared memory; dS = P⊙(dP·drop - δ);
//  4. per variant: dq̃ += dS·k̃ (atomicAdd: other blocks add to the same
//     rows) and dk̃ += dSᵀ·q̃.
//
// Dynamic shared memory (floats): chunk region max(dO [32][68] + dOᵀ [64][36]
// + Vᵀ [64][36], the dP partials [4][32][32]) = 6784, Pd [32][32], dS [32][32],
// lse [32], δ [32], Q [32][D+1], K [32][D+1].

#define BWD_CH_FLOATS (BWD_BQ * (BWD_EC + 4) + BWD_EC * (BWD_BQ + 4) + BWD_EC * (BWD_BK + 4))

__host__ __device__ constexpr i64 attn_bwd_smem_floats(i64 D) {
	return BWD_CH_FLOATS + 2 * BWD_BQ * BWD_BK + 2 * BWD_BQ + (BWD_BQ + BWD_BK) * (D + 1);
}

extern "C" __global__ void __launch_bounds__(ATT_THREADS)
attn_bwd_main(float* dqr, float* dkr, float* dqc, float* dq0, float* dkc, float* dk0, float* dx, const float* out,
              const float* dout, const float* delta, const float* X, const float* qr, const float* kr, const float* qc,
              const float* q0, const float* kc, const float* k0, const i64* mask, const float* bscale, i64 L, i64 E, i64 D,
              i64 mask_mode, i64 radius, i64 sinks, i64 far_w, double slope, u64 thr, double inv_keep, u64 key, u64 site) {
	static_assert(4 * BWD_BQ * BWD_BK <= BWD_CH_FLOATS, "dP partials must fit the chunk region");
	static_assert(BWD_BQ == BWD_BK, "the Q and K tiles are loaded by one loop");
	GAU_DYN_SMEM(float, sm);
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const i64 b = blockIdx.y;
	const i64 j0 = (i64)blockIdx.x * BWD_BK;
	const i64 j1 = imin64(j0 + BWD_BK, L);
	const i64 W = 2 * E + D, OW = E + 1;
	const bool far = far_w > 0;
	const int nv = far ? 3 : 1;
	const AttnPolicy pol{mask_mode, radius, sinks, far_w};
	const float bs = bscale[b];
	const float invk = (float)inv_keep;
	const int Di = (int)D;

	float* CH = sm;                                  // chunk region
	float* dOs = CH;                                 // [BQ][EC+4]
	float* dOt = dOs + BWD_BQ * (BWD_EC + 4);        // [EC][BQ+4]
	float* Vt = dOt + BWD_EC * (BWD_BQ + 4);         // [EC][BK+4]
	float* red = CH;                                 // [4][BQ][BK], after the E loop
	float* Pd = CH + BWD_CH_FLOATS;                  // [BQ][BK]
	float* dSs = Pd + BWD_BQ * BWD_BK;               // [BQ][BK]
	float* lse_s = dSs + BWD_BQ * BWD_BK;            // [BQ]
	float* del_s = lse_s + BWD_BQ;                   // [BQ]
	float* Qs = del_s + BWD_BQ;                      // [BQ][D+1]
	float* Ks = Qs + BWD_BQ * (D + 1);               // [BK][D+1]

	const float* qvar[3] = {qr, qc, q0};
	const float* kvar[3] = {kr, k0, kc};
	float* dqvar[3] = {dqr, dqc, dq0};
	float* dkvar[3] = {dkr, dk0, dkc};

	// This thread's key (lane) for the score/P/dS elements; rows warp + 8n.
	const i64 jme = j0 + lane;
	const bool jvalid = jme < L && (mask == nullptr || mask[b * L + jme] != 0);
	// dP tile mapping: group g takes a quarter of each chunk; rows 4ti..,
	// keys 4tk...
	const int g = tid >> 6, t64 = tid & 63, ti = t64 >> 3, tk = t64 & 7;
	// dV mapping: keys 2kq, 2kq+1; chunk columns 4eq..4eq+3.
	const int kq = tid >> 4, eq = tid & 15;
	const int MD = (int)((D + 31) / 32);  // columns d = lane + 32m, m < MD

	for (i64 i0 = 0; i0 < L; i0 += BWD_BQ) {
		const i64 i1 = imin64(i0 + BWD_BQ, L);
		const int cls = tile_class(pol, i0, i1, j0, j1);
		if (cls == C_SKIP) continue;  // uniform
		__syncthreads();  // the previous tile's readers of shared memory are done
		if (tid < BWD_BQ) {
			const i64 i = i0 + tid;
			lse_s[tid] = i < L ? out[(b * L + i) * OW + E] : 0.0f;
			del_s[tid] = i < L ? delta[b * L + i] : 0.0f;
		}
		int kind[4];
		float s[4];
#pragma unroll
		for (int n = 0; n < 4; n++) {
			kind[n] = elem_kind(pol, cls, i0 + warp + 8 * n, jme, L, jvalid);
			s[n] = -GAU_INF;
		}
		// 1. logits, one pass per variant present.
		for (int v = 0; v < nv; v++) {
			const int want = v + 1;
			int need;
			if (cls == C_MIXED) {
				need = __syncthreads_or(kind[0] == want || kind[1] == want || kind[2] == want || kind[3] == want);
			} else {
				need = cls == want;
			}
			if (!need) continue;
			__syncthreads();
			for (i64 idx = tid; idx < BWD_BQ * D; idx += ATT_THREADS) {
				const i64 r = idx / D, d = idx - r * D;
				const i64 i = i0 + r, jj = j0 + r;
				Qs[r * (D + 1) + d] = i < L ? qvar[v][(b * L + i) * D + d] : 0.0f;
				Ks[r * (D + 1) + d] = jj < L ? kvar[v][(b * L + jj) * D + d] : 0.0f;
			}
			__syncthreads();
			const float* krow = Ks + lane * (D + 1);
#pragma unroll
			for (int n = 0; n < 4; n++) {
				if (kind[n] != want) continue;
				const float* qrow = Qs + (warp + 8 * n) * (D + 1);
				float a = 0.0f;
				for (int d = 0; d < Di; d++) a += qrow[d] * krow[d];
				s[n] = a;
			}
		}
		__syncthreads();  // publishes lse_s, del_s
		float p[4], dr[4];
		bool any = false;
#pragma unroll
		for (int n = 0; n < 4; n++) {
			const int il = warp + 8 * n;
			const i64 i = i0 + il;
			p[n] = 0.0f;
			dr[n] = 1.0f;
			if (kind[n] != K_MASKED) {
				float sv = s[n];
				if (slope != 0) sv += bs * (float)(-slope * (double)iabs64(i - jme));
				p[n] = expf(sv - lse_s[il]);
				if (thr != 0) {
					const u64 idx = ((u64)b * (u64)L + (u64)i) * (u64)L + (u64)jme;
					dr[n] = gau_keep(key, site, idx, thr) ? invk : 0.0f;
				}
			}
			Pd[il * BWD_BK + lane] = p[n] * dr[n];
			any = any || p[n] != 0.0f;
		}
		if (!__syncthreads_or(any)) continue;  // publishes Pd; uniform

		// 2. dP = dO·Vᵀ and dV += Pdᵀ·dO over E.
		float dp[4][4];
#pragma unroll
		for (int a = 0; a < 4; a++)
#pragma unroll
			for (int c = 0; c < 4; c++) dp[a][c] = 0.0f;
		for (i64 ec = 0; ec < E; ec += BWD_EC) {
			__syncthreads();  // the previous chunk's readers are done
			for (int idx = tid; idx < BWD_BQ * BWD_EC; idx += ATT_THREADS) {
				const int il = idx / BWD_EC, e = idx % BWD_EC;
				const i64 i = i0 + il, col = ec + e;
				const float val = (i < L && col < E) ? dout[(b * L + i) * OW + col] : 0.0f;
				dOs[il * (BWD_EC + 4) + e] = val;
				dOt[e * (BWD_BQ + 4) + il] = val;
			}
			for (int idx = tid; idx < BWD_BK * BWD_EC; idx += ATT_THREADS) {
				const int kl = idx / BWD_EC, e = idx % BWD_EC;
				const i64 jj = j0 + kl, col = ec + e;
				Vt[e * (BWD_BK + 4) + kl] = (jj < L && col < E) ? X[(b * L + jj) * W + E + col] : 0.0f;
			}
			__syncthreads();
#pragma unroll 4
			for (int e = g * (BWD_EC / 4); e < (g + 1) * (BWD_EC / 4); e++) {
				const float4 a4 = *reinterpret_cast<const float4*>(dOt + e * (BWD_BQ + 4) + 4 * ti);
				const float4 b4 = *reinterpret_cast<const float4*>(Vt + e * (BWD_BK + 4) + 4 * tk);
				const float av[4] = {a4.x, a4.y, a4.z, a4.w};
				const float bv[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
				for (int a = 0; a < 4; a++)
#pragma unroll
					for (int c = 0; c < 4; c++) dp[a][c] += av[a] * bv[c];
			}
			float dv[2][4];
#pragma unroll
			for (int a = 0; a < 2; a++)
#pragma unroll
				for (int c = 0; c < 4; c++) dv[a][c] = 0.0f;
#pragma unroll 4
			for (int il = 0; il < BWD_BQ; il++) {
				const float2 p2 = *reinterpret_cast<const float2*>(Pd + il * BWD_BK + 2 * kq);
				const float4 d4 = *reinterpret_cast<const float4*>(dOs + il * (BWD_EC + 4) + 4 * eq);
				dv[0][0] += p2.x * d4.x;
				dv[0][1] += p2.x * d4.y;
				dv[0][2] += p2.x * d4.z;
				dv[0][3] += p2.x * d4.w;
				dv[1][0] += p2.y * d4.x;
				dv[1][1] += p2.y * d4.y;
				dv[1][2] += p2.y * d4.z;
				dv[1][3] += p2.y * d4.w;
			}
#pragma unroll
			for (int a = 0; a < 2; a++) {
				const i64 jj = j0 + 2 * kq + a;
				if (jj >= L) continue;
				float* dvrow = dx + (b * L + jj) * W + E;
#pragma unroll
				for (int c = 0; c < 4; c++) {
					const i64 col = ec + 4 * eq + c;
					if (col < E) dvrow[col] += dv[a][c];
				}
			}
		}
		// 3. Sum the four dP partials; dS.
		__syncthreads();  // every chunk reader is done: red may overwrite CH
#pragma unroll
		for (int a = 0; a < 4; a++)
#pragma unroll
			for (int c = 0; c < 4; c++) red[(g * BWD_BQ + 4 * ti + a) * BWD_BK + 4 * tk + c] = dp[a][c];
		__syncthreads();
		float ds[4];
#pragma unroll
		for (int n = 0; n < 4; n++) {
			const int il = warp + 8 * n;
			const int o = il * BWD_BK + lane;
			const float dpv = red[o] + red[BWD_BQ * BWD_BK + o] + red[2 * BWD_BQ * BWD_BK + o] + red[3 * BWD_BQ * BWD_BK + o];
			ds[n] = p[n] * (dpv * dr[n] - del_s[il]);
		}
		// 4. Route dS by variant into dq̃, dk̃.
		for (int v = 0; v < nv; v++) {
			const int want = v + 1;
			int need;
			if (cls == C_MIXED) {
				need = __syncthreads_or(kind[0] == want || kind[1] == want || kind[2] == want || kind[3] == want);
			} else {
				need = cls == want;
			}
			if (!need) continue;
			__syncthreads();  // earlier readers of dSs, Qs, Ks are done
#pragma unroll
			for (int n = 0; n < 4; n++) dSs[(warp + 8 * n) * BWD_BK + lane] = kind[n] == want ? ds[n] : 0.0f;
			for (i64 idx = tid; idx < BWD_BQ * D; idx += ATT_THREADS) {
				const i64 r = idx / D, d = idx - r * D;
				const i64 i = i0 + r, jj = j0 + r;
				Qs[r * (D + 1) + d] = i < L ? qvar[v][(b * L + i) * D + d] : 0.0f;
				Ks[r * (D + 1) + d] = jj < L ? kvar[v][(b * L + jj) * D + d] : 0.0f;
			}
			__syncthreads();
			// dq̃[i] += Σ_k dS[i][k] k̃[k]: rows warp + 8n, columns lane + 32m.
			{
				float aq[4][ATT_MAXD / 32];
#pragma unroll
				for (int n = 0; n < 4; n++)
#pragma unroll
					for (int m = 0; m < ATT_MAXD / 32; m++) aq[n][m] = 0.0f;
				for (int kl = 0; kl < BWD_BK; kl++) {
					float dsv[4];
#pragma unroll
					for (int n = 0; n < 4; n++) dsv[n] = dSs[(warp + 8 * n) * BWD_BK + kl];
#pragma unroll
					for (int m = 0; m < ATT_MAXD / 32; m++) {
						if (m >= MD) break;
						const i64 d = lane + 32 * m;
						const float kv = d < D ? Ks[kl * (D + 1) + d] : 0.0f;
#pragma unroll
						for (int n = 0; n < 4; n++) aq[n][m] += dsv[n] * kv;
					}
				}
#pragma unroll
				for (int n = 0; n < 4; n++) {
					const i64 i = i0 + warp + 8 * n;
					if (i >= L) continue;
					float* dq = dqvar[v] + (b * L + i) * D;
#pragma unroll
					for (int m = 0; m < ATT_MAXD / 32; m++) {
						if (m >= MD) break;
						const i64 d = lane + 32 * m;
						if (d < D && aq[n][m] != 0.0f) atomicAdd(dq + d, aq[n][m]);
					}
				}
			}
			// dk̃[k] += Σ_i dS[i][k] q̃[i]: keys warp + 8n, columns lane + 32m.
			{
				float ak[4][ATT_MAXD / 32];
#pragma unroll
				for (int n = 0; n < 4; n++)
#pragma unroll
					for (int m = 0; m < ATT_MAXD / 32; m++) ak[n][m] = 0.0f;
				for (int il = 0; il < BWD_BQ; il++) {
					float dsv[4];
#pragma unroll
					for (int n = 0; n < 4; n++) dsv[n] = dSs[il * BWD_BK + warp + 8 * n];
#pragma unroll
					for (int m = 0; m < ATT_MAXD / 32; m++) {
						if (m >= MD) break;
						const i64 d = lane + 32 * m;
						const float qv = d < D ? Qs[il * (D + 1) + d] : 0.0f;
#pragma unroll
						for (int n = 0; n < 4; n++) ak[n][m] += dsv[n] * qv;
					}
				}
#pragma unroll
				for (int n = 0; n < 4; n++) {
					const i64 jj = j0 + warp + 8 * n;
					if (jj >= L) continue;
					float* dk = dkvar[v] + (b * L + jj) * D;
#pragma unroll
					for (int m = 0; m < ATT_MAXD / 32; m++) {
						if (m >= MD) break;
						const i64 d = lane + 32 * m;
						if (d < D) dk[d] += ak[n][m];
					}
				}
			}
		}
	}
}
GAU_REGISTER(attn_bwd_main)

// cos_scale_back is cpu.cosScaleBackward for one row held by a warp (pairs
// i = lane + 32m): g ← f·(g - x·(x·g)/(r·ν)) with f = a/ν, ν = r + 1e-9,
// r = |x| (float64 sum) and x = z⊙γ the raw vector; g ← f·g when r = 0.
__device__ __forceinline__ void cos_scale_back(float (&ge)[ATT_MAXP], float (&go)[ATT_MAXP], const float (&z0)[ATT_MAXP],
                                               const float (&z1)[ATT_MAXP], const float* gam, float a, i64 half, int lane) {
	float xe[ATT_MAXP], xo[ATT_MAXP];
	double n2 = 0;
	float dt = 0.0f;
#pragma unroll
	for (int m = 0; m < ATT_MAXP; m++) {
		const i64 i = lane + 32 * m;
		xe[m] = xo[m] = 0.0f;
		if (i >= half) continue;
		xe[m] = z0[m] * gam[2 * i];
		xo[m] = z1[m] * gam[2 * i + 1];
		n2 += (double)xe[m] * xe[m] + (double)xo[m] * xo[m];
		dt += xe[m] * ge[m] + xo[m] * go[m];
	}
	n2 = warp_sum_d(n2);
	dt = warp_sum(dt);
	const float rn = (float)sqrt(n2);
	const float nu = rn + 1e-9f;
	const float f = a / nu;
	const float proj = rn == 0.0f ? 0.0f : dt / (rn * nu);
#pragma unroll
	for (int m = 0; m < ATT_MAXP; m++) {
		ge[m] = f * (ge[m] - xe[m] * proj);
		go[m] = f * (go[m] - xo[m] * proj);
	}
}

// attn_bwd_post: one warp per row (grid-stride). From dq̃, dk̃ (per variant)
// back through the rotation (adjoint), the logit scale sc_b, CosScale and
// ScaleOffset: writes dz into dx[r, 2E:2E+D] and adds the row's γ gradients,
// summed per block, into dx rows B·L (dγq) and B·L+1 (dγk) with atomicAdd
// (the caller zeroes dx first).
extern "C" __global__ void __launch_bounds__(ATT_THREADS)
attn_bwd_post(float* dx, const float* dqr, const float* dkr, const float* dqc, const float* dq0, const float* dkc,
              const float* dk0, const float* X, const float* gq, const float* gk, const i64* pos, const double* theta,
              const float* sc, i64 rows, i64 L, i64 E, i64 D, i64 far_w, double alpha) {
	GAU_SMEM(float, red, ATT_WARPS * 2 * ATT_MAXD);
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const i64 W = 2 * E + D, half = D / 2;
	const bool far = far_w > 0;
	float agq[ATT_MAXP][2], agk[ATT_MAXP][2];
#pragma unroll
	for (int m = 0; m < ATT_MAXP; m++) agq[m][0] = agq[m][1] = agk[m][0] = agk[m][1] = 0.0f;

	for (i64 r = (i64)blockIdx.x * ATT_WARPS + warp; r < rows; r += (i64)gridDim.x * ATT_WARPS) {
		const i64 b = r / L;
		const float* z = X + r * W + 2 * E;
		const i64 p = pos ? pos[r] : r % L;
		float gqe[ATT_MAXP], gqo[ATT_MAXP], gke[ATT_MAXP], gko[ATT_MAXP];
		float z0[ATT_MAXP], z1[ATT_MAXP];
#pragma unroll
		for (int m = 0; m < ATT_MAXP; m++) {
			const i64 i = lane + 32 * m;
			gqe[m] = gqo[m] = gke[m] = gko[m] = z0[m] = z1[m] = 0.0f;
			if (i >= half) continue;
			z0[m] = z[2 * i];
			z1[m] = z[2 * i + 1];
			if (!theta) {
				gqe[m] = dqr[r * D + 2 * i];
				gqo[m] = dqr[r * D + 2 * i + 1];
				gke[m] = dkr[r * D + 2 * i];
				gko[m] = dkr[r * D + 2 * i + 1];
				continue;
			}
			double sd, cd;
			sincos((double)p * theta[i], &sd, &cd);
			float c = (float)cd, sn = (float)sd;
			float g1 = dqr[r * D + i], g2 = dqr[r * D + half + i];
			gqe[m] += g1 * c + g2 * sn;
			gqo[m] += -g1 * sn + g2 * c;
			g1 = dkr[r * D + i];
			g2 = dkr[r * D + half + i];
			gke[m] += g1 * c + g2 * sn;
			gko[m] += -g1 * sn + g2 * c;
			if (far) {
				sincos((double)(far_w - 1) * theta[i], &sd, &cd);
				c = (float)cd;
				sn = (float)sd;
				g1 = dqc[r * D + i];
				g2 = dqc[r * D + half + i];
				gqe[m] += g1 * c + g2 * sn;
				gqo[m] += -g1 * sn + g2 * c;
				gqe[m] += dq0[r * D + i];
				gqo[m] += dq0[r * D + half + i];
				g1 = dkc[r * D + i];
				g2 = dkc[r * D + half + i];
				gke[m] += g1 * c + g2 * sn;
				gko[m] += -g1 * sn + g2 * c;
				gke[m] += dk0[r * D + i];
				gko[m] += dk0[r * D + half + i];
			}
		}
		const float s = sc[b];
#pragma unroll
		for (int m = 0; m < ATT_MAXP; m++) {
			gqe[m] *= s;
			gqo[m] *= s;
		}
		if (alpha > 0) {
			cos_scale_back(gqe, gqo, z0, z1, gq, (float)alpha, half, lane);
			cos_scale_back(gke, gko, z0, z1, gk, 1.0f, half, lane);
		}
		float* dz = dx + r * W + 2 * E;
#pragma unroll
		for (int m = 0; m < ATT_MAXP; m++) {
			const i64 i = lane + 32 * m;
			if (i >= half) continue;
			dz[2 * i] = gqe[m] * gq[2 * i] + gke[m] * gk[2 * i];
			dz[2 * i + 1] = gqo[m] * gq[2 * i + 1] + gko[m] * gk[2 * i + 1];
			agq[m][0] += gqe[m] * z0[m];
			agq[m][1] += gqo[m] * z1[m];
			agk[m][0] += gke[m] * z0[m];
			agk[m][1] += gko[m] * z1[m];
		}
	}
	// Sum the 8 warps' γ gradients, then one atomicAdd per column and block.
#pragma unroll
	for (int m = 0; m < ATT_MAXP; m++) {
		const i64 i = lane + 32 * m;
		if (i >= half) continue;
		red[warp * 2 * ATT_MAXD + 2 * i] = agq[m][0];
		red[warp * 2 * ATT_MAXD + 2 * i + 1] = agq[m][1];
		red[warp * 2 * ATT_MAXD + ATT_MAXD + 2 * i] = agk[m][0];
		red[warp * 2 * ATT_MAXD + ATT_MAXD + 2 * i + 1] = agk[m][1];
	}
	__syncthreads();
	for (i64 c = threadIdx.x; c < 2 * D; c += blockDim.x) {
		const bool isq = c < D;
		const i64 d = isq ? c : c - D;
		const i64 o = (isq ? 0 : ATT_MAXD) + d;
		float t = 0.0f;
		for (int w = 0; w < ATT_WARPS; w++) t += red[w * 2 * ATT_MAXD + o];
		if (t != 0.0f) atomicAdd(dx + (rows + (isq ? 0 : 1)) * W + d, t);
	}
}
GAU_REGISTER(attn_bwd_post)
