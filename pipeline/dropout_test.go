package pipeline

import (
	"math"
	"testing"
)

func TestKeepRate(t *testing.T) {
	for _, p := range []float64{0, 0.1, 0.5, 0.9} {
		const n = 200000
		thr := DropThreshold(p)
		kept := 0
		for i := uint64(0); i < n; i++ {
			if Keep(StreamKey(42, 7), 3, i, thr) {
				kept++
			}
		}
		got := float64(kept) / n
		// Binomial standard error at n = 2e5 is at most 1.2e-3; 5e-3 is
		// four of them.
		if math.Abs(got-(1-p)) > 5e-3 {
			t.Errorf("p=%v: kept %.4f, want %.4f", p, got, 1-p)
		}
	}
}

func TestStreamsDiffer(t *testing.T) {
	thr := DropThreshold(0.5)
	same := 0
	const n = 10000
	for i := uint64(0); i < n; i++ {
		if Keep(StreamKey(1, 1), 0, i, thr) == Keep(StreamKey(1, 2), 0, i, thr) {
			same++
		}
	}
	// Independent masks agree on about half the elements.
	if same < 4700 || same > 5300 {
		t.Errorf("masks of two steps agree on %d of %d elements", same, n)
	}
	if Keep(StreamKey(1, 1), 0, 5, thr) != Keep(StreamKey(1, 1), 0, 5, thr) {
		t.Error("Keep is not a pure function")
	}
}

func TestShiftSite(t *testing.T) {
	if g, inv := uint64(golden), uint64(goldenInverse); g*inv != 1 {
		t.Fatalf("goldenInverse is not golden's inverse modulo 2^64")
	}
	thr := DropThreshold(0.5)
	for _, c := range []struct{ site, offset uint64 }{{0, 0}, {3, 1}, {7, 64 * 128}, {1 << 40, 1<<63 + 5}, {^uint64(0), 12345}} {
		shifted := ShiftSite(c.site, c.offset)
		for i := uint64(0); i < 2000; i++ {
			key := StreamKey(42, i)
			if Keep(key, shifted, i, thr) != Keep(key, c.site, c.offset+i, thr) {
				t.Fatalf("site %d shifted by %d: element %d differs from element %d of the unshifted site", c.site, c.offset, i, c.offset+i)
			}
		}
	}
}
