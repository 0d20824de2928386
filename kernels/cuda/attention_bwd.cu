// attention_bwd.cu: the attention backward, in the phases of
// kernels/cpu/attention.go's Attention.Backward and in their order (the
// shared definitions are in attention.cuh):
//
//   prepare    gau_attn_prep_f32 (attention_fwd.cu) recomputes q̃, k̃ and their
//              rotations, as the CPU's prepare.
//   D          gau_attn_bwd_delta: D_i = dO_i·O_i.
//   gradients wrt the rotated vectors
//              gau_attn_bwd_main: a block per key block of 32 (it owns the keys'
//              dV and dk̃ rows), looping over the query tiles of 32; per tile
//                scores   bwd_scores   the logits S, one pass per rotation
//                                      variant present (the CPU's scores)
//                P        bwd_probs    P = exp(S - lse), Pd = P·dropscale
//                dV, dPd  bwd_dv_dpd   dV += Pdᵀ·dO and dPd = dO·Vᵀ (the
//                                      CPU's two GEMMs in one pass over E)
//                dS       bwd_ds       dS = P ⊙ (dP - D), dP = dPd·dropscale
//                route    bwd_route    per variant: dq̃ += dS·k̃ (bwd_route_dq),
//                                      dk̃ += dSᵀ·q̃ (bwd_route_dk)
//   reduce     no kernel: the CPU sums per-worker dq̃ buffers afterwards; here
//              the key blocks add into one dq̃ with atomicAdd as they go.
//   back through rotation, CosScale and ScaleOffset
//              gau_attn_bwd_post: one warp per row, dz and the γ gradients.
#include "attention.cuh"

// Backward tiles: key tiles of 32 per block, query tiles of 32, E chunks of 64.
#define BWD_BQ 32
#define BWD_BK 32
#define BWD_EC 64

// ================================ D ================================

// gau_attn_bwd_delta: delta[r] = Σ_{c<E} dout[r, c]·out[r, c] (row stride
// ow ≥ E+1), one warp per row.
#define ATTN_BWD_DELTA_ARGS(F) F(float*, delta) F(const float*, out) F(const float*, dout) F(i64, rows) F(i64, E) F(i64, ow)
GAU_ARGS(gau_attn_bwd_delta_args, ATTN_BWD_DELTA_ARGS)
GAU_KERNEL_OF(gau_attn_bwd_delta, gau_attn_bwd_delta_args, ATTN_BWD_DELTA_ARGS, ATT_THREADS) {
	GAU_UNPACK(ATTN_BWD_DELTA_ARGS)
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const i64 OW = ow;
	for (i64 r = (i64)blockIdx.x * ATT_WARPS + warp; r < rows; r += (i64)gridDim.x * ATT_WARPS) {
		float s = 0.0f;
		for (i64 c = lane; c < E; c += 32) s += dout[r * OW + c] * out[r * OW + c];
		s = warp_sum(s);
		if (lane == 0) delta[r] = s;
	}
}
GAU_REGISTER(gau_attn_bwd_delta)

// =============== gradients wrt the rotated vectors ===============
//
// gau_attn_bwd_main: grid (ceil(L/32), B), 256 threads. A block owns the 32 keys
// [j0, j0+32) of sequence b (so it owns their dV and dk̃ rows: plain
// read-modify-write, no atomics) and loops over all query tiles of 32. In
// the score, P and dS phases a thread holds the elements (rows warp + 8n,
// n < 4; key = lane) of the tile.
//
// Dynamic shared memory (floats): chunk region max(dO [32][68] + dOᵀ [64][36]
// + Vᵀ [64][36], the dP partials [4][32][32]) = 6784, Pd [32][32], dS [32][32],
// lse [32], D [32], Q [32][D+1], K [32][D+1].

#define BWD_CH_FLOATS (BWD_BQ * (BWD_EC + 4) + BWD_EC * (BWD_BQ + 4) + BWD_EC * (BWD_BK + 4))

