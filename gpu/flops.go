package gpu

// AttentionFLOPs is the floating-point operation count every attention
// timing (Go and PyTorch, scripts/bench_torch_gpu.py's attn_flops) divides
// by, whatever the implementation computes: the matrix products of B
// sequences of L positions with key size D and value width E, forward
// 2·B·L²·(D+E) (the logits q·kᵀ and A·V), backward 2·B·L²·(3D+2E) (the
// logits again, dV, dP, dq and dk).
func AttentionFLOPs(B, L, D, E int, backward bool) float64 {
	per := float64(D + E)
	if backward {
		per = float64(3*D + 2*E)
	}
	return 2 * float64(B) * float64(L) * float64(L) * per
}
