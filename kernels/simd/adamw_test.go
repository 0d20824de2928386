package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// adamWTestStep is step t = 7 of AdamW with lr 1e-3 and weight decay 0.01.
func adamWTestStep() AdamWStep {
	const lr, wd, t = 1e-3, 0.01, 7
	return AdamWStep{
		Beta1: 0.9, Beta2: 0.999, Decay: float32(1 - lr*wd),
		StepSize: lr / (1 - math.Pow(0.9, t)), SqrtBC2: math.Sqrt(1 - math.Pow(0.999, t)), Eps: 1e-8,
	}
}

// adamWState is one set of AdamW inputs.
type adamWState struct{ p, g, m, v []float32 }

func newAdamWState(rng *rand.Rand, n int) adamWState {
	s := adamWState{randSlice(rng, n, -2, 2), randSlice(rng, n, -1, 1), randSlice(rng, n, -0.1, 0.1), randSlice(rng, n, 0, 0.01)}
	for i := range n / 7 { // tiny moments: the update is large
		s.v[7*i] = float32(rng.Float64() * 1e-12)
	}
	return s
}

func (s adamWState) clone() adamWState {
	c := func(x []float32) []float32 { return append([]float32(nil), x...) }
	return adamWState{c(s.p), c(s.g), c(s.m), c(s.v)}
}

// sameBitsNaN is sameBits with every NaN equal to every NaN.
func sameBitsNaN(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

// checkAdamW compares the step from before to after with the float64
// formulas: each moment within 2^-22 of the size of its terms, the
// parameter within 2^-23 of |p·Decay| + |update|, the update computed in
// float64 from the kernel's new moments.
func checkAdamW(st AdamWStep, before, after adamWState) string {
	b1, b2, d := float64(st.Beta1), float64(st.Beta2), float64(st.Decay)
	omb1, omb2 := float64(1-st.Beta1), float64(1-st.Beta2)
	for i := range before.g {
		g, m, v, p := float64(before.g[i]), float64(before.m[i]), float64(before.v[i]), float64(before.p[i])
		gm, gv, gp := float64(after.m[i]), float64(after.v[i]), float64(after.p[i])
		if want := b1*m + omb1*g; !(math.Abs(gm-want) <= 0x1p-22*(math.Abs(b1*m)+math.Abs(omb1*g))) {
			return fmt.Sprintf("m[%d] = %v, want %v", i, gm, want)
		}
		if want := b2*v + omb2*g*g; !(math.Abs(gv-want) <= 0x1p-22*(b2*v+omb2*g*g)) {
			return fmt.Sprintf("v[%d] = %v, want %v", i, gv, want)
		}
		upd := st.StepSize * gm / (math.Sqrt(gv)/st.SqrtBC2 + st.Eps)
		if want := p*d - upd; !(math.Abs(gp-want) <= 0x1p-23*(math.Abs(p*d)+math.Abs(upd))) {
			return fmt.Sprintf("p[%d] = %v, want %v", i, gp, want)
		}
	}
	return ""
}

// TestAdamW runs every implementation on every length against the float64
// formulas and against the pure Go loop bit for bit, and checks that
// nothing outside the four slices is written.
func TestAdamW(t *testing.T) {
	st := adamWTestStep()
	const guard = 8
	const sentinel = float32(-12345.5)
	forImpls(t, func(t *testing.T, im *impl) {
		rng := rand.New(rand.NewPCG(31, 32))
		for _, n := range testLengths {
			in := newAdamWState(rng, n)
			want := in.clone()
			goImpl.adamW(want.p, want.g, want.m, want.v, st)
			bufs := make([][]float32, 4)
			got := make([][]float32, 4)
			for k, src := range [][]float32{in.p, in.g, in.m, in.v} {
				bufs[k] = make([]float32, n+2*guard)
				for i := range bufs[k] {
					bufs[k][i] = sentinel
				}
				got[k] = bufs[k][guard : guard+n : guard+n]
				copy(got[k], src)
			}
			im.adamW(got[0], got[1], got[2], got[3], st)
			after := adamWState{got[0], got[1], got[2], got[3]}
			if msg := checkAdamW(st, in, after); msg != "" {
				t.Fatalf("n=%d: %s", n, msg)
			}
			if !sameBits(after.p, want.p) || !sameBits(after.m, want.m) || !sameBits(after.v, want.v) || !sameBits(after.g, in.g) {
				t.Fatalf("n=%d: results differ from the Go loop's bits (or g was written)", n)
			}
			for k := range bufs {
				for i := range guard {
					if bufs[k][i] != sentinel || bufs[k][guard+n+i] != sentinel {
						t.Fatalf("n=%d: wrote outside slice %d", n, k)
					}
				}
			}
		}
	})
}

// TestAdamWSpecial: non-finite gradients and moments, zero moments, a
// zero ε and no weight decay give the Go loop's bits on every path.
func TestAdamWSpecial(t *testing.T) {
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, 1e-30, 1e30, -1e30, math.MaxFloat32, inf32, ninf32, nan32}
	n := len(specials) * len(specials)
	base := adamWState{make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)}
	for i := range n {
		a, b := specials[i/len(specials)], specials[i%len(specials)]
		base.p[i], base.g[i], base.m[i], base.v[i] = b, a, b*0.5, float32(math.Abs(float64(a)))
	}
	for _, st := range []AdamWStep{adamWTestStep(), {Beta1: 0.9, Beta2: 0.999, Decay: 1, StepSize: 0.01, SqrtBC2: 0.05, Eps: 0}} {
		want := base.clone()
		goImpl.adamW(want.p, want.g, want.m, want.v, st)
		forImpls(t, func(t *testing.T, im *impl) {
			got := base.clone()
			im.adamW(got.p, got.g, got.m, got.v, st)
			if !sameBitsNaN(got.p, want.p) || !sameBitsNaN(got.m, want.m) || !sameBitsNaN(got.v, want.v) {
				for i := range n {
					if !sameBitsNaN(got.p[i:i+1], want.p[i:i+1]) {
						t.Fatalf("eps %v, g=%v m=%v v=%v p=%v: p = %v, Go loop %v", st.Eps, base.g[i], base.m[i], base.v[i], base.p[i], got.p[i], want.p[i])
					}
				}
				t.Fatalf("eps %v: moments differ from the Go loop's", st.Eps)
			}
		})
	}
}

