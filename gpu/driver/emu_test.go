//go:build gpuemu

package driver

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain stops the tests when the kernel sources differ from the ones
// the emulator was compiled from (CheckEmuSources).
func TestMain(m *testing.M) {
	if err := CheckEmuSources(filepath.Join("..", "..", "kernels", "cuda")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Exit(m.Run())
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
	out, outd, err := EmuProbeFMA([3]float32{a32, a32, -1}, [3]float64{a64, a64, -1})
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
