package simd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

var (
	nan32  = float32(math.NaN())
	inf32  = float32(math.Inf(1))
	ninf32 = float32(math.Inf(-1))
)

// testLengths covers every tail length, the loop boundaries of the
// unrolled kernels (8, 32) and a few large sizes.
var testLengths = func() []int {
	var ns []int
	for n := 0; n <= 70; n++ {
		ns = append(ns, n)
	}
	return append(ns, 95, 96, 97, 127, 128, 129, 1000, 4099, 1<<16+3)
}()

// forImpls runs f for each implementation available on this machine.
func forImpls(t *testing.T, f func(t *testing.T, im *impl)) {
	t.Helper()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) { f(t, im) })
	}
}

// TestImplPaths names, in one line, the implementations every test of this
// package runs (forImpls forces each supported one in turn) and those this
// CPU lacks, and checks that the exported functions use the widest one the
// CPU supports.
func TestImplPaths(t *testing.T) {
	var tested, missing []string
	defaults := 0
	for _, ii := range implementations() {
		name := ii.Name
		if ii.Default {
			defaults++
			name += " (default)"
			if ii.Name != Implementation() {
				t.Errorf("default %s, Implementation() = %s", ii.Name, Implementation())
			}
		}
		if ii.Supported {
			tested = append(tested, name)
		} else {
			missing = append(missing, ii.Name+" (needs "+ii.Needs+")")
		}
	}
	if defaults != 1 {
		t.Errorf("%d default implementations, want 1", defaults)
	}
	if len(tested) != len(impls) {
		t.Errorf("implementations lists %d supported, the tests run %d", len(tested), len(impls))
	}
	for i, e := range asmImpls {
		if e.supported && impls[0] != e.im {
			t.Errorf("%s supported but %s is the default", e.im.name, impls[0].name)
		}
		if e.supported {
			break
		}
		if i == len(asmImpls)-1 && impls[0] != goImpl {
			t.Errorf("no assembly supported, default %s", impls[0].name)
		}
	}
	if len(missing) == 0 {
		missing = []string{"none"}
	}
	t.Logf("simd implementations tested: %s; not on this CPU: %s", strings.Join(tested, ", "), strings.Join(missing, ", "))
}

// ulpOf returns the spacing of float32 values at |w| (w a normal float32
// magnitude).
func ulpOf(w float64) float64 {
	_, e := math.Frexp(math.Abs(w))
	return math.Ldexp(1, e-24)
}

// ulpErr returns |got - want| in float32 ulps of want.
func ulpErr(got float32, want float64) float64 {
	if float64(got) == want {
		return 0
	}
	return math.Abs(float64(got)-want) / ulpOf(want)
}

func randSlice(rng *rand.Rand, n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return x
}

