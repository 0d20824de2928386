// attention_tc.cu: the bfloat16 attention forward on tensor cores
// (gau_attn_fwd_tc_bf16_d*). The shared definitions and the list of kernels are
// in attention.cuh; its inputs come from gau_attn_prep_bf16 (attention_fwd.cu).
#include "attention.cuh"

// ======================= forward on tensor cores =======================
//
// gau_attn_fwd_tc_bf16_dD: the forward with bfloat16 inputs on tensor cores
// (mma.sync m16n8k16, float32 accumulation), for the policies without a far
// rotation and without dropout (the host checks: far_w = 0, thr = 0, D one
// of 16, 32, 64, 128). q̃ comes from gau_attn_prep_bf16 (float32, rounded to
// bfloat16 here), k̃ rounded to bfloat16 by the host's gau_to_bf16_f32 (so
// that its tiles can be copied as they are), V from the bfloat16 X; P is
// rounded to bfloat16 for P·V, the row sums l take it unrounded (as
// FlashAttention does).
//
// Tiling. The work is S = Q·Kᵀ (L²·D multiply-adds per sequence) and O = P·V
// (L²·E), with E = d_v = 1536 twelve times the paper's D = 128, so P·V is
// what the tensor cores must be kept busy with, and the logits must not be
// recomputed for every slice of E. O of a query row is E float32; FlashAttention-2
// keeps a warp's O in its mma accumulators, which caps a warp's columns:
// 16 rows × 64 columns = 1024 floats = 32 per lane per 16 rows. A block of
// 64 query rows and 8 warps (256 threads) holds O [64][512] in registers,
// each warp all 64 rows of its own 64 columns (4 × 8 m16n8 tiles = 128
// float32 per lane). Grid (⌈L/64⌉, ⌈E/512⌉, B).
//
// Per key tile of 64 the block stages K̃ [64][D] and V [64][512] (V in its
// row-major layout, as X holds it: no transposed stores) in shared memory
// with cp.async (16 bytes per copy, every thread's copies of a tile in
// flight at once, not through registers), and with S = 2 stages loads the
// next tile's while it computes on this one (double buffering: the copies
// of tile t+1 are issued before the mma work of tile t and waited for
// after it), and
//   1. computes the tile's logits once: warp w forms S for query rows
//      16(w%4) .. +15 and keys 32(w/4) .. +31 (D/16 × 4 mma, q̃ and k̃
//      fragments by ldmatrix from shared memory), masks and adds ALiBi's
//      bias;
//   2. online softmax: the two warps sharing a row exchange their maxima
//      through shared memory, each computes the same new max m and rescale
//      factor, P = exp(S − m) goes to shared memory once as bfloat16
//      [64][64], the partial row sums and the factors through shared memory;
//   3. every warp rescales its O and adds P·V over its 64 columns (4 × 4 ×
//      8 mma; P's A fragments by ldmatrix, V's B fragments by ldmatrix .trans
//      from the row-major tile).
// So each (query tile, key tile) pair's probabilities are computed once
// per 512 output columns: at E = 1536 the tensor cores do 3·L²·D + L²·E
// multiply-adds for the L²·(D + E) counted (87% useful at D = 128), where
// one block per 128 columns (2 blocks per SM, the logits in each) did
// 12·L²·D + L²·E (54%). Fewer columns per block would recompute more;
// more would need more than the 255 registers a thread can have (O alone
// is 128 per lane) or fewer rows per block (P·V's B fragments are loaded
// once per 64 rows, 4 m-tiles).
//
// Occupancy: one block of 8 warps per SM (≤ 255 registers × 256 threads;
// shared memory below), as FlashAttention-2 runs its d = 128 forward.
//
// Shared memory (bytes): the Q̃ tile 64·(D+8)·2, S stages of the K̃ tile
// 64·(D+8)·2 and the V tile 64·(512+8)·2, P 64·(64+8)·2, five row vectors
// of 64 float32 and the 64 key flags: with one stage 109.5 KiB at D = 128,
// 81.5 KiB at D = 16; with two 191.5 and 146 KiB (the attribute is set;
// sm_90 allows 227 KiB per block, so two stages; sm_80's 163 KiB takes two
// only below D = 64, the host chooses by the device's limit).
//
// Banks: every ldmatrix phase reads 8 rows of 16 bytes; the rows are padded
// by 8 bfloat16 (16 bytes), so their word strides are (D+8)/2 = 12, 20, 36,
// 68 (D = 16, 32, 64, 128), 36 (P) and 260 (V), i.e. 12, 20, 4, 4, 4, 4 mod
// 32: the 8 rows start at 8 distinct multiples of 4 banks (for 12 and 20
// because they are 4 times an odd number) and cover all 32 banks once.
// P's 32-bit stores (lane 4g+t: row g, word t) hit bank 4g + t + const: 32
// distinct banks. The staging stores are 16 (or 2) consecutive bytes per
// thread along a row: conflict-free.
//
// Dynamic shared memory: attn_fwd_tc_smem_bytes(D, S).

