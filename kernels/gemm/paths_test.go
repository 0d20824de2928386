package gemm

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestKernelPaths names, in one line, the kernels every test of this
// package runs (allImpls forces each supported one in turn) and those this
// CPU lacks, and checks SgemmWith on each supported kernel.
func TestKernelPaths(t *testing.T) {
	var tested, missing []string
	defaults := 0
	for _, ki := range Kernels() {
		name := ki.Name
		if ki.Default {
			defaults++
			name += " (default)"
		}
		if ki.Supported {
			tested = append(tested, name)
		} else {
			missing = append(missing, ki.Name+" (needs "+ki.Needs+")")
		}
	}
	if defaults != 1 {
		t.Errorf("%d default kernels, want 1", defaults)
	}
	if len(missing) == 0 {
		missing = []string{"none"}
	}
	t.Logf("float32 kernels tested: %s; not on this CPU: %s", strings.Join(tested, ", "), strings.Join(missing, ", "))

	rng := rand.New(rand.NewPCG(11, 12))
	for _, ki := range Kernels() {
		p := newProblem[float32](rng, false, true, 70, 130, 90, 2, 1, 0.5)
		if !ki.Supported {
			if err := SgemmWith(ki.Name, false, true, p.m, p.n, p.k, 1, p.a, p.lda, p.b, p.ldb, 0, p.c, p.ldc); err == nil || !strings.Contains(err.Error(), ki.Needs) {
				t.Errorf("SgemmWith(%s) on a CPU without %s: error %v", ki.Name, ki.Needs, err)
			}
			continue
		}
		name := ki.Name
		check(t, []impl[float32]{{"SgemmWith/" + name, func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
			if err := SgemmWith(name, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); err != nil {
				t.Fatal(err)
			}
		}}}, p)
	}
	if err := SgemmWith("sse-1x1", false, false, 1, 1, 1, 1, []float32{1}, 1, []float32{1}, 1, 0, []float32{0}, 1); err == nil || !strings.Contains(err.Error(), `no kernel "sse-1x1"`) {
		t.Errorf("unknown kernel: error %v", err)
	}
}

// MeasurePeak runs the widest loop the CPU has, on every thread asked for.
func TestMeasurePeak(t *testing.T) {
	p, ok := MeasurePeak(2, 20*time.Millisecond)
	loops := peakLoops()
	if ok != (len(loops) > 0) {
		t.Fatalf("ok = %v with %d loops", ok, len(loops))
	}
	if !ok {
		t.Logf("no FMA loop on this CPU")
		return
	}
	if p.Unit != loops[0].unit || p.Threads != 2 || !(p.GFLOPS > 0) {
		t.Errorf("peak %+v, want unit %s on 2 threads, positive rate", p, loops[0].unit)
	}
	b, okb := MeasurePeakBF16(1, 20*time.Millisecond)
	if okb != (BF16Kernel() == "avx512bf16-6x64") || okb && !(b.GFLOPS > 0) {
		t.Errorf("bf16 peak %+v, ok %v with kernel %s", b, okb, BF16Kernel())
	}
	t.Logf("%s: %.0f GFLOP/s on 2 threads; bf16: %+v", p.Unit, p.GFLOPS, b)
}

// GAUALPHA_GEMM picks the first usable kernel of a prefix, and any other
// value falls back to the widest.
func TestPickKernel(t *testing.T) {
	ks := append(asmKernels32(), goKernels32()...)
	if got := pickKernel(ks, ""); got != ks[0] {
		t.Errorf("no prefix: %s, want %s", got.name, ks[0].name)
	}
	if got := pickKernel(ks, "go"); !strings.HasPrefix(got.name, "go") {
		t.Errorf("prefix go: %s", got.name)
	}
	if got := pickKernel(ks, "no-such-kernel"); got != ks[0] {
		t.Errorf("unknown prefix: %s, want the widest %s", got.name, ks[0].name)
	}
}
