package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// impl is one way of computing a product: a public entry point or an
// internal configuration (kernel, blocking, serial/parallel, naive loops).
type impl[T float] struct {
	name string
	run  func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int)
}

func withConfig[T float](name string, cfg config[T], parallel bool) impl[T] {
	return impl[T]{name, func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
		gemm(&cfg, parallel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}}
}

// kernelImpls exercises one micro-kernel with its own blocking, with tiny
// blocks (so that every blocking loop runs several times and kc hits the
// kernel's remainder loop), and split over goroutines along m and n.
func kernelImpls[T float](kn *kernel[T]) []impl[T] {
	tiny := *kn
	tiny.mc, tiny.kc, tiny.nc = 2*kn.mr, 7, 3*kn.nr
	return []impl[T]{
		withConfig(kn.name+"/serial", config[T]{kern: kn}, false),
		withConfig(kn.name+"/tinyblocks", config[T]{kern: &tiny}, false),
		withConfig(kn.name+"/parallel3", config[T]{kern: kn, grain: 1, procs: 3, minChunk: 1}, true),
		withConfig(kn.name+"/parallel2", config[T]{kern: kn, grain: 1, procs: 2, minChunk: 20}, true),
		withConfig(kn.name+"/tinyblocks/parallel4", config[T]{kern: &tiny, grain: 1, procs: 4, minChunk: 1}, true),
	}
}

func allImpls[T float]() []impl[T] {
	var out []impl[T]
	var z T
	switch any(z).(type) {
	case float32:
		out = any([]impl[float32]{
			{"Sgemm", Sgemm}, {"SgemmSerial", SgemmSerial},
		}).([]impl[T])
		for _, kn := range append(asmKernels32(), goKernels32()...) {
			out = append(out, any(kernelImpls(kn)).([]impl[T])...)
		}
	case float64:
		out = any([]impl[float64]{
			{"Dgemm", Dgemm}, {"DgemmSerial", DgemmSerial},
		}).([]impl[T])
		for _, kn := range append(asmKernels64(), goKernels64()...) {
			out = append(out, any(kernelImpls(kn)).([]impl[T])...)
		}
	}
	big := int(^uint(0) >> 1)
	return append(out, withConfig("naive", config[T]{kern: configFor[T]().kern, small: big}, false))
}

func TestDefaultKernel(t *testing.T) {
	if ks := asmKernels32(); len(ks) > 0 && config32.kern != ks[0] {
		t.Errorf("float32 uses %s, want assembly kernel %s", config32.kern.name, ks[0].name)
	}
	if ks := asmKernels64(); len(ks) > 0 && config64.kern != ks[0] {
		t.Errorf("float64 uses %s, want assembly kernel %s", config64.kern.name, ks[0].name)
	}
	t.Logf("float32 kernel %s, float64 kernel %s", config32.kern.name, config64.kern.name)
}

// problem is one test product, with operands stored with padding (ld >
// stored columns) where pad > 0.
type problem[T float] struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    T
	a, b, c        []T
	lda, ldb, ldc  int
}

func randSlice[T float](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(2*rng.Float64() - 1)
	}
	return s
}

