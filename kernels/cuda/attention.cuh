// attention.cuh: what the attention kernel files share: the fused GAU
// attention of kernels/cpu/attention.go, forward and backward, float32 (the
// forward also with a bfloat16 X, on CUDA cores or on tensor cores).
//
// Inputs of one layer: X [B·L, W = 2E+D] = [u | v | z], γq, γk [D], the key
// mask [B·L] (int64, nonzero = valid key; null = all valid), position ids
// [B·L] (int64; null = 0..L-1), the policy as scalars (see ABI.md), and from
// the host per sequence sc_b = c(n_b)·m/sqrt(D) and bscale_b = c(n_b)/sqrt(D).
//
// Kernels, in launch order, and their files:
//   gau_attn_prep_*       (attention_fwd.cu) q, k after ScaleOffset, CosScale
//                     and the rotation(s) into a workspace (qr = sc·R(pos)q̃,
//                     kr = R(pos)k̃, and for ReRoPE / LM-Infinite also
//                     qc = sc·R(w-1)q̃, q0 = sc·R(0)q̃, kc = R(w-1)k̃,
//                     k0 = R(0)k̃), one warp per row. The forward and the
//                     backward both start with it.
//   gau_attn_fwd_*_cN    (attention_fwd.cu) online softmax and A·V; writes O and
//                     the row log-sum-exp into out [B·L, E+1]. Never stores
//                     L×L.
//   gau_attn_fwd_tc_*     (attention_tc.cu) the same forward for bfloat16 on
//                     tensor cores, where it applies.
//   gau_attn_bwd_delta    (attention_bwd.cu) δ_i = dO_i·O_i.
//   gau_attn_bwd_main     (attention_bwd.cu) the gradients wrt the rotated
//                     vectors, per key block and query tile: scores, P, dV
//                     and dPd, dS, route (the phases of cpu.Attention.Backward).
//   gau_attn_bwd_post     (attention_bwd.cu) back through the rotation, CosScale
//                     and ScaleOffset into dz and the packed dγq, dγk rows of dx.
//
// Pair classes follow attn.Policy: mask_mode 0 none, 1 StreamingLLM/LM-Infinite
// (keep |i-j| <= radius or i < sinks or j < sinks), 2 windowed (keep
// |i-j| <= radius); far_w > 0 (ReRoPE's w, LM-Infinite's n0) makes kept pairs
// with |i-j| >= far_w use the clamped rotation with the sign of j-i kept;
// slope != 0 adds ALiBi's -slope·|i-j| (times bscale_b).
#pragma once

#include "common.cuh"

#define ATT_THREADS 256
#define ATT_WARPS 8
#define ATT_MAXD 256  // largest key size D (even); the host checks
#define ATT_MAXP (ATT_MAXD / 64)  // rotation pairs per lane

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