__host__ __device__ constexpr i64 attn_bwd_smem_floats(i64 D) {
	return BWD_CH_FLOATS + 2 * BWD_BQ * BWD_BK + 2 * BWD_BQ + (BWD_BQ + BWD_BK) * (D + 1);
}

// BwdBlock is what the phases of gau_attn_bwd_main share: the block's shared
// memory regions, its key block and sizes, the thread's place.
struct BwdBlock {
	float* dOs;    // [BQ][EC+4]  dO of the E chunk (the chunk region: dOs, dOt, Vt)
	float* dOt;    // [EC][BQ+4]  dO of the chunk, transposed
	float* Vt;     // [EC][BK+4]  V of the chunk, transposed
	float* red;    // [4][BQ][BK] the dPd partials (over the chunk region, after the E loop)
	float* Pd;     // [BQ][BK]
	float* dSs;    // [BQ][BK]    dS of one variant
	float* lse_s;  // [BQ]
	float* del_s;  // [BQ]        D
	float* Qs;     // [BQ][D+1]
	float* Ks;     // [BK][D+1]
	i64 b, j0, L, E, D, W, OW;
	int tid, lane, warp;
};

// bwd_variant_needed reports, uniformly over the block, whether the tile of
// class cls has pairs of kind want (a mixed tile votes: a barrier).
__device__ __forceinline__ bool bwd_variant_needed(int cls, int want, const int (&kind)[4]) {
	if (cls == C_MIXED) return __syncthreads_or(kind[0] == want || kind[1] == want || kind[2] == want || kind[3] == want);
	return cls == want;
}

// bwd_stage_qk stages the rows of one variant in shared memory: q̃ rows
// [i0, i0+BQ) of qv into Qs, k̃ rows [j0, j0+BK) of kv into Ks (zeros past L).
__device__ __forceinline__ void bwd_stage_qk(const BwdBlock& k, const float* qv, const float* kv, i64 i0) {
	const i64 D = k.D, L = k.L, b = k.b;
	for (i64 idx = k.tid; idx < BWD_BQ * D; idx += ATT_THREADS) {
		const i64 r = idx / D, d = idx - r * D;
		const i64 i = i0 + r, jj = k.j0 + r;
		k.Qs[r * (D + 1) + d] = i < L ? qv[(b * L + i) * D + d] : 0.0f;
		k.Ks[r * (D + 1) + d] = jj < L ? kv[(b * L + jj) * D + d] : 0.0f;
	}
}

// scores: the kind of each of the thread's pairs and its logit s (-Inf
// where masked), one pass per rotation variant present in the tile.
__device__ __forceinline__ void bwd_scores(const BwdBlock& k, const AttnPolicy& pol, int cls, int nv, i64 i0, i64 jme,
                                           bool jvalid, const float* const (&qvar)[3], const float* const (&kvar)[3],
                                           int (&kind)[4], float (&s)[4]) {
	const int Di = (int)k.D;
#pragma unroll
	for (int n = 0; n < 4; n++) {
		kind[n] = elem_kind(pol, cls, i0 + k.warp + 8 * n, jme, k.L, jvalid);
		s[n] = -GAU_INF;
	}
	for (int v = 0; v < nv; v++) {
		const int want = v + 1;
		if (!bwd_variant_needed(cls, want, kind)) continue;
		__syncthreads();
		bwd_stage_qk(k, qvar[v], kvar[v], i0);
		__syncthreads();
		const float* krow = k.Ks + k.lane * (k.D + 1);
#pragma unroll
		for (int n = 0; n < 4; n++) {
			if (kind[n] != want) continue;
			const float* qrow = k.Qs + (k.warp + 8 * n) * (k.D + 1);
			float a = 0.0f;
			for (int d = 0; d < Di; d++) a += qrow[d] * krow[d];
			s[n] = a;
		}
	}
}