func newProblem[T float](rng *rand.Rand, transA, transB bool, m, n, k, pad int, alpha, beta T) problem[T] {
	p := problem[T]{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	p.lda, p.ldb, p.ldc = max(1, ac+pad), max(1, bc+pad), max(1, n+pad)
	// The slices extend pad elements past the last row too, so that any
	// write past the matrix is detected.
	p.a = randSlice[T](rng, ar*p.lda+pad)
	p.b = randSlice[T](rng, br*p.ldb+pad)
	p.c = randSlice[T](rng, m*p.ldc+pad)
	return p
}

// reference computes the product in float64 with a triple loop and returns
// it (ldc-strided) together with the error bound for each element.
func (p *problem[T]) reference(eps float64) (ref, tol []float64) {
	ref = make([]float64, len(p.c))
	tol = make([]float64, len(p.c))
	for i := range p.c {
		ref[i] = float64(p.c[i])
	}
	at := func(i, l int) float64 {
		if p.transA {
			return float64(p.a[l*p.lda+i])
		}
		return float64(p.a[i*p.lda+l])
	}
	bt := func(l, j int) float64 {
		if p.transB {
			return float64(p.b[j*p.ldb+l])
		}
		return float64(p.b[l*p.ldb+j])
	}
	alpha, beta := float64(p.alpha), float64(p.beta)
	for i := 0; i < p.m; i++ {
		for j := 0; j < p.n; j++ {
			var s, sabs float64
			for l := 0; l < p.k; l++ {
				v := at(i, l) * bt(l, j)
				s += v
				sabs += math.Abs(v)
			}
			idx := i*p.ldc + j
			cv := float64(p.c[idx])
			if alpha == 0 {
				s = 0 // A and B are not read
			}
			if beta == 0 {
				ref[idx] = alpha * s
				cv = 0
			} else {
				ref[idx] = alpha*s + beta*cv
			}
			if alpha == 0 {
				sabs = 0
			}
			// Summation error of k products plus the alpha/beta update.
			tol[idx] = eps * (float64(p.k+4)*math.Abs(alpha)*sabs + 4*math.Abs(beta*cv))
		}
	}
	return ref, tol
}

func epsFor[T float]() float64 {
	var z T
	if unsafe.Sizeof(z) == 4 {
		return 0x1p-24
	}
	return 0x1p-53
}

// check runs every implementation on p and compares with the reference,
// including that A, B and the elements of c outside the m×n matrix are
// untouched.
func check[T float](t *testing.T, impls []impl[T], p problem[T]) {
	t.Helper()
	ref, tol := p.reference(epsFor[T]())
	for _, im := range impls {
		a, b, c := clone(p.a), clone(p.b), clone(p.c)
		im.run(p.transA, p.transB, p.m, p.n, p.k, p.alpha, a, p.lda, b, p.ldb, p.beta, c, p.ldc)
		name := fmt.Sprintf("%s tA=%t tB=%t m=%d n=%d k=%d alpha=%v beta=%v lda=%d ldb=%d ldc=%d",
			im.name, p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.beta, p.lda, p.ldb, p.ldc)
		if !sameBits(a, p.a) || !sameBits(b, p.b) {
			t.Fatalf("%s: modified A or B", name)
		}
		bad := 0
		for idx := range c {
			i, j := idx/p.ldc, idx%p.ldc
			inside := i < p.m && j < p.n
			if !inside {
				if !sameBits(c[idx:idx+1], p.c[idx:idx+1]) {
					t.Fatalf("%s: wrote c[%d] (row %d, col %d) outside the matrix", name, idx, i, j)
				}
				continue
			}
			got := float64(c[idx])
			if d := math.Abs(got - ref[idx]); !(d <= tol[idx]) {
				if bad++; bad <= 3 {
					t.Errorf("%s: C[%d,%d] = %v, want %v (|diff| %.3g > tol %.3g)", name, i, j, got, ref[idx], d, tol[idx])
				}
			}
		}
		if bad > 0 {
			t.Fatalf("%s: %d wrong elements", name, bad)
		}
	}
}

func clone[T any](s []T) []T { return append([]T(nil), s...) }

// sameBits compares element bit patterns, so that NaNs compare equal.
func sameBits[T float](x, y []T) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] && !(x[i] != x[i] && y[i] != y[i]) {
			return false
		}
	}
	return true
}

var transposes = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}

// shapes returns the (m, n, k) triples tested with every implementation: all
// small combinations around the micro-tile sizes, random ones up to 300, and
// a few larger ones that cross the default block sizes.
func shapes(rng *rand.Rand, short bool) [][3]int {
	var out [][3]int
	small := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 20}
	for _, m := range small {
		for _, n := range small {
			out = append(out, [3]int{m, n, small[(m+n)%len(small)]})
		}
	}
	primes := []int{11, 23, 31, 37, 53, 61, 67, 97, 127, 131, 257, 293}
	for i, m := range primes {
		out = append(out, [3]int{m, primes[(i+5)%len(primes)], primes[(i+3)%len(primes)]})
	}
	nrand := 40
	if short {
		nrand = 10
	}
	for i := 0; i < nrand; i++ {
		out = append(out, [3]int{1 + rng.IntN(300), 1 + rng.IntN(300), 1 + rng.IntN(300)})
	}
	out = append(out,
		[3]int{64, 64, 128},  // attention block
		[3]int{150, 40, 600}, // k crosses kc more than once
		[3]int{301, 33, 70},  // m crosses mc
		[3]int{5, 3100, 9},   // n crosses nc of the float32 kernel
		[3]int{7, 2100, 5},   // n crosses nc of the float64 kernel
	)
	return out
}