// expInputs returns inputs covering [expLo, expHi]: a fine grid, random
// values with log-uniform magnitudes (down to 1e-30), every float32 within
// 2000 ulp of each range limit, and the values near (k+1/2)·ln2 where the
// reduced argument is largest.
func expInputs() []float32 {
	var x []float32
	for v := expLo; v <= expHi; v += 1.0 / 4096 {
		x = append(x, float32(v))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1 << 18 {
		m := math.Exp(rng.Float64()*math.Log(87.3/1e-30)) * 1e-30
		if rng.IntN(2) == 0 {
			m = -m
		}
		x = append(x, float32(m))
	}
	for _, lim := range []float32{expLo, expHi} {
		v := lim
		for range 2000 {
			x = append(x, v)
			v = math.Nextafter32(v, 0)
		}
	}
	for k := -126; k <= 127; k++ {
		v := float32((float64(k) + 0.5) * math.Ln2)
		for range 20 {
			v = math.Nextafter32(v, -200)
		}
		for range 40 {
			if v >= expLo && v <= expHi {
				x = append(x, v)
			}
			v = math.Nextafter32(v, 200)
		}
	}
	return x
}

func TestExpAccuracy(t *testing.T) {
	x := expInputs()
	forImpls(t, func(t *testing.T, im *impl) {
		got := make([]float32, len(x))
		im.exp(got, x)
		worst, at, bad := 0.0, float32(0), 0
		for i, v := range x {
			e := ulpErr(got[i], math.Exp(float64(v)))
			if e > worst {
				worst, at = e, v
			}
			if e > 2 {
				if bad++; bad <= 10 {
					t.Errorf("exp(%v) = %v, want %v (%.2f ulp)", v, got[i], math.Exp(float64(v)), e)
				}
			}
		}
		t.Logf("%d inputs in [%v, %v]: worst error %.3f ulp at x = %v", len(x), float32(expLo), float32(expHi), worst, at)
	})
}

func TestExpSpecial(t *testing.T) {
	below := math.Nextafter32(expLo, -100)
	above := math.Nextafter32(expHi, 100)
	cases := []struct {
		x, want float32
	}{
		{0, 1}, {float32(math.Copysign(0, -1)), 1}, {1e-45, 1}, {-1e-45, 1},
		{below, 0}, {-87.34, 0}, {-100, 0}, {-1e30, 0}, {-math.MaxFloat32, 0}, {ninf32, 0},
		{above, inf32}, {88.73, inf32}, {100, inf32}, {1e30, inf32}, {math.MaxFloat32, inf32}, {inf32, inf32},
	}
	forImpls(t, func(t *testing.T, im *impl) {
		for _, c := range cases {
			for _, n := range []int{1, 8, 11} { // tail path and vector path
				x := make([]float32, n)
				for i := range x {
					x[i] = c.x
				}
				dst := make([]float32, n)
				im.exp(dst, x)
				for i, g := range dst {
					if g != c.want || math.Signbit(float64(g)) {
						t.Errorf("n=%d: exp(%v)[%d] = %v, want %v", n, c.x, i, g, c.want)
						break
					}
				}
			}
		}
		// NaN in, NaN out, in every lane position.
		for n := 1; n <= 17; n++ {
			x := make([]float32, n)
			for p := 0; p < n; p++ {
				clear(x)
				x[p] = nan32
				dst := make([]float32, n)
				im.exp(dst, x)
				for i, g := range dst {
					if (i == p) != (g != g) {
						t.Errorf("n=%d, NaN at %d: exp gives %v at %d", n, p, g, i)
					}
				}
			}
		}
		// The limits themselves: normal results within 2 ulp.
		for _, v := range []float32{expLo, expHi} {
			dst := []float32{0}
			im.exp(dst, []float32{v})
			if e := ulpErr(dst[0], math.Exp(float64(v))); e > 2 || math.IsInf(float64(dst[0]), 0) {
				t.Errorf("exp(%v) = %v, want %v", v, dst[0], math.Exp(float64(v)))
			}
		}
	})
}

// checker compares one kernel on one input against the float64 reference;
// it returns a description of the first mismatch, or "".
type kernelCase struct {
	name string
	// run calls the kernel of im on x (and y), writing dst; in-place
	// variants pass dst == x or dst == y. It returns the scalar result.
	run func(im *impl, dst, x, y []float32) float64
	// gen generates the input values.
	lo, hi float64
	// check returns "" if dst and ret are right for x, y.
	check func(dst, x, y []float32, ret float64) string
}

// expOK reports whether got is e^x within 2 ulp, or the documented value
// outside [expLo, expHi].
func expOK(got, x float32) bool {
	switch {
	case x < expLo:
		return got == 0 && !math.Signbit(float64(got))
	case x > expHi:
		return got == inf32
	}
	return ulpErr(got, math.Exp(float64(x))) <= 2
}

func checkExp(dst, x, _ []float32, _ float64) string {
	for i, v := range x {
		if !expOK(dst[i], v) {
			return fmt.Sprintf("exp(%v) = %v, want %v", v, dst[i], math.Exp(float64(v)))
		}
	}
	return ""
}

const expSumShift = 3.25

func checkExpSum(dst, x, _ []float32, ret float64) string {
	var sum float64
	for i, v := range x {
		d := v - expSumShift
		want := math.Exp(float64(d))
		if !expOK(dst[i], d) {
			return fmt.Sprintf("exp(%v - %v) = %v, want %v", v, expSumShift, dst[i], want)
		}
		sum += float64(dst[i])
	}
	// The float64 sum of dst is exact to 1e-15; ExpSum accumulates in
	// float64 and rounds once.
	if math.Abs(float64(ret)-sum) > 0x1p-23*sum {
		return fmt.Sprintf("sum = %v, want %v", ret, sum)
	}
	return ""
}

func checkMax(_, x, _ []float32, ret float64) string {
	want := math.Inf(-1)
	for _, v := range x {
		want = math.Max(want, float64(v))
	}
	if float64(ret) != want {
		return fmt.Sprintf("max = %v, want %v", ret, want)
	}
	return ""
}

// swishTol: relative error 1e-6, or an absolute 3e-37 where the exact value
// is below float32's accurately computed range (documented flush).
func swishRef(x float64) float64 { return x / (1 + math.Exp(-x)) }

func checkSwish(dst, x, _ []float32, _ float64) string {
	for i, v := range x {
		want := swishRef(float64(v))
		if err := math.Abs(float64(dst[i]) - want); err > 1e-6*math.Abs(want) && err > 3e-37 || dst[i] != dst[i] {
			return fmt.Sprintf("swish(%v) = %v, want %v", v, dst[i], want)
		}
	}
	return ""
}

// swishGradRef returns the gradient and the size of its terms,
// |dy|·σ·(1 + |x|(1-σ)), for the error bound.
func swishGradRef(x, dy float64) (g, size float64) {
	s := 1 / (1 + math.Exp(-x))
	oms := math.Exp(-x) * s
	if math.IsInf(math.Exp(-x), 1) {
		oms = 1
	}
	return dy * s * (1 + x*oms), math.Abs(dy) * s * (1 + math.Abs(x)*oms)
}

// swishGradOK: relative error below 1e-6, or within 8 ulp of the size of the
// terms (near the zero at x = -1.2785), or an absolute 1e-35·|dy| where σ is
// subnormal (x < -87).
func swishGradOK(got float32, x, dy float32) bool {
	want, size := swishGradRef(float64(x), float64(dy))
	err := math.Abs(float64(got) - want)
	return got == got && (err <= 1e-6*math.Abs(want) || err <= 8*0x1p-24*size || err <= 1e-35*math.Abs(float64(dy)))
}

func checkSwishGrad(dst, x, y []float32, _ float64) string {
	for i, v := range x {
		if !swishGradOK(dst[i], v, y[i]) {
			want, _ := swishGradRef(float64(v), float64(y[i]))
			return fmt.Sprintf("swishGrad(%v, dy=%v) = %v, want %v", v, y[i], dst[i], want)
		}
	}
	return ""
}

const scaleBy = -1.7

func checkScale(dst, x, _ []float32, _ float64) string {
	for i, v := range x {
		if want := v * scaleBy; dst[i] != want {
			return fmt.Sprintf("%v·%v = %v, want %v", v, float32(scaleBy), dst[i], want)
		}
	}
	return ""
}

// checkSum64 compares a float64 sum of n exact products with the float64
// reference: the assembly's partial sums and the reference's order differ
// by at most about 2n roundings of 2^-53 relative to the sum of |terms|.
func checkSum64(name string, ret float64, terms func(i int) float64, n int) string {
	var want, abs float64
	for i := range n {
		p := terms(i)
		want += p
		abs += math.Abs(p)
	}
	if tol := float64(2*n+8) * 0x1p-53 * abs; math.Abs(ret-want) > tol {
		return fmt.Sprintf("%s = %v, want %v (tolerance %v)", name, ret, want, tol)
	}
	return ""
}

func checkSumSq(_, x, _ []float32, ret float64) string {
	return checkSum64("sum of squares", ret, func(i int) float64 { return float64(x[i]) * float64(x[i]) }, len(x))
}

func checkDot64(_, x, y []float32, ret float64) string {
	return checkSum64("dot64", ret, func(i int) float64 { return float64(x[i]) * float64(y[i]) }, len(x))
}

const axpbyA, axpbyB = 0.7, -1.3

// checkAxpby: within 2^-23·(|a·x| + |b·y|) of the exact a·x + b·y.
func checkAxpby(dst, x, y []float32, _ float64) string {
	a, b := float64(float32(axpbyA)), float64(float32(axpbyB))
	for i, v := range x {
		want := a*float64(v) + b*float64(y[i])
		if err := math.Abs(float64(dst[i]) - want); !(err <= 0x1p-23*(math.Abs(a*float64(v))+math.Abs(b*float64(y[i])))) {
			return fmt.Sprintf("%v·%v + %v·%v = %v, want %v", float32(a), v, float32(b), y[i], dst[i], want)
		}
	}
	return ""
}

var kernelCases = []kernelCase{
	{"Exp", func(im *impl, dst, x, _ []float32) float64 { im.exp(dst, x); return 0 }, -90, 90, checkExp},
	{"ExpSum", func(im *impl, dst, x, _ []float32) float64 { return float64(im.expSum(dst, x, expSumShift)) }, -80, 80, checkExpSum},
	{"Max", func(im *impl, _, x, _ []float32) float64 { return float64(im.max(x)) }, -1e3, 1e3, checkMax},
	{"Swish", func(im *impl, dst, x, _ []float32) float64 { im.swish(dst, x); return 0 }, -120, 120, checkSwish},
	{"SwishGrad", func(im *impl, dst, x, y []float32) float64 { im.swishGrad(dst, x, y); return 0 }, -120, 120, checkSwishGrad},
	{"Scale", func(im *impl, dst, x, _ []float32) float64 { copy(dst, x); im.scale(dst, dst, scaleBy); return 0 }, -1e3, 1e3, checkScale},
	{"ScaleTo", func(im *impl, dst, x, _ []float32) float64 { im.scale(dst, x, scaleBy); return 0 }, -1e3, 1e3, checkScale},
	{"SumSquares", func(im *impl, _, x, _ []float32) float64 { return im.sumSq(x) }, -1e3, 1e3, checkSumSq},
	{"Dot64", func(im *impl, _, x, y []float32) float64 { return im.dot64(x, y) }, -10, 10, checkDot64},
	{"Axpby", func(im *impl, dst, x, y []float32) float64 { im.axpby(dst, x, y, axpbyA, axpbyB); return 0 }, -100, 100, checkAxpby},
}

// writesDst reports whether the kernel case writes dst from its inputs (an
// elementwise kernel), and usesY whether y is one of those inputs.
func writesDst(name string) bool {
	return name != "Max" && name != "Dot" && name != "SumSquares" && name != "Dot64"
}

func usesY(name string) bool { return name == "SwishGrad" || name == "Axpby" }

// TestKernels runs every kernel on every length, out of place and in place,
// and checks that nothing outside dst is written.
func TestKernels(t *testing.T) {
	const guard = 8
	const sentinel = float32(-12345.5)
	forImpls(t, func(t *testing.T, im *impl) {
		for _, kc := range kernelCases {
			t.Run(kc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(3, 4))
				for _, n := range testLengths {
					x := randSlice(rng, n, kc.lo, kc.hi)
					y := randSlice(rng, n, -3, 3)
					buf := make([]float32, n+2*guard)
					for i := range buf {
						buf[i] = sentinel
					}
					dst := buf[guard : guard+n : guard+n]
					xc := append([]float32(nil), x...)
					ret := kc.run(im, dst, x, y)
					if msg := kc.check(dst, x, y, ret); msg != "" {
						t.Fatalf("n=%d: %s", n, msg)
					}
					for i := range guard {
						if buf[i] != sentinel || buf[guard+n+i] != sentinel {
							t.Fatalf("n=%d: wrote outside dst", n)
						}
					}
					for i := range x {
						if math.Float32bits(x[i]) != math.Float32bits(xc[i]) {
							t.Fatalf("n=%d: x modified", n)
						}
					}
					if !writesDst(kc.name) {
						continue
					}
					// In place: dst is x (and, for the kernels of two
					// slices, also y).
					want := append([]float32(nil), dst...)
					inPlace := append([]float32(nil), x...)
					kc.run(im, inPlace, inPlace, y)
					if !sameBits(inPlace, want) {
						t.Fatalf("n=%d: in-place result differs", n)
					}
					if usesY(kc.name) {
						yInPlace := append([]float32(nil), y...)
						kc.run(im, yInPlace, x, yInPlace)
						if !sameBits(yInPlace, want) {
							t.Fatalf("n=%d: in-place (dst = y) result differs", n)
						}
					}
				}
			})
		}
	})
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestExpSumIsExp checks that ExpSum's dst is bit for bit Exp of the
// float32 difference, and a long sum's accuracy.
func TestExpSumIsExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	forImpls(t, func(t *testing.T, im *impl) {
		for _, n := range []int{0, 1, 7, 8, 9, 100, 1 << 20} {
			x := randSlice(rng, n, -30, 10)
			shift := float32(4.7)
			d := make([]float32, n)
			for i, v := range x {
				d[i] = v - shift
			}
			want := make([]float32, n)
			im.exp(want, d)
			got := make([]float32, n)
			sum := im.expSum(got, x, shift)
			if !sameBits(got, want) {
				t.Fatalf("n=%d: ExpSum dst differs from Exp(x - shift)", n)
			}
			var ref float64
			for _, v := range got {
				ref += float64(v)
			}
			if rel := math.Abs(float64(sum)-ref) / ref; rel > 1e-6 || n == 0 && sum != 0 {
				t.Errorf("n=%d: sum = %v, want %v (relative error %.2g)", n, sum, ref, rel)
			}
		}
	})
}