#define TC_BQ 64
#define TC_BK 64
#define TC_EC 512
#define TC_WC 64  // output columns per warp
#define TC_THREADS 256
#define TC_VS (TC_EC + 8)  // V row stride (bfloat16)
#define TC_PS (TC_BK + 8)  // P row stride (bfloat16)

__host__ __device__ constexpr i64 attn_fwd_tc_smem_bytes(i64 D, i64 S) {
	return 2 * (TC_BQ * (D + 8) + S * TC_BK * (D + 8) + S * TC_BK * TC_VS + TC_BQ * TC_PS) + 4 * 5 * TC_BQ + 4 * TC_BK;
}

// tc_u4 is 16 bytes moved as one vector (uint4 on the GPU).
#ifdef GAU_EMU
struct alignas(16) tc_u4 {
	unsigned x, y, z, w;
};
#else
typedef uint4 tc_u4;
#endif

// tc_stage_rows rounds rows r of a float32 [·][D] matrix (rows j0.. of
// sequence b; zero beyond L) to bfloat16 into a [64][D+8] tile.
template <int D>
__device__ __forceinline__ void tc_stage_rows(bf16* dst, const float* src, i64 b, i64 L, i64 j0, int tid) {
	for (int idx = tid; idx < TC_BK * (D / 8); idx += TC_THREADS) {
		const int r = idx / (D / 8), d = 8 * (idx - r * (D / 8));
		const i64 j = j0 + r;
		unsigned w[4] = {0u, 0u, 0u, 0u};
		if (j < L) {
			const float4* p = reinterpret_cast<const float4*>(src + (b * L + j) * D + d);
			const float4 a = p[0], c = p[1];
			w[0] = pack_bf16(a.x, a.y);
			w[1] = pack_bf16(a.z, a.w);
			w[2] = pack_bf16(c.x, c.y);
			w[3] = pack_bf16(c.z, c.w);
		}
		*reinterpret_cast<tc_u4*>(dst + r * (D + 8) + d) = tc_u4{w[0], w[1], w[2], w[3]};
	}
}

