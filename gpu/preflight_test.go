//go:build gpu || gpuemu

package gpu

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// PreflightOutEnv names the file TestPreflight writes its report to
// (scripts/gpu-check.sh sets it).
const PreflightOutEnv = "GAUALPHA_PREFLIGHT_OUT"

// TestPreflight runs Preflight on device 0 and fails on what would stop a
// kernel from launching: a module that does not load, a kernel not found, a
// block larger than the compiled kernel allows, no block fitting on a
// multiprocessor. It prints the report (and writes it to the file named by
// GAUALPHA_PREFLIGHT_OUT) and a GAUALPHA_PREFLIGHT line for
// scripts/gpu-check.sh. Without a GPU it skips, printing which cuBLAS
// would load.
func TestPreflight(t *testing.T) {
	r, err := Preflight(0)
	if r == nil {
		t.Fatalf("Preflight returned no report: %v", err)
	}
	fmt.Printf("GAUALPHA_PREFLIGHT %s\n", r.Summary())
	var md strings.Builder
	if werr := r.WriteMarkdown(&md); werr != nil {
		t.Fatal(werr)
	}
	fmt.Print(md.String())
	if path := os.Getenv(PreflightOutEnv); path != "" {
		if werr := os.WriteFile(path, []byte(md.String()), 0o644); werr != nil {
			t.Fatalf("writing the report: %v", werr)
		}
	}
	if errors.Is(err, ErrNoDevice) {
		t.Skipf("no GPU to test on: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Modules) == 0 {
		t.Fatal("no module loaded")
	}
	seen := map[string]bool{}
	for _, k := range r.Kernels {
		seen[k.Name] = true
		if k.Block < 1 || k.Block > 1024 || k.DynSmem < 0 {
			t.Errorf("%s: launch shape %d threads, %d bytes", k.Name, k.Block, k.DynSmem)
		}
		switch {
		case emulated():
			if !strings.Contains(k.Err, "emulator") {
				t.Errorf("%s: the emulator reported attributes %+v (err %q)", k.Name, k.Attrs, k.Err)
			}
		case k.Unused != "":
			t.Logf("%s: %s", k.Name, k.Unused)
		case k.Err != "":
			t.Errorf("%s: %s", k.Name, k.Err)
		case k.Attrs.Registers < 1 || k.Attrs.MaxThreads < 1 || k.Occupancy <= 0 || k.Occupancy > 1:
			t.Errorf("%s: implausible attributes %+v, occupancy %v", k.Name, k.Attrs, k.Occupancy)
		}
	}
	for name := range kernelSigs {
		if !seen[name] {
			t.Errorf("kernel %s missing from the report", name)
		}
	}
	for _, p := range r.Problems {
		t.Errorf("preflight: %s", p)
	}
	for _, w := range r.Warnings {
		t.Logf("preflight: %s", w)
	}
}

// TestLaunchShape checks launchShape against the attention launches'
// shared-memory formulas and the generic shape.
func TestLaunchShape(t *testing.T) {
	for _, c := range []struct {
		name        string
		block, smem int
	}{
		{"gau_swish_f32", 256, 0},
		{"gau_attn_prep_f32", 256, 0},
		{"gau_attn_fwd_f32_c3", 256, attnFwdSmem(128, 3)},
		{"gau_attn_fwd_bf16_c6", 256, attnFwdSmem(128, 3)},
		{"gau_attn_fwd_tc_bf16_d64_s2", 256, attnFwdTCSmem(64, 2)},
		// 2·(2·64·136 + 64·520 + 64·72) + 4·5·64 + 4·64 (attention_tc.cu).
		{"gau_attn_fwd_tc_bf16_d128_s1", 256, 112128},
		// 2·(3·64·136 + 2·64·520 + 64·72) + 4·5·64 + 4·64.
		{"gau_attn_fwd_tc_bf16_d128_s2", 256, 196096},
		{"gau_attn_bwd_main", 256, attnBwdSmem(128)},
		{"gau_attn_bwd_post", 256, 0},
	} {
		if b, s := launchShape(c.name); b != c.block || s != c.smem {
			t.Errorf("launchShape(%s) = %d, %d; want %d, %d", c.name, b, s, c.block, c.smem)
		}
	}
	for name := range kernelSigs {
		if _, s := launchShape(name); s > 227*1024 {
			t.Errorf("%s: %d bytes of shared memory, above an H100's 227 KiB", name, s)
		}
	}
}
