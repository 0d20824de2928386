package device

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, s := range []string{"", "cpu"} {
		if k, err := Parse(s); err != nil || k != CPU {
			t.Errorf("Parse(%q) = %v, %v", s, k, err)
		}
	}
	if _, err := Parse("tpu"); err == nil || !strings.Contains(err.Error(), "unknown device") {
		t.Errorf("tpu: %v", err)
	}
	_, err := Parse("cuda")
	switch {
	case gpuBuilt && executorBuilt:
		if err != nil {
			t.Errorf("cuda in a gpu build: %v", err)
		}
	case gpuBuilt:
		if err == nil || !strings.Contains(err.Error(), "executor") {
			t.Errorf("cuda without the executor: %v", err)
		}
	default:
		if err == nil || !strings.Contains(err.Error(), "-tags gpu") {
			t.Errorf("cuda without the gpu tag: %v", err)
		}
	}
}

func TestPrecision(t *testing.T) {
	for _, c := range []struct {
		kind      Kind
		s         string
		bf16      bool
		wantError string
	}{
		{CPU, "", false, ""}, {CPU, "f32", false, ""}, {CUDA, "f32", false, ""}, {CUDA, "bf16", true, ""},
		{CPU, "bf16", false, "needs -device cuda"}, {CUDA, "fp8", false, `unknown precision "fp8"`},
	} {
		bf, err := Precision(c.kind, c.s)
		if c.wantError == "" && (err != nil || bf != c.bf16) {
			t.Errorf("Precision(%q, %q) = %v, %v; want %v", c.kind, c.s, bf, err, c.bf16)
		}
		if c.wantError != "" && (err == nil || !strings.Contains(err.Error(), c.wantError)) {
			t.Errorf("Precision(%q, %q): %v, want an error containing %q", c.kind, c.s, err, c.wantError)
		}
	}
}
