//go:build gpu || gpuemu

package gpu

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// kernelSig is the parameter list of one kernel, one letter per parameter:
// 'p' device pointer, 'i' int64, 'u' uint64, 'f' float64 (kernels/cuda/ABI.md).
// Every parameter is 8 bytes: the launch copies 8 bytes per parameter.
type kernelSig struct {
	module string
	params string
}

// KernelPrefix starts the name of every kernel of kernels/cuda, so that one
// compute-sanitizer filter, kns=gau_ (a substring of the name; the key every
// version of the tool documents for --kernel-name, --kernel-regex and
// --filter), selects all of them and none of cuBLAS's.
const KernelPrefix = "gau_"

// kernelSigs is every kernel this package launches. TestABI and Open check
// it against the .entry declarations of the embedded PTX.
var kernelSigs = map[string]kernelSig{
	// attention_fwd.cu
	"gau_attn_prep_f32":    {"attention_fwd", "pppppppppppp" + "iiiii" + "f"},
	"gau_attn_prep_bf16":   {"attention_fwd", "pppppppppppp" + "iiiii" + "f"},
	"gau_attn_fwd_f32_c1":  {"attention_fwd", fwdSig},
	"gau_attn_fwd_f32_c2":  {"attention_fwd", fwdSig},
	"gau_attn_fwd_f32_c3":  {"attention_fwd", fwdSig},
	"gau_attn_fwd_f32_c6":  {"attention_fwd", fwdSig},
	"gau_attn_fwd_bf16_c1": {"attention_fwd", fwdSig},
	"gau_attn_fwd_bf16_c2": {"attention_fwd", fwdSig},
	"gau_attn_fwd_bf16_c3": {"attention_fwd", fwdSig},
	"gau_attn_fwd_bf16_c6": {"attention_fwd", fwdSig},
	// attention_tc.cu
	"gau_attn_fwd_tc_bf16_d16_s1":  {"attention_tc", fwdTCSig},
	"gau_attn_fwd_tc_bf16_d32_s1":  {"attention_tc", fwdTCSig},
	"gau_attn_fwd_tc_bf16_d64_s1":  {"attention_tc", fwdTCSig},
	"gau_attn_fwd_tc_bf16_d128_s1": {"attention_tc", fwdTCSig},
	"gau_attn_fwd_tc_bf16_d16_s2":  {"attention_tc", fwdTCSig},
	"gau_attn_fwd_tc_bf16_d32_s2":  {"attention_tc", fwdTCSig},
	"gau_attn_fwd_tc_bf16_d64_s2":  {"attention_tc", fwdTCSig},
	"gau_attn_fwd_tc_bf16_d128_s2": {"attention_tc", fwdTCSig},
	// attention_mat.cu
	"gau_attn_mat_softmax_f32":  {"attention_mat", matSoftmaxSig},
	"gau_attn_mat_softmax_bf16": {"attention_mat", matSoftmaxSig},
	"gau_attn_mat_ds_f32":       {"attention_mat", matDSSig},
	"gau_attn_mat_ds_bf16":      {"attention_mat", matDSSig},
	// attention_bwd.cu
	"gau_attn_bwd_delta": {"attention_bwd", "pppiii"},
	"gau_attn_bwd_main":  {"attention_bwd", "ppppppppppppppppppp" + "iiiiiii" + "fufuu" + "i"},
	"gau_attn_bwd_post":  {"attention_bwd", "ppppppppppppp" + "iiiii" + "f"},
	// elementwise.cu
	"gau_swish_f32":       {"elementwise", "ppi"},
	"gau_swish_grad_f32":  {"elementwise", "pppi"},
	"gau_norm_f32":        {"elementwise", "ppii"},
	"gau_norm_grad_f32":   {"elementwise", "pppii"},
	"gau_gate_f32":        {"elementwise", "pppiiii"},
	"gau_gate_grad_x_f32": {"elementwise", "pppiiii"},
	"gau_gate_grad_o_f32": {"elementwise", "pppiiii"},
	"gau_add_f32":         {"elementwise", "pppi"},
	"gau_to_bf16_f32":     {"elementwise", "ppi"},
	"gau_dropout_f32":     {"elementwise", "ppiufuu"},
	"gau_unpack_f32":      {"elementwise", "ppiiii"},
	// embed.cu
	"gau_gather_f32":      {"embed", "pppiiip"},
	"gau_scatter_add_f32": {"embed", "pppiiip"},
	// optim.cu
	"gau_adamw_f32":  {"optim", "ppppiffffff"},
	"gau_sqnorm_f32": {"optim", "ppi"},
	"gau_clip_f32":   {"optim", "pipf"},
	// xent.cu
	"gau_xent_count_f32":  {"xent", "pppii"},
	"gau_xent_rows_f32":   {"xent", "pppii"},
	"gau_xent_reduce_f32": {"xent", "ppppi"},
	"gau_xent_grad_f32":   {"xent", "ppppiifp"},
}