// P: p = exp(s + bias - lse) (0 where masked), dr the dropout scale, and
// Pd = p·dr into shared memory. Returns, uniformly, whether any p != 0 (if
// not, the tile adds nothing).
__device__ __forceinline__ bool bwd_probs(const BwdBlock& k, i64 i0, i64 jme, const int (&kind)[4], const float (&s)[4],
                                          float bs, double slope, u64 thr, float invk, u64 key, u64 site, float (&p)[4],
                                          float (&dr)[4]) {
	__syncthreads();  // publishes lse_s, del_s
	bool any = false;
#pragma unroll
	for (int n = 0; n < 4; n++) {
		const int il = k.warp + 8 * n;
		const i64 i = i0 + il;
		p[n] = 0.0f;
		dr[n] = 1.0f;
		if (kind[n] != K_MASKED) {
			float sv = s[n];
			if (slope != 0) sv += bs * (float)(-slope * (double)iabs64(i - jme));
			p[n] = expf(sv - k.lse_s[il]);
			if (thr != 0) {
				const u64 idx = ((u64)k.b * (u64)k.L + (u64)i) * (u64)k.L + (u64)jme;
				dr[n] = gau_keep(key, site, idx, thr) ? invk : 0.0f;
			}
		}
		k.Pd[il * BWD_BK + k.lane] = p[n] * dr[n];
		any = any || p[n] != 0.0f;
	}
	return __syncthreads_or(any);  // publishes Pd
}

// dV, dPd: over E in chunks of 64 staged in shared memory (dO both row-major
// and transposed, V transposed): dPd = dO·Vᵀ by 4 groups of 64 threads, each
// a 4×4 register tile (rows 4ti.., keys 4tk..) over a quarter of the chunk
// (float4 loads), partial sums in dp; and dV += Pdᵀ·dO (thread: keys 2kq,
// 2kq+1 × chunk columns 4eq..4eq+3) straight into dx's v columns.
__device__ __forceinline__ void bwd_dv_dpd(const BwdBlock& k, i64 i0, float* dx, const float* dout, const float* X,
                                           float (&dp)[4][4]) {
	const int tid = k.tid;
	const int g = tid >> 6, t64 = tid & 63, ti = t64 >> 3, tk = t64 & 7;
	const int kq = tid >> 4, eq = tid & 15;
	const i64 b = k.b, L = k.L, E = k.E, W = k.W, OW = k.OW, j0 = k.j0;
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
			k.dOs[il * (BWD_EC + 4) + e] = val;
			k.dOt[e * (BWD_BQ + 4) + il] = val;
		}
		for (int idx = tid; idx < BWD_BK * BWD_EC; idx += ATT_THREADS) {
			const int kl = idx / BWD_EC, e = idx % BWD_EC;
			const i64 jj = j0 + kl, col = ec + e;
			k.Vt[e * (BWD_BK + 4) + kl] = (jj < L && col < E) ? X[(b * L + jj) * W + E + col] : 0.0f;
		}
		__syncthreads();
#pragma unroll 4
		for (int e = g * (BWD_EC / 4); e < (g + 1) * (BWD_EC / 4); e++) {
			const float4 a4 = *reinterpret_cast<const float4*>(k.dOt + e * (BWD_BQ + 4) + 4 * ti);
			const float4 b4 = *reinterpret_cast<const float4*>(k.Vt + e * (BWD_BK + 4) + 4 * tk);
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
			const float2 p2 = *reinterpret_cast<const float2*>(k.Pd + il * BWD_BK + 2 * kq);
			const float4 d4 = *reinterpret_cast<const float4*>(k.dOs + il * (BWD_EC + 4) + 4 * eq);
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
}

