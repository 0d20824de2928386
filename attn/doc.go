// Package attn holds the attention policy of the GAU-α model: the
// normalisation temperature (softmax, softmax_plus, InfoScale), CosScale, and
// the positional method (RoPE and the length-extrapolation baselines PI,
// NTK-aware, YaRN, PoSE, ALiBi, StreamingLLM, LM-Infinite, ReRoPE and windowed
// attention).
//
// A Policy answers, for a sequence of length L with n valid keys, every
// question the attention kernels ask: the logit factor for a row, the RoPE
// frequencies, whether a query/key pair is kept, whether it uses the clamped
// ("far") rotation, and the additive bias. It holds no tensors; masks are
// computed on the fly per element or per block, never as an L×L table.
//
// The logit of the pair (i, j) in a sequence with n valid keys is
//
//	a_ij = c(n) · (m · q̃_i·k̃_j + bias_ij) / sqrt(d)
//
// where c is the normalisation factor (Factor), m the method's logit
// multiplier (YaRN's mscale², else 1), and q̃, k̃ the rotated query and key.
// ALiBi's bias is −ALiBiSlope·|i−j| inside the bracket; its default slope
// is Press et al.'s m = 2^-8 on the scaled logits (PressALiBiSlope), so
// that a_ij = c(n)·(q̃_i·k̃_j/sqrt(d) − m·|i−j|).
// See docs/methods.md for each method's formula and where this package
// differs from the authors' released code.
package attn