func TestExpSumSpecial(t *testing.T) {
	forImpls(t, func(t *testing.T, im *impl) {
		for _, n := range []int{3, 8, 13} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(i)
			}
			dst := make([]float32, n)
			// The shift is subtracted; padding lanes of the tail must not
			// count (e^(0-shift) would be 1e30 here).
			if s := im.expSum(dst, x, -69); !(math.Abs(float64(s)-sumExp(x, -69))/sumExp(x, -69) < 1e-6) {
				t.Errorf("n=%d: sum %v, want %v", n, s, sumExp(x, -69))
			}
			x[n/2] = nan32
			if s := im.expSum(dst, x, 0); s == s {
				t.Errorf("n=%d: NaN input, sum = %v", n, s)
			}
			x[n/2] = ninf32
			if s := im.expSum(dst, x, float32(n)); !(math.Abs(float64(s)-sumExp(x, float32(n)))/sumExp(x, float32(n)) < 1e-6) || dst[n/2] != 0 {
				t.Errorf("n=%d: -Inf input, sum = %v, want %v", n, s, sumExp(x, float32(n)))
			}
		}
	})
}

func sumExp(x []float32, shift float32) float64 {
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v - shift))
	}
	return s
}

func TestMaxSpecial(t *testing.T) {
	forImpls(t, func(t *testing.T, im *impl) {
		if m := im.max(nil); !math.IsInf(float64(m), -1) {
			t.Errorf("max(nil) = %v", m)
		}
		if m := im.max([]float32{}); !math.IsInf(float64(m), -1) {
			t.Errorf("max([]) = %v", m)
		}
		for n := 1; n <= 70; n++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = ninf32
			}
			if m := im.max(x); !math.IsInf(float64(m), -1) {
				t.Fatalf("n=%d: max(all -Inf) = %v", n, m)
			}
			for p := range n {
				for i := range x {
					x[i] = -float32(i) - 1
				}
				x[p] = 5
				if m := im.max(x); m != 5 {
					t.Fatalf("n=%d: max with 5 at %d = %v", n, p, m)
				}
				x[p] = inf32
				if m := im.max(x); m != inf32 {
					t.Fatalf("n=%d: max with +Inf at %d = %v", n, p, m)
				}
				x[p] = nan32
				if m := im.max(x); m == m {
					t.Fatalf("n=%d: max with NaN at %d = %v", n, p, m)
				}
			}
		}
	})
}