func testShapes[T float](t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	impls := allImpls[T]()
	for i, s := range shapes(rng, testing.Short()) {
		tr := transposes[i%4]
		// Alternate the alpha/beta combinations and padding over shapes;
		// small shapes go through every transpose combination.
		ab := [][2]T{{1, 0}, {1, 1}, {-0.5, 2}, {1.5, -1}}[(i/4)%4]
		pad := []int{0, 3}[i%2]
		p := newProblem[T](rng, tr[0], tr[1], s[0], s[1], s[2], pad, ab[0], ab[1])
		check(t, impls, p)
		if s[0]*s[1]*s[2] < 20000 {
			for _, tr2 := range transposes {
				if tr2 != tr {
					p := newProblem[T](rng, tr2[0], tr2[1], s[0], s[1], s[2], 3-pad, ab[0], ab[1])
					check(t, impls, p)
				}
			}
		}
	}
}

func TestShapes32(t *testing.T) { testShapes[float32](t) }
func TestShapes64(t *testing.T) { testShapes[float64](t) }

// TestAlphaBeta checks the special values: beta = 0 must not read C (NaN in
// C must not propagate), alpha = 0 must not read A or B.
func testAlphaBeta[T float](t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	impls := allImpls[T]()
	nan := T(math.NaN())
	inf := T(math.Inf(1))
	for _, s := range [][3]int{{1, 1, 1}, {5, 7, 3}, {13, 35, 19}, {64, 64, 128}, {97, 131, 61}} {
		for _, tr := range transposes {
			for _, ab := range [][2]T{{1, 0}, {2, 0}, {0, 0}, {0, 1}, {0, -3}, {1, 1}, {-1, 0.5}} {
				p := newProblem[T](rng, tr[0], tr[1], s[0], s[1], s[2], 2, ab[0], ab[1])
				if ab[1] == 0 {
					for i := range p.c {
						p.c[i] = []T{nan, inf, -inf}[i%3]
					}
				}
				if ab[0] == 0 {
					for i := range p.a {
						p.a[i] = nan
					}
					for i := range p.b {
						p.b[i] = inf
					}
				}
				check(t, impls, p)
			}
		}
	}
}

func TestAlphaBeta32(t *testing.T) { testAlphaBeta[float32](t) }
func TestAlphaBeta64(t *testing.T) { testAlphaBeta[float64](t) }

// TestLargerShapes runs project-like shapes, scaled down, through the
// default entry points and the assembly kernel (if any) only.
func TestLargerShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	impls := []impl[float32]{{"Sgemm", Sgemm}, {"SgemmSerial", SgemmSerial}}
	for _, s := range [][3]int{{512, 320, 96}, {64, 256, 1536}, {320, 96, 512}, {700, 300, 257}} {
		for _, tr := range transposes {
			check(t, impls, newProblem[float32](rng, tr[0], tr[1], s[0], s[1], s[2], 1, 1, 0.5))
		}
	}
}

func testZeroSizes[T float](t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	impls := allImpls[T]()
	for _, s := range [][3]int{{0, 0, 0}, {0, 5, 3}, {4, 0, 3}, {4, 5, 0}, {0, 0, 7}, {1, 1, 0}, {17, 33, 0}} {
		for _, tr := range transposes {
			for _, beta := range []T{0, 1, 2} {
				check(t, impls, newProblem[T](rng, tr[0], tr[1], s[0], s[1], s[2], 1, 1, beta))
				check(t, impls, newProblem[T](rng, tr[0], tr[1], s[0], s[1], s[2], 0, 1, beta))
			}
		}
	}
	// Empty operands may be nil.
	for _, im := range impls {
		im.run(false, false, 0, 0, 0, 1, nil, 1, nil, 1, 0, nil, 1)
		im.run(true, true, 0, 3, 0, 1, nil, 1, nil, 1, 0, nil, 3)
		c := []T{1, 2}
		im.run(false, false, 1, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
		if c[0] != 0 || c[1] != 0 {
			t.Errorf("%s: k = 0, beta = 0: C = %v, want zeros", im.name, c)
		}
	}
}

func TestZeroSizes32(t *testing.T) { testZeroSizes[float32](t) }
func TestZeroSizes64(t *testing.T) { testZeroSizes[float64](t) }

// TestSerialMatchesParallel checks that splitting over goroutines gives the
// same bits as the serial path (the bands do identical work per element).
func TestSerialMatchesParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range [][3]int{{256, 100, 300}, {60, 400, 300}, {601, 257, 64}} {
		for _, tr := range transposes {
			p := newProblem[float32](rng, tr[0], tr[1], s[0], s[1], s[2], 0, 1, 0)
			c1, c2 := clone(p.c), clone(p.c)
			SgemmSerial(tr[0], tr[1], s[0], s[1], s[2], 1, p.a, p.lda, p.b, p.ldb, 0, c1, p.ldc)
			cfg := config32
			cfg.procs = 2
			gemm(&cfg, true, tr[0], tr[1], s[0], s[1], s[2], 1, p.a, p.lda, p.b, p.ldb, 0, c2, p.ldc)
			if !sameBits(c1, c2) {
				t.Errorf("tA=%t tB=%t %v: parallel result differs from serial", tr[0], tr[1], s)
			}
		}
	}
}

