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
	if gpuBuilt {
		if err != nil {
			t.Errorf("cuda in a gpu build: %v", err)
		}
	} else if err == nil || !strings.Contains(err.Error(), "-tags gpu") {
		t.Errorf("cuda without the gpu tag: %v", err)
	}
}