// tc_issue_tile starts the copies of key tile j0 (rows j0.. of sequence b)
// into one stage: K̃ [64][D] from the bfloat16 k16 [B·L][D] and V [64][512]
// (columns e0.. of X's v part), with cp.async where 16 aligned bytes lie in
// range (zeros past L or E), else by plain stores (visible after the next
// barrier, like the copies once waited for). The caller commits the group.
template <int D>
__device__ __forceinline__ void tc_issue_tile(bf16* Ks, bf16* Vs, const bf16* k16, const bf16* X, i64 b, i64 L, i64 E,
                                              i64 W, i64 j0, i64 e0, bool vec, int tid) {
	for (int idx = tid; idx < TC_BK * (D / 8); idx += TC_THREADS) {
		const int r = idx / (D / 8), d = 8 * (idx - r * (D / 8));
		const i64 j = j0 + r;
		cp_async16(Ks + r * (D + 8) + d, j < L ? k16 + (b * L + j) * D + d : k16, j < L ? 16 : 0);
	}
	for (int idx = tid; idx < TC_BK * (TC_EC / 8); idx += TC_THREADS) {
		const int c = idx / (TC_EC / 8), col = 8 * (idx - c * (TC_EC / 8));
		const i64 j = j0 + c, ec = e0 + col;
		bf16* dst = Vs + c * TC_VS + col;
		if (vec && (j >= L || ec >= E)) {
			cp_async16(dst, X, 0);  // zeros
		} else if (vec && ec + 8 <= E) {
			cp_async16(dst, X + (b * L + j) * W + E + ec, 16);
		} else {
			const bf16* src = X + (b * L + j) * W + E + ec;
#pragma unroll
			for (int k = 0; k < 8; k++) dst[k] = (j < L && ec + k < E) ? src[k] : (bf16)0;
		}
	}
}

// tc_next_tile returns the first key tile from j0 on that the block does
// not skip (L if none).
__device__ __forceinline__ i64 tc_next_tile(const AttnPolicy& pol, i64 i0, i64 i1, i64 j0, i64 L) {
	for (; j0 < L; j0 += TC_BK)
		if (tile_class(pol, i0, i1, j0, imin64(j0 + TC_BK, L)) != C_SKIP) return j0;
	return L;
}