// dS: the four dPd partials summed through shared memory (over the chunk
// region); ds = p·(dPd·dr - D) for the thread's pairs.
__device__ __forceinline__ void bwd_ds(const BwdBlock& k, const float (&dp)[4][4], const float (&p)[4], const float (&dr)[4],
                                       float (&ds)[4]) {
	const int t64 = k.tid & 63, g = k.tid >> 6, ti = t64 >> 3, tk = t64 & 7;
	__syncthreads();  // every chunk reader is done: red may overwrite the chunk region
#pragma unroll
	for (int a = 0; a < 4; a++)
#pragma unroll
		for (int c = 0; c < 4; c++) k.red[(g * BWD_BQ + 4 * ti + a) * BWD_BK + 4 * tk + c] = dp[a][c];
	__syncthreads();
#pragma unroll
	for (int n = 0; n < 4; n++) {
		const int il = k.warp + 8 * n;
		const int o = il * BWD_BK + k.lane;
		const float dpv = k.red[o] + k.red[BWD_BQ * BWD_BK + o] + k.red[2 * BWD_BQ * BWD_BK + o] + k.red[3 * BWD_BQ * BWD_BK + o];
		ds[n] = p[n] * (dpv * dr[n] - k.del_s[il]);
	}
}

// route, dq̃: dq̃[i] += Σ_k dS[i][k] k̃[k] from the staged dSs and Ks (rows
// warp + 8n, columns lane + 32m), with atomicAdd: other key blocks add to
// the same rows.
__device__ __forceinline__ void bwd_route_dq(const BwdBlock& k, i64 i0, float* dqv) {
	const i64 D = k.D;
	const int MD = (int)((D + 31) / 32);  // columns d = lane + 32m, m < MD
	float aq[4][ATT_MAXD / 32];
#pragma unroll
	for (int n = 0; n < 4; n++)
#pragma unroll
		for (int m = 0; m < ATT_MAXD / 32; m++) aq[n][m] = 0.0f;
	for (int kl = 0; kl < BWD_BK; kl++) {
		float dsv[4];
#pragma unroll
		for (int n = 0; n < 4; n++) dsv[n] = k.dSs[(k.warp + 8 * n) * BWD_BK + kl];
#pragma unroll
		for (int m = 0; m < ATT_MAXD / 32; m++) {
			if (m >= MD) break;
			const i64 d = k.lane + 32 * m;
			const float kv = d < D ? k.Ks[kl * (D + 1) + d] : 0.0f;
#pragma unroll
			for (int n = 0; n < 4; n++) aq[n][m] += dsv[n] * kv;
		}
	}
#pragma unroll
	for (int n = 0; n < 4; n++) {
		const i64 i = i0 + k.warp + 8 * n;
		if (i >= k.L) continue;
		float* dq = dqv + (k.b * k.L + i) * D;
#pragma unroll
		for (int m = 0; m < ATT_MAXD / 32; m++) {
			if (m >= MD) break;
			const i64 d = k.lane + 32 * m;
			if (d < D && aq[n][m] != 0.0f) atomicAdd(dq + d, aq[n][m]);
		}
	}
}

// route, dk̃: dk̃[k] += Σ_i dS[i][k] q̃[i] from the staged dSs and Qs (keys
// warp + 8n, columns lane + 32m); the block owns these rows.
__device__ __forceinline__ void bwd_route_dk(const BwdBlock& k, float* dkv) {
	const i64 D = k.D;
	const int MD = (int)((D + 31) / 32);  // columns d = lane + 32m, m < MD
	float ak[4][ATT_MAXD / 32];
#pragma unroll
	for (int n = 0; n < 4; n++)
#pragma unroll
		for (int m = 0; m < ATT_MAXD / 32; m++) ak[n][m] = 0.0f;
	for (int il = 0; il < BWD_BQ; il++) {
		float dsv[4];
#pragma unroll
		for (int n = 0; n < 4; n++) dsv[n] = k.dSs[il * BWD_BK + k.warp + 8 * n];
#pragma unroll
		for (int m = 0; m < ATT_MAXD / 32; m++) {
			if (m >= MD) break;
			const i64 d = k.lane + 32 * m;
			const float qv = d < D ? k.Qs[il * (D + 1) + d] : 0.0f;
#pragma unroll
			for (int n = 0; n < 4; n++) ak[n][m] += dsv[n] * qv;
		}
	}
#pragma unroll
	for (int n = 0; n < 4; n++) {
		const i64 jj = k.j0 + k.warp + 8 * n;
		if (jj >= k.L) continue;
		float* dk = dkv + (k.b * k.L + jj) * D;
#pragma unroll
		for (int m = 0; m < ATT_MAXD / 32; m++) {
			if (m >= MD) break;
			const i64 d = k.lane + 32 * m;
			if (d < D) dk[d] += ak[n][m];
		}
	}
}

