//go:build gpu || gpuemu

package gpu

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// kernelSig is a kernel's module and its parameter struct (args.go).
type kernelSig struct {
	module string
	args   reflect.Type
}

// KernelPrefix starts the name of every kernel of kernels/cuda, so that one
// compute-sanitizer filter, kns=gau_ (a substring of the name; the key every
// version of the tool documents for --kernel-name, --kernel-regex and
// --filter), selects all of them and none of cuBLAS's.
const KernelPrefix = "gau_"

func argsOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// kernelSigs is every kernel this package launches. TestABI and Open check
// it against the .entry declarations of the embedded PTX (one parameter of
// the struct's size), TestArgsLayout against the C structs.
var kernelSigs = map[string]kernelSig{
	// attention_fwd.cu
	"gau_attn_prep_f32":    {"attention_fwd", argsOf[attnPrepArgs]()},
	"gau_attn_prep_bf16":   {"attention_fwd", argsOf[attnPrepArgs]()},
	"gau_attn_fwd_f32_c1":  {"attention_fwd", argsOf[attnFwdArgs]()},
	"gau_attn_fwd_f32_c2":  {"attention_fwd", argsOf[attnFwdArgs]()},
	"gau_attn_fwd_f32_c3":  {"attention_fwd", argsOf[attnFwdArgs]()},
	"gau_attn_fwd_f32_c6":  {"attention_fwd", argsOf[attnFwdArgs]()},
	"gau_attn_fwd_bf16_c1": {"attention_fwd", argsOf[attnFwdArgs]()},
	"gau_attn_fwd_bf16_c2": {"attention_fwd", argsOf[attnFwdArgs]()},
	"gau_attn_fwd_bf16_c3": {"attention_fwd", argsOf[attnFwdArgs]()},
	"gau_attn_fwd_bf16_c6": {"attention_fwd", argsOf[attnFwdArgs]()},
	// attention_tc.cu
	"gau_attn_fwd_tc_bf16_d16_s1":  {"attention_tc", argsOf[attnFwdTCArgs]()},
	"gau_attn_fwd_tc_bf16_d32_s1":  {"attention_tc", argsOf[attnFwdTCArgs]()},
	"gau_attn_fwd_tc_bf16_d64_s1":  {"attention_tc", argsOf[attnFwdTCArgs]()},
	"gau_attn_fwd_tc_bf16_d128_s1": {"attention_tc", argsOf[attnFwdTCArgs]()},
	"gau_attn_fwd_tc_bf16_d16_s2":  {"attention_tc", argsOf[attnFwdTCArgs]()},
	"gau_attn_fwd_tc_bf16_d32_s2":  {"attention_tc", argsOf[attnFwdTCArgs]()},
	"gau_attn_fwd_tc_bf16_d64_s2":  {"attention_tc", argsOf[attnFwdTCArgs]()},
	"gau_attn_fwd_tc_bf16_d128_s2": {"attention_tc", argsOf[attnFwdTCArgs]()},
	// attention_mat.cu
	"gau_attn_mat_softmax_f32":  {"attention_mat", argsOf[attnMatSoftmaxArgs]()},
	"gau_attn_mat_softmax_bf16": {"attention_mat", argsOf[attnMatSoftmaxArgs]()},
	"gau_attn_mat_ds_f32":       {"attention_mat", argsOf[attnMatDSArgs]()},
	"gau_attn_mat_ds_bf16":      {"attention_mat", argsOf[attnMatDSArgs]()},
	// attention_bwd.cu
	"gau_attn_bwd_delta": {"attention_bwd", argsOf[attnBwdDeltaArgs]()},
	"gau_attn_bwd_main":  {"attention_bwd", argsOf[attnBwdMainArgs]()},
	"gau_attn_bwd_post":  {"attention_bwd", argsOf[attnBwdPostArgs]()},
	// elementwise.cu
	"gau_swish_f32":       {"elementwise", argsOf[swishArgs]()},
	"gau_swish_grad_f32":  {"elementwise", argsOf[swishGradArgs]()},
	"gau_norm_f32":        {"elementwise", argsOf[normArgs]()},
	"gau_norm_grad_f32":   {"elementwise", argsOf[normGradArgs]()},
	"gau_gate_f32":        {"elementwise", argsOf[gateArgs]()},
	"gau_gate_grad_x_f32": {"elementwise", argsOf[gateGradXArgs]()},
	"gau_gate_grad_o_f32": {"elementwise", argsOf[gateGradOArgs]()},
	"gau_add_f32":         {"elementwise", argsOf[addArgs]()},
	"gau_to_bf16_f32":     {"elementwise", argsOf[toBF16Args]()},
	"gau_dropout_f32":     {"elementwise", argsOf[dropoutArgs]()},
	"gau_unpack_f32":      {"elementwise", argsOf[unpackArgs]()},
	// embed.cu
	"gau_gather_f32":      {"embed", argsOf[gatherArgs]()},
	"gau_scatter_add_f32": {"embed", argsOf[scatterAddArgs]()},
	// optim.cu
	"gau_adamw_f32":  {"optim", argsOf[adamwArgs]()},
	"gau_sqnorm_f32": {"optim", argsOf[sqnormArgs]()},
	"gau_clip_f32":   {"optim", argsOf[clipArgs]()},
	// xent.cu
	"gau_xent_count_f32":  {"xent", argsOf[xentCountArgs]()},
	"gau_xent_rows_f32":   {"xent", argsOf[xentRowsArgs]()},
	"gau_xent_reduce_f32": {"xent", argsOf[xentReduceArgs]()},
	"gau_xent_grad_f32":   {"xent", argsOf[xentGradArgs]()},
}

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
// with kernelSigs: the same kernels, each with one parameter, an aggregate
// (.b8) of its Go struct's size.
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
		want := fmt.Sprintf("b8[%d]", sig.args.Size())
		if len(params) != 1 || params[0] != want {
			problems = append(problems, fmt.Sprintf("%s: parameters %v in the PTX; Go passes one struct %s of %d bytes (.%s)", name, params, sig.args.Name(), sig.args.Size(), want))
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
