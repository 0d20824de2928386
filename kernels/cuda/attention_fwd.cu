// attention_fwd.cu: the attention forward on CUDA cores (float32, or a
// bfloat16 X computed in float32) and gau_attn_prep_*, which both the forward and
// the backward launch first. The shared definitions and the list of kernels
// are in attention.cuh; the tensor-core forward is in attention_tc.cu, the
// backward in attention_bwd.cu.
#include "attention.cuh"

// Forward tiles: 16 query rows per block, key tiles of 32 (one key per lane).
#define FWD_BQ 16
#define FWD_BK 32

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

// gau_attn_prep_f32 and _bf16 (X float32 or bfloat16): struct attn_prep_args.
#define ATTN_PREP_ARGS(F)                                                                                          \
	F(float*, qr) F(float*, kr) F(float*, qc) F(float*, q0) F(float*, kc) F(float*, k0) F(const void*, X)         \
	F(const float*, gq) F(const float*, gk) F(const i64*, pos) F(const double*, theta) F(const float*, sc)       \
	F(i64, rows) F(i64, L) F(i64, E) F(i64, D) F(i64, far_w) F(double, alpha)
GAU_ARGS(attn_prep_args, ATTN_PREP_ARGS)

#define ATT_PREP(NAME, TIN)                                                                                        \
	GAU_KERNEL_OF(NAME, attn_prep_args, ATTN_PREP_ARGS, ATT_THREADS) {                                             \
		GAU_UNPACK(ATTN_PREP_ARGS)                                                                                 \
		attn_prep_impl(qr, kr, qc, q0, kc, k0, (const TIN*)X, gq, gk, pos, theta, sc, rows, L, E, D, far_w, alpha); \
	}                                                                                                              \
	GAU_REGISTER(NAME)

ATT_PREP(gau_attn_prep_f32, float)
ATT_PREP(gau_attn_prep_bf16, bf16)

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
                                              u64 key, u64 site, i64 ow) {
	GAU_DYN_SMEM(float, sm);
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const i64 b = blockIdx.z;
	const i64 i0 = (i64)blockIdx.x * FWD_BQ;
	const i64 i1 = imin64(i0 + FWD_BQ, L);
	const i64 e0 = (i64)blockIdx.y * (ATT_THREADS * CPT);
	const i64 W = 2 * E + D, OW = ow;
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

// gau_attn_fwd_{f32,bf16}_c*: struct attn_fwd_args.
#define ATTN_FWD_ARGS(F)                                                                                                   \
	F(float*, out) F(i64*, err) F(const void*, X) F(const float*, qr) F(const float*, kr) F(const float*, qc)               \
	F(const float*, q0) F(const float*, kc) F(const float*, k0) F(const i64*, mask) F(const float*, bscale) F(i64, L)       \
	F(i64, E) F(i64, D) F(i64, mask_mode) F(i64, radius) F(i64, sinks) F(i64, far_w) F(double, slope) F(u64, thr)          \
	F(double, inv_keep) F(u64, key) F(u64, site) F(i64, ow)
GAU_ARGS(attn_fwd_args, ATTN_FWD_ARGS)

#define ATT_FWD(NAME, TIN, CPT)                                                                                            \
	GAU_KERNEL_OF(NAME, attn_fwd_args, ATTN_FWD_ARGS, ATT_THREADS) {                                                         \
		GAU_UNPACK(ATTN_FWD_ARGS)                                                                                          \
		attn_fwd_impl<TIN, CPT>(out, err, (const TIN*)X, qr, kr, qc, q0, kc, k0, mask, bscale, L, E, D, mask_mode, radius,  \
		                        sinks, far_w, slope, thr, inv_keep, key, site, ow);                                            \
	}                                                                                                                        \
	GAU_REGISTER(NAME)

ATT_FWD(gau_attn_fwd_f32_c1, float, 1)
ATT_FWD(gau_attn_fwd_f32_c2, float, 2)
ATT_FWD(gau_attn_fwd_f32_c3, float, 3)
ATT_FWD(gau_attn_fwd_f32_c6, float, 6)
ATT_FWD(gau_attn_fwd_bf16_c1, bf16, 1)
ATT_FWD(gau_attn_fwd_bf16_c2, bf16, 2)
ATT_FWD(gau_attn_fwd_bf16_c3, bf16, 3)
ATT_FWD(gau_attn_fwd_bf16_c6, bf16, 6)
