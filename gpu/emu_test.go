//go:build gpuemu

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/infoscale/gaualpha/gpu/driver"
)

// TestMain stops the emulator's tests when the kernel sources differ from
// the ones compiled in (driver.CheckEmuSources).
func TestMain(m *testing.M) {
	if err := driver.CheckEmuSources(filepath.Join("..", "kernels", "cuda")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// TestEmuOrders checks the seeded orders. gau_scatter_add_f32, summing values
// of mixed magnitude into one row (every block adds to the same elements
// with atomicAdd), gives different float32 sums from launch to launch, as
// the block and thread orders change, and the same sequence of sums on a
// second device opened with the same seed. A GEMM whose k is long enough
// for split-k gives the same result at every call (cuBLAS is deterministic
// for a shape) and different ones under different seeds. Every sum is
// within float32 summation error of the float64 sum.
func TestEmuOrders(t *testing.T) {
	testDevice(t)
	const rows, n, runs = 600, 32, 8
	rng := rand.New(rand.NewPCG(21, 1))
	dout := make([]float32, rows*n)
	for i := range dout {
		dout[i] = float32(rng.NormFloat64() * math.Exp(4*rng.NormFloat64()))
	}
	ids := make([]int64, rows) // every row into row 0
	const gm, gn, gk = 8, 4, 256
	ga := make([]float32, gm*gk)
	gb := make([]float32, gk*gn)
	for i := range ga {
		ga[i] = float32(rng.NormFloat64())
	}
	for i := range gb {
		gb[i] = float32(rng.NormFloat64() * math.Exp(2*rng.NormFloat64()))
	}
	// sequence opens a device with the seed and runs both runs times.
	sequence := func(seed string) (sums, prods [][]float32) {
		t.Setenv("GAU_EMU_SEED", seed)
		d, err := Open(0)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		pd, pi := upload(t, d, dout), upload(t, d, ids)
		pa, pb := upload(t, d, ga), upload(t, d, gb)
		for r := 0; r < runs; r++ {
			out := zeroBuf(t, d, n)
			must(t, d.ScatterAdd(out, pd, pi, rows, n, 1))
			sums = append(sums, download[float32](t, d, out, n))
			c := nanBuf(t, d, gm*gn)
			must(t, d.Sgemm(false, false, gm, gn, gk, 1, pa, gk, pb, gn, 0, c, gn))
			prods = append(prods, download[float32](t, d, c, gm*gn))
		}
		return sums, prods
	}
	// float64 references and the sums of |terms|: a float32 sum of m terms
	// in any order, with or without FMA, is within m·2⁻²⁴·Σ|terms| of the
	// exact sum.
	want, abs := make([]float64, n), make([]float64, n)
	for i, v := range dout {
		want[i%n] += float64(v)
		abs[i%n] += math.Abs(float64(v))
	}
	wantP, absP := make([]float64, gm*gn), make([]float64, gm*gn)
	for i := 0; i < gm; i++ {
		for j := 0; j < gn; j++ {
			for p := 0; p < gk; p++ {
				v := float64(ga[i*gk+p]) * float64(gb[p*gn+j])
				wantP[i*gn+j] += v
				absP[i*gn+j] += math.Abs(v)
			}
		}
	}
	near := func(what string, got []float32, want, abs []float64, terms int) {
		for i, g := range got {
			if e := math.Abs(float64(g) - want[i]); !(e <= float64(terms)*0x1p-24*abs[i]) {
				t.Errorf("%s, element %d: %g, float64 sum %g", what, i, g, want[i])
			}
		}
	}
	s1, p1 := sequence("1")
	s2, _ := sequence("1")
	seen := map[string]bool{}
	for r := range s1 {
		if !slices.Equal(s1[r], s2[r]) {
			t.Errorf("scatter_add, run %d: the sums differ between two devices with the same seed", r)
		}
		seen[fmt.Sprint(s1[r])] = true
		near(fmt.Sprintf("scatter_add, run %d", r), s1[r], want, abs, rows)
		if !slices.Equal(p1[r], p1[0]) {
			t.Errorf("sgemm, run %d: differs from run 1 with the same shape and seed", r)
		}
	}
	if len(seen) < 2 {
		t.Errorf("scatter_add: all %d runs give the same sums: the orders do not change", runs)
	}
	t.Logf("scatter_add: %d distinct sums in %d runs", len(seen), runs)
	seenP := map[string]bool{}
	for seed := 1; seed <= 6; seed++ {
		_, p := sequence(fmt.Sprint(seed))
		seenP[fmt.Sprint(p[0])] = true
		near(fmt.Sprintf("sgemm, seed %d", seed), p[0], wantP, absP, gk)
	}
	if len(seenP) < 2 {
		t.Error("sgemm: six seeds give the same result: the split-k slicing does not change")
	}
	t.Logf("sgemm: %d distinct results under 6 seeds", len(seenP))
}