func TestAdamWExported(t *testing.T) {
	st := adamWTestStep()
	in := newAdamWState(rand.New(rand.NewPCG(33, 34)), 45)
	a, b := in.clone(), in.clone()
	AdamW(a.p, a.g, a.m, a.v, st)
	best.adamW(b.p, b.g, b.m, b.v, st)
	if !sameBits(a.p, b.p) || !sameBits(a.m, b.m) || !sameBits(a.v, b.v) {
		t.Error("AdamW differs from the default implementation")
	}
	x, y := make([]float32, 3), make([]float32, 4)
	for _, f := range []func(){
		func() { AdamW(y, x, x, x, st) },
		func() { AdamW(x, x, y, x, st) },
		func() { AdamW(x, x, x, y, st) },
		func() { AdamW(x, y, y, y, st) },
	} {
		func() {
			defer func() {
				if r, _ := recover().(string); !strings.Contains(r, "simd.AdamW:") || !strings.Contains(r, "lengths differ") {
					t.Errorf("panic %q, want a length message", r)
				}
			}()
			f()
		}()
	}
}

// BenchmarkAdamW times one AdamW step per implementation at the sizes of
// BenchmarkKernels; the bytes are the 7 float32 streams (p, g, m, v read;
// p, m, v written). The go implementation is the scalar loop of package
// optim.
func BenchmarkAdamW(b *testing.B) {
	st := adamWTestStep()
	for _, n := range benchSizes {
		s := newAdamWState(rand.New(rand.NewPCG(1, uint64(n))), n)
		for _, im := range impls {
			b.Run(fmt.Sprintf("n=%d/%s", n, im.name), func(b *testing.B) {
				b.SetBytes(int64(28 * n))
				for b.Loop() {
					im.adamW(s.p, s.g, s.m, s.v, st)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
			})
		}
	}
}
