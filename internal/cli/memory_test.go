package cli

import (
	"math"
	"strings"
	"testing"
)

func TestMemoryBudget(t *testing.T) {
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1), 1e12} {
		if _, err := MemoryBudget("max-memory", bad); err == nil || !strings.Contains(err.Error(), "-max-memory") {
			t.Errorf("-max-memory %v: error %v, want one naming the flag", bad, err)
		}
	}
	b, err := MemoryBudget("max-memory", 1.5)
	if err != nil || b.Bytes != 3<<29 || b.Source != "-max-memory" {
		t.Errorf("1.5 GiB: %+v, %v", b, err)
	}
	if err := b.Check("x", 3<<29); err != nil {
		t.Errorf("need equal to the budget refused: %v", err)
	}
	err = b.Check("training", 3<<30)
	if err == nil || err.Error() != "training needs about 3.0 GiB, over the memory budget of 1.5 GiB, -max-memory" {
		t.Errorf("over budget: %v", err)
	}
}

func TestGiB(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0.000 GiB"}, {1 << 20, "0.001 GiB"}, {1 << 29, "0.500 GiB"}, {1 << 30, "1.0 GiB"}, {math.MaxInt64, "8589934592.0 GiB"}} {
		if got := GiB(c.n); got != c.want {
			t.Errorf("GiB(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