// fwdSig: out, err, X, qr, kr, qc, q0, kc, k0, mask, bscale; L, E, D,
// mask_mode, radius, sinks, far_w; slope, thr, inv_keep, key, site; ow.
const fwdSig = "ppppppppppp" + "iiiiiii" + "fufuu" + "i"

// fwdTCSig: out, err, X, qr, k16, mask, bscale; L, E, mask_mode, radius,
// sinks; slope; ow.
const fwdTCSig = "ppppppp" + "iiiii" + "f" + "i"

// matSoftmaxSig: P, out, err, S0, S1, S2, mask, bscale; b0, g, L, E,
// mask_mode, radius, sinks, far_w; slope, thr, inv_keep, key, site;
// read_lse, ow, ld.
const matSoftmaxSig = "pppppppp" + "iiiiiiii" + "fufuu" + "iii"

// matDSSig: dS0, dS1, dS2, S0, S1, S2, dP, out, delta, mask, bscale; b0, g,
// L, E, mask_mode, radius, sinks, far_w; slope, thr, inv_keep, key, site;
// ow, ld.
const matDSSig = "ppppppppppp" + "iiiiiiii" + "fufuu" + "ii"

var (
	entryRE = regexp.MustCompile(`(?s)\.entry\s+([A-Za-z_][A-Za-z0-9_$]*)\s*\((.*?)\)`)
	paramRE = regexp.MustCompile(`\.param\s+(?:\.align\s+\d+\s+)?\.([a-z0-9]+)\s+[A-Za-z_][A-Za-z0-9_$]*(\[\d+\])?`)
)

// ptxEntries returns the kernels of a PTX module and their parameter types
// ("u64", "f64", ... or "b8[16]" for an aggregate).
func ptxEntries(ptx string) map[string][]string {
	out := map[string][]string{}
	for _, m := range entryRE.FindAllStringSubmatch(ptx, -1) {
		var params []string
		for _, p := range paramRE.FindAllStringSubmatch(m[2], -1) {
			params = append(params, p[1]+p[2])
		}
		out[m[1]] = params
	}
	return out
}

// checkPTXSignatures compares the .entry declarations of one module's PTX
// with kernelSigs: the same kernels, the same parameter count, 64-bit
// integer parameters where Go passes a pointer, int64 or uint64, and f64
// where it passes a float64.
func checkPTXSignatures(module, ptx string) error {
	entries := ptxEntries(ptx)
	var problems []string
	for name, sig := range kernelSigs {
		if sig.module != module {
			continue
		}
		params, ok := entries[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: missing from the PTX", name))
			continue
		}
		if len(params) != len(sig.params) {
			problems = append(problems, fmt.Sprintf("%s: %d parameters in the PTX, %d in Go", name, len(params), len(sig.params)))
			continue
		}
		for i, p := range params {
			want := "u64"
			if sig.params[i] == 'f' {
				want = "f64"
			}
			if p != want && !(want == "u64" && (p == "b64" || p == "s64")) {
				problems = append(problems, fmt.Sprintf("%s: parameter %d is .%s in the PTX, Go passes %c", name, i, p, sig.params[i]))
			}
		}
	}
	for name := range entries {
		if sig, ok := kernelSigs[name]; !ok || sig.module != module {
			problems = append(problems, fmt.Sprintf("%s: in the PTX of %s but not in kernelSigs", name, module))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("gpu: kernel ABI of module %s:\n\t%s", module, strings.Join(problems, "\n\t"))
	}
	return nil
}

// Arg is a kernel argument: DevicePtr, I64, U64 or F64, nothing else (cu's
// ABI: 8 bytes per parameter).
type Arg interface {
	abi() (kind byte, bits uint64)
}

// I64 is an int64 kernel argument.
type I64 int64

// U64 is a uint64 kernel argument.
type U64 uint64

// F64 is a float64 kernel argument.
type F64 float64

func (v I64) abi() (byte, uint64)       { return 'i', uint64(v) }
func (v U64) abi() (byte, uint64)       { return 'u', uint64(v) }
func (v F64) abi() (byte, uint64)       { return 'f', f64bits(float64(v)) }
func (p DevicePtr) abi() (byte, uint64) { return 'p', uint64(p) }