func TestPanics(t *testing.T) {
	s := make([]float32, 100)
	cases := []struct {
		name           string
		transA, transB bool
		m, n, k        int
		a              []float32
		lda            int
		b              []float32
		ldb            int
		c              []float32
		ldc            int
		want           string
	}{
		{"negative m", false, false, -1, 2, 2, s, 2, s, 2, s, 2, "negative m"},
		{"negative n", false, false, 2, -1, 2, s, 2, s, 2, s, 2, "negative n"},
		{"negative k", false, false, 2, 2, -3, s, 2, s, 2, s, 2, "negative k"},
		{"lda", false, false, 2, 2, 3, s, 2, s, 2, s, 2, "lda = 2 too small"},
		{"lda trans", true, false, 4, 2, 3, s, 3, s, 2, s, 2, "lda = 3 too small"},
		{"lda zero", false, false, 2, 2, 0, s, 0, s, 2, s, 2, "lda = 0 too small"},
		{"ldb", false, false, 2, 5, 3, s, 3, s, 4, s, 5, "ldb = 4 too small"},
		{"ldb trans", false, true, 2, 5, 3, s, 3, s, 2, s, 5, "ldb = 2 too small"},
		{"ldc", false, false, 2, 5, 3, s, 3, s, 5, s, 4, "ldc = 4 too small"},
		{"short a", false, false, 10, 2, 10, s, 11, s, 2, s, 2, "len(a) = 100 too short"},
		{"short a trans", true, false, 10, 2, 11, s, 10, s, 2, s, 2, "len(a) = 100 too short"},
		{"short b", false, false, 2, 10, 11, s, 11, s, 10, s, 10, "len(b) = 100 too short"},
		{"short b trans", false, true, 2, 11, 10, s, 10, s, 10, s, 11, "len(b) = 100 too short"},
		{"short c", false, false, 11, 10, 1, s, 1, s, 10, s, 10, "len(c) = 100 too short"},
		{"nil c", false, false, 1, 1, 1, s, 1, s, 1, nil, 1, "len(c) = 0 too short"},
	}
	for _, tc := range cases {
		for _, im := range []impl[float32]{{"Sgemm", Sgemm}, {"SgemmSerial", SgemmSerial}} {
			func() {
				defer func() {
					r := recover()
					msg, _ := r.(string)
					if r == nil || !strings.Contains(msg, tc.want) {
						t.Errorf("%s %s: panic %v, want one containing %q", im.name, tc.name, r, tc.want)
					}
				}()
				im.run(tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, tc.a, tc.lda, tc.b, tc.ldb, 0, tc.c, tc.ldc)
			}()
		}
	}
}

func TestEvenBlock(t *testing.T) {
	for _, tc := range []struct{ n, max, unit, want int }{
		{10, 256, 1, 10}, {256, 256, 1, 256}, {257, 256, 1, 129}, {300, 256, 1, 150},
		{600, 256, 1, 200}, {13, 144, 6, 18}, {145, 144, 6, 78}, {3200, 3072, 16, 1600},
	} {
		if got := evenBlock(tc.n, tc.max, tc.unit); got != tc.want {
			t.Errorf("evenBlock(%d, %d, %d) = %d, want %d", tc.n, tc.max, tc.unit, got, tc.want)
		}
	}
}

