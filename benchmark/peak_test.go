package benchmark

import (
	"strings"
	"testing"
)

// caseFlops against hand-computed counts for the paper model (h = 768,
// e = 1536, d = 128): per layer over N = 4096 tokens, X·W_iᵀ is
// 2·4096·768·3200 = 20132659200 flops, Y·W_oᵀ 2·4096·1536·768 =
// 9663676416, and attention over B = 8 sequences of 512 is
// 2·8·512²·(128+1536) = 6979321856.
func TestCaseFlops(t *testing.T) {
	const in, out, att = 20132659200.0, 9663676416.0, 6979321856.0
	for _, tc := range []struct {
		name string
		want float64
	}{
		{"layer_fwd", in + out + att},
		{"layer_fwdbwd", 3 * (in + out + att)},
		{"attn_fwd_1024", 2 * 1024 * 1024 * 1664},
		{"attn_bwd_1024", 4 * 1024 * 1024 * 1664},
		{"sgemm_bf16", 3 * (in + out)},
		{"idle", 0},
		{"eval_window_65536", 0},
	} {
		c, ok := Find(tc.name)
		if !ok {
			t.Fatalf("no case %s", tc.name)
		}
		if got := caseFlops(c, 0); got != tc.want {
			t.Errorf("%s: %.0f flops, want %.0f", tc.name, got, tc.want)
		}
	}
}

// The share column: flops per second of the Go time over the peak on the
// run's threads (the bfloat16 peak for sgemm_bf16); "—" without a peak or
// a flop count.
func TestPeakShare(t *testing.T) {
	p := &Peak{Unit: "512-bit FMA", Threads: 2, PerCore: 200, All: 400, BF16: 800}
	lf, _ := Find("layer_fwd")
	bf, _ := Find("sgemm_bf16")
	idle, _ := Find("idle")
	flops := caseFlops(lf, 0)
	if got := p.share(lf, &Result{Seconds: flops / 100e9}); got != "25%" {
		t.Errorf("layer_fwd at 100 GFLOP/s of 400: %s, want 25%%", got)
	}
	if got := p.share(bf, &Result{Seconds: caseFlops(bf, 0) / 400e9}); got != "50%" {
		t.Errorf("sgemm_bf16 at 400 GFLOP/s of a bf16 peak of 800: %s, want 50%%", got)
	}
	var none *Peak
	for _, got := range []string{p.share(idle, &Result{Seconds: 1}), p.share(lf, nil), none.share(lf, &Result{Seconds: 1})} {
		if got != "—" {
			t.Errorf("share without flops, Result or peak: %q", got)
		}
	}
	if d := p.Describe(); !strings.Contains(d, "512-bit FMA") || !strings.Contains(d, "400 GFLOP/s on 2 threads") || !strings.Contains(d, "800 GFLOP/s") {
		t.Errorf("describe: %s", d)
	}
	p.OtherCores = 0.5
	if d := p.Describe(); !strings.Contains(d, "† (other processes kept 0.50 cores busy") {
		t.Errorf("describe on a busy machine: %s", d)
	}
}
