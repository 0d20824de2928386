//go:build gpuemu

package gpu

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestMain stops the emulator's tests when the kernel sources differ from
// the ones compiled in: Go's build cache does not track the .cu files that
// emu.cc includes from kernels/cuda, so after an edit the emulator would
// silently run the old kernels.
func TestMain(m *testing.M) {
	cur, err := kernelSourcesHash(filepath.Join("..", "kernels", "cuda"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "gpu: cannot hash the kernel sources:", err)
		os.Exit(2)
	}
	if built := emuSourcesHash(); built != cur {
		fmt.Fprintf(os.Stderr, "gpu: the emulator was built from other kernel sources than kernels/cuda holds now\n"+
			"(compiled %s, current %s): run scripts/ptx-check.sh (or --hash without nvcc) to update\n"+
			"gpu/emu_sources.h, which makes Go rebuild emu.cc\n", built, cur)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// kernelSourcesHash is scripts/ptx-check.sh's sources_hash: SHA-256 of
// *.cu, then *.cuh, then emu/*.h, each group in byte order.
func kernelSourcesHash(dir string) (string, error) {
	h := sha256.New()
	for _, pat := range []string{"*.cu", "*.cuh", "emu/*.h"} {
		files, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return "", err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TestEmuFMA checks that the kernels are compiled with FMA contraction as
// nvcc compiles them (--fmad=true): a·b + c with a = b = 1+2⁻¹² and c = -1
// is 2⁻¹¹ + 2⁻²⁴ fused and 2⁻¹¹ with the product rounded first (its 2⁻²⁴ is
// half an ulp, which rounds to even); the same in float64 with 1+2⁻²⁷.
// __fadd_rn and __fmul_rn must not be fused, even around a plain product.
func TestEmuFMA(t *testing.T) {
	a32 := float32(1 + 0x1p-12)
	a64 := 1 + 0x1p-27
	fused32, rounded32 := float32(0x1p-11+0x1p-24), float32(0x1p-11)
	fused64, rounded64 := 0x1p-26+0x1p-54, 0x1p-26
	// The constants are what they say (independently of the emulator).
	if f := float32(math.FMA(float64(a32), float64(a32), -1)); f != fused32 || a32*a32-1 == fused32 {
		t.Fatalf("test constants: fused %g, want %g", f, fused32)
	}
	if math.FMA(a64, a64, -1) != fused64 {
		t.Fatal("test constants (float64)")
	}
	out, outd, err := emuProbeFMA([3]float32{a32, a32, -1}, [3]float64{a64, a64, -1})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		what      string
		got, want float64
	}{
		{"float32 a*b + c (contracted)", float64(out[0]), float64(fused32)},
		{"float32 __fadd_rn(__fmul_rn(a, b), c)", float64(out[1]), float64(rounded32)},
		{"float32 __fadd_rn(a*b, c)", float64(out[2]), float64(rounded32)},
		{"float32 fmaf(a, b, c)", float64(out[3]), float64(fused32)},
		{"float64 a*b + c (contracted)", outd[0], fused64},
		{"float64 __dadd_rn(__dmul_rn(a, b), c)", outd[1], rounded64},
		{"float64 __dadd_rn(a*b, c)", outd[2], rounded64},
		{"float64 fma(a, b, c)", outd[3], fused64},
	} {
		if c.got != c.want {
			t.Errorf("%d: %s = %g, want %g", i, c.what, c.got, c.want)
		}
	}
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

// TestEmuSettings checks the parsing of GAU_EMU_SEED and GAU_EMU_ORDER.
func TestEmuSettings(t *testing.T) {
	for _, c := range []struct {
		seed string
		want uint64
		ok   bool
	}{{"", defaultSeed, true}, {"7", 7, true}, {"0x10", 16, true}, {"18446744073709551615", math.MaxUint64, true},
		{"-1", 0, false}, {"seven", 0, false}, {"1.5", 0, false}} {
		got, err := emuSeed(c.seed)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("GAU_EMU_SEED=%q: %d, %v; want %d (ok %v)", c.seed, got, err, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		order string
		ok    bool
	}{{"", true}, {"random", true}, {"forward", true}, {"reverse", true}, {"backward", false}} {
		if _, err := emuOrder(c.order); (err == nil) != c.ok {
			t.Errorf("GAU_EMU_ORDER=%q: %v", c.order, err)
		}
	}
	t.Setenv("GAU_EMU_SEED", "x")
	if _, err := Open(0); err == nil || !strings.Contains(err.Error(), "GAU_EMU_SEED") {
		t.Errorf("Open with GAU_EMU_SEED=x: %v, want an error naming it", err)
	}
}