// swishInputs covers [-120, 120] densely, with extra points around 0, the
// minimum of swish and the zero of its gradient, and the saturation points.
func swishInputs() []float32 {
	var x []float32
	for v := -120.0; v <= 120; v += 1.0 / 512 {
		x = append(x, float32(v))
	}
	for v := -3.0; v <= 3; v += 1.0 / 65536 {
		x = append(x, float32(v))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 1 << 16 {
		m := math.Exp(rng.Float64()*math.Log(1e40)) * 1e-38
		if rng.IntN(2) == 0 {
			m = -m
		}
		x = append(x, float32(m))
	}
	return append(x, -88.72284, -88.72283, -87.33655, -87.33654, 87.33654, 88.72283, 0, 1e-45, -1e-45, -math.MaxFloat32, math.MaxFloat32)
}

func TestSwishAccuracy(t *testing.T) {
	x := swishInputs()
	forImpls(t, func(t *testing.T, im *impl) {
		got := make([]float32, len(x))
		im.swish(got, x)
		worst, at := 0.0, float32(0)
		for i, v := range x {
			want := swishRef(float64(v))
			if got[i] != got[i] {
				t.Fatalf("swish(%v) = NaN", v)
			}
			if math.Abs(want) >= 2.7e-37 {
				if e := ulpErr(got[i], want); e > worst {
					worst, at = e, v
				}
			}
		}
		if msg := checkSwish(got, x, nil, 0); msg != "" {
			t.Error(msg)
		}
		t.Logf("%d inputs: worst error %.3f ulp (relative %.3g) at x = %v", len(x), worst, worst*0x1p-23, at)
		if worst > 4 {
			t.Errorf("worst error %.2f ulp exceeds 4", worst)
		}
		for _, c := range []struct{ x, want float32 }{
			{0, 0}, {100, 100}, {1e30, 1e30}, {inf32, inf32}, {-100, 0}, {-1e30, 0},
		} {
			dst := []float32{1}
			im.swish(dst, []float32{c.x})
			if dst[0] != c.want {
				t.Errorf("swish(%v) = %v, want %v", c.x, dst[0], c.want)
			}
		}
		dst := []float32{0, 0}
		im.swish(dst, []float32{nan32, ninf32})
		if dst[0] == dst[0] || dst[1] == dst[1] {
			t.Errorf("swish(NaN, -Inf) = %v, want NaN (as the float64 formula)", dst)
		}
	})
}

func TestSwishGradAccuracy(t *testing.T) {
	x := swishInputs()
	rng := rand.New(rand.NewPCG(9, 10))
	dy := randSlice(rng, len(x), -2, 2)
	for i := range 1000 {
		dy[i] = 1
	}
	forImpls(t, func(t *testing.T, im *impl) {
		got := make([]float32, len(x))
		im.swishGrad(got, x, dy)
		worst, at, worstRoot := 0.0, float32(0), 0.0
		for i, v := range x {
			if !swishGradOK(got[i], v, dy[i]) {
				want, _ := swishGradRef(float64(v), float64(dy[i]))
				t.Fatalf("swishGrad(%v, %v) = %v, want %v", v, dy[i], got[i], want)
			}
			want, size := swishGradRef(float64(v), float64(dy[i]))
			if want == 0 || v < -86 {
				continue
			}
			rel := math.Abs(float64(got[i])-want) / math.Abs(want)
			if v > -1.4 && v < -1.15 {
				worstRoot = max(worstRoot, math.Abs(float64(got[i])-want)/size)
			} else if rel > worst {
				worst, at = rel, v
			}
		}
		t.Logf("%d inputs: worst relative error %.3g at x = %v (x < -86 and -1.4 < x < -1.15 excluded); "+
			"near the zero at -1.2785, worst error %.3g of the terms' size", len(x), worst, at, worstRoot)
		if worst > 1e-6 {
			t.Errorf("relative error %.3g exceeds 1e-6", worst)
		}
		for _, v := range []float32{-1e30, -100, -88.8, -50, 0, 50, 87.4, 100, 1e30, math.MaxFloat32, -math.MaxFloat32} {
			dst := []float32{0}
			im.swishGrad(dst, []float32{v}, []float32{1.5})
			want, _ := swishGradRef(float64(v), 1.5)
			if dst[0] != dst[0] || math.Abs(float64(dst[0])-want) > 1e-6*math.Abs(want)+1e-35 {
				t.Errorf("swishGrad(%v, 1.5) = %v, want %v", v, dst[0], want)
			}
		}
	})
}

func TestScaleSpecial(t *testing.T) {
	forImpls(t, func(t *testing.T, im *impl) {
		im.scale(nil, nil, 2)
		x := []float32{1, -2, inf32, 0, 3, 4, 5, 6, 7, 8, 9}
		im.scale(x, x, 0.5)
		want := []float32{0.5, -1, inf32, 0, 1.5, 2, 2.5, 3, 3.5, 4, 4.5}
		if !sameBits(x, want) {
			t.Errorf("scale = %v, want %v", x, want)
		}
	})
}

func TestLengthMismatchPanics(t *testing.T) {
	a, b := make([]float32, 3), make([]float32, 4)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"ExpSum", func() { ExpSum(b, a, 0) }},
		{"Swish", func() { Swish(a, b) }},
		{"SwishGrad", func() { SwishGrad(a, a, b) }},
		{"SwishGrad", func() { SwishGrad(a, b, b) }},
		{"ScaleTo", func() { ScaleTo(a, b, 1) }},
		{"Dot64", func() { Dot64(b, a) }},
		{"Axpby", func() { Axpby(a, b, b, 1, 1) }},
		{"Axpby", func() { Axpby(a, a, b, 1, 1) }},
	} {
		func() {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.Contains(s, "simd."+c.name+":") || !strings.Contains(s, "lengths differ") {
					t.Errorf("%s: panic %v, want a length message", c.name, r)
				}
			}()
			c.f()
		}()
	}
}

