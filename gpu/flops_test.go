package gpu

import "testing"

// TestAttentionFLOPs checks the count against hand-computed values.
func TestAttentionFLOPs(t *testing.T) {
	for _, c := range []struct {
		B, L, D, E int
		bwd        bool
		want       float64
	}{
		{1, 1024, 128, 1536, false, 2 * 1024 * 1024 * 1664},
		{8, 1024, 128, 1536, false, 8 * 2 * 1024 * 1024 * 1664},
		{1, 4, 2, 3, true, 2 * 16 * (6 + 6)},
		{2, 4, 2, 3, true, 2 * 2 * 16 * (6 + 6)},
	} {
		if got := AttentionFLOPs(c.B, c.L, c.D, c.E, c.bwd); got != c.want {
			t.Errorf("AttentionFLOPs(%d, %d, %d, %d, %v) = %v, want %v", c.B, c.L, c.D, c.E, c.bwd, got, c.want)
		}
	}
}