// A kernel reading A in place (fnA) gives the bits of the same kernel on
// packed A: the same products summed in the same order, at shapes with
// full and partial slivers and tiles, several k blocks and strides, A
// transposed or not (transposed A is read in place for n <= 128 only:
// the shapes have both).
func TestDirectAMatchesPacked(t *testing.T) {
	for _, kn := range asmKernels32() {
		if kn.fnA == nil {
			continue
		}
		packed := *kn
		packed.fnA = nil
		rng := rand.New(rand.NewPCG(6, 6))
		for _, sh := range [][3]int{{6, 64, 1}, {13, 70, 5}, {144, 128, 192}, {150, 200, 400}, {2048 / 8, 576 / 4, 128}, {576 / 4, 128, 2048 / 4}, {35, 100, 700}} {
			m, n, k := sh[0], sh[1], sh[2]
			for _, tr := range transposes {
				transA, transB := tr[0], tr[1]
				lda := k + 3
				if transA {
					lda = m + 3
				}
				a := randSlice[float32](rng, m*(k+3)+k*(m+3))
				b := randSlice[float32](rng, k*n)
				ldb := n
				if transB {
					ldb = k
				}
				for _, beta := range []float32{0, 1, 0.5} {
					c0 := randSlice[float32](rng, m*n)
					c1 := append([]float32(nil), c0...)
					c2 := append([]float32(nil), c0...)
					blocked(kn, transA, transB, m, n, k, 1.5, a, lda, b, ldb, beta, c1, n)
					blocked(&packed, transA, transB, m, n, k, 1.5, a, lda, b, ldb, beta, c2, n)
					for i := range c1 {
						if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
							t.Fatalf("%s %dx%dx%d transA=%v transB=%v beta=%v: element %d: in place %v, packed %v", kn.name, m, n, k, transA, transB, beta, i, c1[i], c2[i])
						}
					}
				}
			}
		}
	}
}

// Every packing of op(B) a kernel supplies gives packB's layout, for full
// and partial slivers, both transposes, strides and offsets.
func TestPackBMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, kn := range asmKernels32() {
		for _, trans := range []bool{false, true} {
			for _, sh := range [][2]int{{1, 64}, {7, 64}, {9, 128}, {192, 200}, {33, 63}, {4, 1}, {187, 256}} {
				kb, nb := sh[0], sh[1]
				p0, j0 := 3, 5
				rows, cols := p0+kb, j0+nb // stored b: k×n, or n×k transposed
				if trans {
					rows, cols = cols, rows
				}
				ldb := cols + 2
				b := randSlice[float32](rng, rows*ldb)
				size := roundUp(nb, kn.nr) * kb
				want := randSlice[float32](rng, size)
				got := clone(want)
				packB(want, b, ldb, trans, p0, j0, kb, nb, kn.nr)
				kn.packB(got, b, ldb, trans, p0, j0, kb, nb, kn.nr)
				if !sameBits(got, want) {
					t.Errorf("%s trans=%v kb=%d nb=%d: packing differs from packB", kn.name, trans, kb, nb)
				}
			}
		}
	}
}

// A narrow, wide Aᵀ·B with beta 0 is computed as its transpose (swapTN):
// the same bits as the product computed as given, serial and split.
func TestSwapTNSameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, kn := range asmKernels32() {
		if kn.fnA == nil {
			continue
		}
		for _, sh := range [][3]int{{128, 256, 2048 / 4}, {7, 200, 600}, {64, 129, 513}, {128, 1000, 700}} {
			m, n, k := sh[0], sh[1], sh[2]
			if !swapTN(kn, true, false, m, n, k, float32(0)) {
				t.Fatalf("%v: not swapped", sh)
			}
			a, b := randSlice[float32](rng, k*m), randSlice[float32](rng, k*n)
			want := make([]float32, m*n)
			blocked(kn, true, false, m, n, k, 1.5, a, m, b, n, 0, want, n)
			for _, par := range []bool{false, true} {
				cfg := config[float32]{kern: kn, grain: 1, procs: 2, minChunk: 6}
				got := randSlice[float32](rng, m*n)
				gemm(&cfg, par, true, false, m, n, k, 1.5, a, m, b, n, 0, got, n)
				if !sameBits(got, want) {
					t.Errorf("%s %v parallel=%v: swapped product differs from the product as given", kn.name, sh, par)
				}
			}
		}
	}
}

// configFor is the package's configuration for T.
func configFor[T float]() *config[T] {
	var z T
	switch any(z).(type) {
	case float32:
		return any(&config32).(*config[T])
	default:
		return any(&config64).(*config[T])
	}
}

// sgemmBF16Serial is SgemmBF16 on the calling goroutine only.
func sgemmBF16Serial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(&configBF16, false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