// TestExported checks the exported wrappers against the implementation they
// use.
func TestExported(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	x := randSlice(rng, 37, -5, 5)
	y := randSlice(rng, 37, -5, 5)
	d1, d2 := make([]float32, 37), make([]float32, 37)
	if ExpSum(d1, x, 1) != best.expSum(d2, x, 1) || !sameBits(d1, d2) {
		t.Error("ExpSum")
	}
	if Max(x) != best.max(x) {
		t.Error("Max")
	}
	Swish(d1, x)
	best.swish(d2, x)
	if !sameBits(d1, d2) {
		t.Error("Swish")
	}
	SwishGrad(d1, x, y)
	best.swishGrad(d2, x, y)
	if !sameBits(d1, d2) {
		t.Error("SwishGrad")
	}
	copy(d1, x)
	copy(d2, x)
	Scale(d1, 3)
	best.scale(d2, d2, 3)
	if !sameBits(d1, d2) {
		t.Error("Scale")
	}
	ScaleTo(d1, y, -2.5)
	best.scale(d2, y, -2.5)
	if !sameBits(d1, d2) {
		t.Error("ScaleTo")
	}
	if SumSquares(x) != best.sumSq(x) {
		t.Error("SumSquares")
	}
	if Dot64(x, y) != best.dot64(x, y) {
		t.Error("Dot64")
	}
	Axpby(d1, x, y, 1.5, -0.25)
	best.axpby(d2, x, y, 1.5, -0.25)
	if !sameBits(d1, d2) {
		t.Error("Axpby")
	}
}