template <int D, int S>
__device__ __forceinline__ void attn_fwd_tc_impl(float* out, i64* err, const bf16* X, const float* qr, const bf16* k16,
                                                 const i64* mask, const float* bscale, i64 L, i64 E, i64 mask_mode,
                                                 i64 radius, i64 sinks, double slope, i64 ow) {
	static_assert(S == 1 || S == 2, "one or two stages");
	GAU_DYN_SMEM(bf16, sm);
	bf16* Qs = sm;                                  // [TC_BQ][D+8]
	bf16* Ks0 = Qs + TC_BQ * (D + 8);               // [S][TC_BK][D+8]
	bf16* Vs0 = Ks0 + S * TC_BK * (D + 8);          // [S][TC_BK][TC_VS]
	bf16* Ps = Vs0 + S * TC_BK * TC_VS;             // [TC_BQ][TC_PS]
	float* red = reinterpret_cast<float*>(Ps + TC_BQ * TC_PS);  // [5][TC_BQ]
	int* kval = reinterpret_cast<int*>(red + 5 * TC_BQ);        // [TC_BK]
	// red rows: 0, 1 the maxima of the two key halves (at the end: l and
	// m), 2, 3 their sums, 4 the rescale factors.
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const int g = lane >> 2, t = lane & 3;
	const int qt = warp & 3, kh = warp >> 2;  // logits: rows 16qt.., keys 32kh..
	const int cw = TC_WC * warp;               // P·V: columns cw .. cw+63 of the block's
	// ldmatrix row addresses: lane l gives row l%8 of matrix l/8; an A
	// fragment's matrices are (rows 0-7, k 0-7), (rows 8-15, k 0-7),
	// (rows 0-7, k 8-15), (rows 8-15, k 8-15); two B fragments' (n 0-7,
	// k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15).
	const int a_row = (lane & 7) + 8 * ((lane >> 3) & 1), a_k = 8 * (lane >> 4);
	const int b_n = (lane & 7) + 8 * (lane >> 4), b_k = 8 * ((lane >> 3) & 1);
	const i64 b = blockIdx.z;
	const i64 i0 = (i64)blockIdx.x * TC_BQ;
	const i64 i1 = imin64(i0 + TC_BQ, L);
	const i64 e0 = (i64)blockIdx.y * TC_EC;
	const i64 W = 2 * E + D, OW = ow;
	const AttnPolicy pol{mask_mode, radius, sinks, 0};
	const float bs = bscale[b];
	const int lrow[2] = {16 * qt + g, 16 * qt + g + 8};  // the lane's logit rows in the block
	const i64 row[2] = {i0 + lrow[0], i0 + lrow[1]};
	const bool warp_cols = e0 + cw < E;  // uniform over the warp
	// 16-byte copies of V need E and D multiples of 8 (rows of W = 2E+D
	// bfloat16 16-byte aligned) and an aligned X.
	const bool vec = ((E | D) & 7) == 0 && (reinterpret_cast<unsigned long long>(X) & 15) == 0;

	tc_stage_rows<D>(Qs, qr, b, L, i0, tid);  // read after the first tile's barrier

	float o[4][TC_WC / 8][4];
#pragma unroll
	for (int mt = 0; mt < 4; mt++)
#pragma unroll
		for (int n = 0; n < TC_WC / 8; n++)
#pragma unroll
			for (int e = 0; e < 4; e++) o[mt][n][e] = 0.0f;
	float m_r[2] = {-GAU_INF, -GAU_INF}, l_r[2] = {0.0f, 0.0f};

	// With two stages the first tile's copies start before the loop; each
	// iteration starts the next tile's into the other stage, then waits
	// for all but that newest group: the current tile's.
	i64 j0 = tc_next_tile(pol, i0, i1, 0, L);
	if (S == 2) {
		if (j0 < L) tc_issue_tile<D>(Ks0, Vs0, k16, X, b, L, E, W, j0, e0, vec, tid);
		cp_async_commit();
	}
	int st = 0;  // the stage of tile j0
	for (; j0 < L;) {
		const i64 j1 = imin64(j0 + TC_BK, L);
		const int cls = tile_class(pol, i0, i1, j0, j1);
		const i64 jn = tc_next_tile(pol, i0, i1, j0 + TC_BK, L);
		bf16* Ks = Ks0 + st * TC_BK * (D + 8);
		bf16* Vs = Vs0 + st * TC_BK * TC_VS;
		// The previous tile's readers of Ks, Vs (the other stage, which the
		// next tile's copies overwrite), Ps, red and kval are done.
		__syncthreads();
		if (S == 2) {
			if (jn < L) tc_issue_tile<D>(Ks0 + (st ^ 1) * TC_BK * (D + 8), Vs0 + (st ^ 1) * TC_BK * TC_VS, k16, X, b, L, E, W, jn, e0, vec, tid);
			cp_async_commit();
			cp_async_wait<1>();
		} else {
			tc_issue_tile<D>(Ks, Vs, k16, X, b, L, E, W, j0, e0, vec, tid);
			cp_async_commit();
			cp_async_wait<0>();
		}
		if (tid < TC_BK) {
			const i64 j = j0 + tid;
			kval[tid] = j < L && (mask == nullptr || mask[b * L + j] != 0);
		}
		__syncthreads();  // every thread's copies of this tile have landed

		// 1. S = Q·Kᵀ for rows 16qt.. and keys 32kh..: n-tile n holds keys
		// 32kh + 8n .. +7.
		float s[4][4];
#pragma unroll
		for (int n = 0; n < 4; n++)
#pragma unroll
			for (int e = 0; e < 4; e++) s[n][e] = 0.0f;
#pragma unroll
		for (int ks = 0; ks < D / 16; ks++) {
			unsigned qa[4];
			ldmatrix_x4(qa, Qs + (16 * qt + a_row) * (D + 8) + 16 * ks + a_k);
#pragma unroll
			for (int np = 0; np < 2; np++) {
				unsigned kb[4];
				ldmatrix_x4(kb, Ks + (32 * kh + 16 * np + b_n) * (D + 8) + 16 * ks + b_k);
				const unsigned k0[2] = {kb[0], kb[1]}, k1[2] = {kb[2], kb[3]};
				mma_bf16_16816(s[2 * np], qa, k0, s[2 * np]);
				mma_bf16_16816(s[2 * np + 1], qa, k1, s[2 * np + 1]);
			}
		}
		// Mask and bias; the row maxima over the warp's 32 keys.
		float mx[2] = {-GAU_INF, -GAU_INF};
#pragma unroll
		for (int n = 0; n < 4; n++) {
#pragma unroll
			for (int e = 0; e < 4; e++) {
				const int c = 32 * kh + 8 * n + 2 * t + (e & 1);
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
#pragma unroll
		for (int h = 0; h < 2; h++) {
			mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
			mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
			if (t == 0) red[kh * TC_BQ + lrow[h]] = mx[h];
		}
		__syncthreads();
		// 2. The tile's maxima (both warps of a row compute the same m, corr
		// and l from the same values in the same order), P to shared memory.
		float corr[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
		for (int h = 0; h < 2; h++) {
			mx[h] = fmaxf(red[lrow[h]], red[TC_BQ + lrow[h]]);
			corr[h] = 1.0f;
			if (mx[h] != -GAU_INF) {  // uniform over the row's lanes
				const float mnew = fmaxf(m_r[h], mx[h]);
				corr[h] = expf(m_r[h] - mnew);
				m_r[h] = mnew;
			}
		}
#pragma unroll
		for (int n = 0; n < 4; n++) {
#pragma unroll
			for (int h = 0; h < 2; h++) {
				float p[2];
#pragma unroll
				for (int e = 0; e < 2; e++) {
					const float v = s[n][2 * h + e];
					p[e] = (mx[h] == -GAU_INF || v == -GAU_INF) ? 0.0f : expf(v - m_r[h]);
					sum[h] += p[e];
				}
				*reinterpret_cast<unsigned*>(Ps + lrow[h] * TC_PS + 32 * kh + 8 * n + 2 * t) = pack_bf16(p[0], p[1]);
			}
		}
#pragma unroll
		for (int h = 0; h < 2; h++) {
			sum[h] += __shfl_xor_sync(0xffffffffu, sum[h], 1);
			sum[h] += __shfl_xor_sync(0xffffffffu, sum[h], 2);
			if (t == 0) {
				red[(2 + kh) * TC_BQ + lrow[h]] = sum[h];
				if (kh == 0) red[4 * TC_BQ + lrow[h]] = corr[h];
			}
		}
		__syncthreads();
#pragma unroll
		for (int h = 0; h < 2; h++)
			l_r[h] = l_r[h] * corr[h] + (red[2 * TC_BQ + lrow[h]] + red[3 * TC_BQ + lrow[h]]);

		// 3. O ← O·corr + P·V over the warp's columns: k-step kk covers keys
		// 16kk .. +15; m-tile mt rows 16mt .. +15; n-tile n columns cw + 8n.
		if (warp_cols) {
#pragma unroll
			for (int mt = 0; mt < 4; mt++) {
				const float c0 = red[4 * TC_BQ + 16 * mt + g], c1 = red[4 * TC_BQ + 16 * mt + g + 8];
#pragma unroll
				for (int n = 0; n < TC_WC / 8; n++) {
					o[mt][n][0] *= c0;
					o[mt][n][1] *= c0;
					o[mt][n][2] *= c1;
					o[mt][n][3] *= c1;
				}
			}
#pragma unroll
			for (int kk = 0; kk < TC_BK / 16; kk++) {
				unsigned pa[4][4];
#pragma unroll
				for (int mt = 0; mt < 4; mt++) ldmatrix_x4(pa[mt], Ps + (16 * mt + a_row) * TC_PS + 16 * kk + a_k);
#pragma unroll
				for (int np = 0; np < TC_WC / 16; np++) {
					unsigned vb[4];
					ldmatrix_x4_trans(vb, Vs + (16 * kk + a_row) * TC_VS + cw + 16 * np + a_k);
					const unsigned v0[2] = {vb[0], vb[1]}, v1[2] = {vb[2], vb[3]};
#pragma unroll
					for (int mt = 0; mt < 4; mt++) {
						mma_bf16_16816(o[mt][2 * np], pa[mt], v0, o[mt][2 * np]);
						mma_bf16_16816(o[mt][2 * np + 1], pa[mt], v1, o[mt][2 * np + 1]);
					}
				}
			}
		}
		if (S == 2) st ^= 1;
		j0 = jn;
	}
	cp_async_wait<0>();  // with two stages, the last (empty) group

	// The log-sum-exp and the empty-row rule (as attn_fwd_impl of
	// attention_fwd.cu) by the warps of the first key half; l and m to
	// shared memory for every warp's O/l.
	__syncthreads();  // the last tile's readers of red are done
	if (kh == 0) {
#pragma unroll
		for (int h = 0; h < 2; h++) {
			const i64 i = row[h];
			if (t != 0) continue;
			red[lrow[h]] = l_r[h];
			if (i >= L || blockIdx.y != 0) continue;
			const i64 r = b * L + i;
			if (l_r[h] == 0.0f) {
				out[r * OW + E] = 0.0f;
				if (mask == nullptr || mask[r] != 0) gau_flag(err, r);
			} else {
				out[r * OW + E] = m_r[h] + (float)log((double)l_r[h]);
			}
		}
	}
	__syncthreads();
	if (!warp_cols) return;
#pragma unroll
	for (int mt = 0; mt < 4; mt++) {
#pragma unroll
		for (int h = 0; h < 2; h++) {
			const int lr = 16 * mt + g + 8 * h;
			const i64 i = i0 + lr;
			if (i >= L) continue;
			const float l = red[lr];
			const float inv = l == 0.0f ? 0.0f : 1.0f / l;
			const i64 r = b * L + i;
#pragma unroll
			for (int n = 0; n < TC_WC / 8; n++) {
#pragma unroll
				for (int e = 0; e < 2; e++) {
					const i64 col = e0 + cw + 8 * n + 2 * t + e;
					if (col < E) out[r * OW + col] = o[mt][n][2 * h + e] * inv;
				}
			}
		}
	}
}

// gau_attn_fwd_tc_bf16_d*_s*: struct attn_fwd_tc_args.
#define ATTN_FWD_TC_ARGS(F)                                                                                                \
	F(float*, out) F(i64*, err) F(const bf16*, X) F(const float*, qr) F(const bf16*, k16) F(const i64*, mask)              \
	F(const float*, bscale) F(i64, L) F(i64, E) F(i64, mask_mode) F(i64, radius) F(i64, sinks) F(double, slope) F(i64, ow)
GAU_ARGS(attn_fwd_tc_args, ATTN_FWD_TC_ARGS)

#define ATT_FWD_TC(NAME, DD, SS)                                                                                           \
	GAU_KERNEL_OF(NAME, attn_fwd_tc_args, ATTN_FWD_TC_ARGS, TC_THREADS, 1) {                                                 \
		GAU_UNPACK(ATTN_FWD_TC_ARGS)                                                                                       \
		attn_fwd_tc_impl<DD, SS>(out, err, X, qr, k16, mask, bscale, L, E, mask_mode, radius, sinks, slope, ow);            \
	}                                                                                                                        \
	GAU_REGISTER(NAME)

ATT_FWD_TC(gau_attn_fwd_tc_bf16_d16_s1, 16, 1)
ATT_FWD_TC(gau_attn_fwd_tc_bf16_d32_s1, 32, 1)
ATT_FWD_TC(gau_attn_fwd_tc_bf16_d64_s1, 64, 1)
ATT_FWD_TC(gau_attn_fwd_tc_bf16_d128_s1, 128, 1)
ATT_FWD_TC(gau_attn_fwd_tc_bf16_d16_s2, 16, 2)
ATT_FWD_TC(gau_attn_fwd_tc_bf16_d32_s2, 32, 2)
ATT_FWD_TC(gau_attn_fwd_tc_bf16_d64_s2, 64, 2)
ATT_FWD_TC(gau_attn_fwd_tc_bf16_d128_s2, 128, 2)