// route: dS split by kind into the rotation variants present in the tile
// (the CPU's switch over the block class); per variant, the pairs of that
// kind (dS elsewhere 0), its q̃ and k̃ rows staged, then dq̃ and dk̃.
__device__ __forceinline__ void bwd_route(const BwdBlock& k, int cls, int nv, i64 i0, const int (&kind)[4],
                                          const float (&ds)[4], const float* const (&qvar)[3],
                                          const float* const (&kvar)[3], float* const (&dqvar)[3],
                                          float* const (&dkvar)[3]) {
	for (int v = 0; v < nv; v++) {
		const int want = v + 1;
		if (!bwd_variant_needed(cls, want, kind)) continue;
		__syncthreads();  // earlier readers of dSs, Qs, Ks are done
#pragma unroll
		for (int n = 0; n < 4; n++) k.dSs[(k.warp + 8 * n) * BWD_BK + k.lane] = kind[n] == want ? ds[n] : 0.0f;
		bwd_stage_qk(k, qvar[v], kvar[v], i0);
		__syncthreads();
		bwd_route_dq(k, i0, dqvar[v]);
		bwd_route_dk(k, dkvar[v]);
	}
}

#define ATTN_BWD_MAIN_ARGS(F)                                                                                          \
	F(float*, dqr) F(float*, dkr) F(float*, dqc) F(float*, dq0) F(float*, dkc) F(float*, dk0) F(float*, dx)           \
	F(const float*, out) F(const float*, dout) F(const float*, delta) F(const float*, X) F(const float*, qr)          \
	F(const float*, kr) F(const float*, qc) F(const float*, q0) F(const float*, kc) F(const float*, k0)              \
	F(const i64*, mask) F(const float*, bscale) F(i64, L) F(i64, E) F(i64, D) F(i64, mask_mode) F(i64, radius)        \
	F(i64, sinks) F(i64, far_w) F(double, slope) F(u64, thr) F(double, inv_keep) F(u64, key) F(u64, site) F(i64, ow)
