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
