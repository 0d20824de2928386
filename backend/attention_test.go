package backend

import (
	"strings"
	"testing"
)

// TestOpenAttention: -attention takes auto (or nothing), fused or
// materialized; an unknown value and a path forced on the CPU (which has
// one attention kernel) are one-line errors naming the flag.
func TestOpenAttention(t *testing.T) {
	cases := []struct {
		device, attention string
		want              string // "": no error
	}{
		{"cpu", "", ""},
		{"cpu", "auto", ""},
		{"cpu", "fused", "-attention fused: the CPU has one attention kernel"},
		{"cpu", "materialized", "-attention materialized: the CPU has one attention kernel"},
		{"cpu", "tiled", `-attention: unknown path "tiled"`},
		{"cuda", "materialised", `-attention: unknown path "materialised"`},
	}
	for _, c := range cases {
		be, err := OpenOptions(Options{Device: c.device, Attention: c.attention})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s, -attention %q: %v", c.device, c.attention, err)
		case c.want == "" && be.Device() != CPU:
			t.Errorf("%s, -attention %q: device %s", c.device, c.attention, be.Device())
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%s, -attention %q: %v, want one line containing %q", c.device, c.attention, err, c.want)
		}
	}
	for _, v := range []string{"", "auto", "fused", "materialized"} {
		if err := CheckAttention(v); err != nil {
			t.Errorf("CheckAttention(%q): %v", v, err)
		}
	}
	if _, err := OpenOptions(Options{AttentionBudget: -1}); err == nil {
		t.Error("a negative attention budget: no error")
	}
}