GAU_ARGS(gau_attn_bwd_main_args, ATTN_BWD_MAIN_ARGS)
GAU_KERNEL_OF(gau_attn_bwd_main, gau_attn_bwd_main_args, ATTN_BWD_MAIN_ARGS, ATT_THREADS) {
	GAU_UNPACK(ATTN_BWD_MAIN_ARGS)
	static_assert(4 * BWD_BQ * BWD_BK <= BWD_CH_FLOATS, "dP partials must fit the chunk region");
	static_assert(BWD_BQ == BWD_BK, "the Q and K tiles are loaded by one loop");
	GAU_DYN_SMEM(float, sm);
	BwdBlock k;
	k.dOs = sm;
	k.dOt = k.dOs + BWD_BQ * (BWD_EC + 4);
	k.Vt = k.dOt + BWD_EC * (BWD_BQ + 4);
	k.red = sm;
	k.Pd = sm + BWD_CH_FLOATS;
	k.dSs = k.Pd + BWD_BQ * BWD_BK;
	k.lse_s = k.dSs + BWD_BQ * BWD_BK;
	k.del_s = k.lse_s + BWD_BQ;
	k.Qs = k.del_s + BWD_BQ;
	k.Ks = k.Qs + BWD_BQ * (D + 1);
	k.b = blockIdx.y;
	k.j0 = (i64)blockIdx.x * BWD_BK;
	k.L = L;
	k.E = E;
	k.D = D;
	k.W = 2 * E + D;
	k.OW = ow;
	k.tid = threadIdx.x;
	k.lane = k.tid & 31;
	k.warp = k.tid >> 5;
	const i64 b = k.b, j0 = k.j0;
	const i64 j1 = imin64(j0 + BWD_BK, L);
	const int nv = far_w > 0 ? 3 : 1;
	const AttnPolicy pol{mask_mode, radius, sinks, far_w};
	const float bs = bscale[b];
	const float invk = (float)inv_keep;

	// The rotation variants: near, far behind, far ahead.
	const float* const qvar[3] = {qr, qc, q0};
	const float* const kvar[3] = {kr, k0, kc};
	float* const dqvar[3] = {dqr, dqc, dq0};
	float* const dkvar[3] = {dkr, dk0, dkc};

	// This thread's key (lane) for the score, P and dS elements.
	const i64 jme = j0 + k.lane;
	const bool jvalid = jme < L && (mask == nullptr || mask[b * L + jme] != 0);

	for (i64 i0 = 0; i0 < L; i0 += BWD_BQ) {
		const i64 i1 = imin64(i0 + BWD_BQ, L);
		const int cls = tile_class(pol, i0, i1, j0, j1);
		if (cls == C_SKIP) continue;  // uniform
		__syncthreads();  // the previous tile's readers of shared memory are done
		// lse and D of the tile's rows, for P and dS.
		if (k.tid < BWD_BQ) {
			const i64 i = i0 + k.tid;
			k.lse_s[k.tid] = i < L ? out[(b * L + i) * k.OW + E] : 0.0f;
			k.del_s[k.tid] = i < L ? delta[b * L + i] : 0.0f;
		}
		int kind[4];
		float s[4];
		bwd_scores(k, pol, cls, nv, i0, jme, jvalid, qvar, kvar, kind, s);
		float p[4], dr[4];
		if (!bwd_probs(k, i0, jme, kind, s, bs, slope, thr, invk, key, site, p, dr)) continue;  // uniform
		float dp[4][4];
		bwd_dv_dpd(k, i0, dx, dout, X, dp);
		float ds[4];
		bwd_ds(k, dp, p, dr, ds);
		bwd_route(k, cls, nv, i0, kind, ds, qvar, kvar, dqvar, dkvar);
	}
}
GAU_REGISTER(gau_attn_bwd_main)

// ========== back through rotation, CosScale and ScaleOffset ==========

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

// gau_attn_bwd_post: one warp per row (grid-stride). From dq̃, dk̃ (per variant)
// back through the rotation (adjoint), the logit scale sc_b, CosScale and
// ScaleOffset: writes dz into dx[r, 2E:2E+D] and adds the row's γ gradients,
// summed per block, into dx rows B·L (dγq) and B·L+1 (dγk) with atomicAdd
// (the caller zeroes dx first).
#define ATTN_BWD_POST_ARGS(F)                                                                                          \
	F(float*, dx) F(const float*, dqr) F(const float*, dkr) F(const float*, dqc) F(const float*, dq0)                  \
	F(const float*, dkc) F(const float*, dk0) F(const float*, X) F(const float*, gq) F(const float*, gk)              \
	F(const i64*, pos) F(const double*, theta) F(const float*, sc) F(i64, rows) F(i64, L) F(i64, E) F(i64, D)         \
	F(i64, far_w) F(double, alpha)
GAU_ARGS(gau_attn_bwd_post_args, ATTN_BWD_POST_ARGS)
GAU_KERNEL_OF(gau_attn_bwd_post, gau_attn_bwd_post_args, ATTN_BWD_POST_ARGS, ATT_THREADS) {
	GAU_UNPACK(ATTN_BWD_POST_ARGS)
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
GAU_REGISTER(gau_attn_bwd_post)
