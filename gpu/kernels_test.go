//go:build gpu || gpuemu

package gpu

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/kernels/cpu"
	"github.com/infoscale/gaualpha/kernels/cuda"
	"github.com/infoscale/gaualpha/kernels/gemm"
	"github.com/infoscale/gaualpha/pipeline"
)

// TestABI checks, without a device, that every kernel's PTX parameters match
// the Go parameter structs (one .param of the struct's size) for both PTX
// architectures.
func TestABI(t *testing.T) {
	for _, arch := range []string{"sm80", "sm90"} {
		seen := 0
		for _, m := range cuda.Modules {
			ptx, err := cuda.PTX(m, arch)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkPTXSignatures(m, ptx); err != nil {
				t.Error(err)
			}
			seen += len(ptxEntries(ptx))
		}
		if seen != len(kernelSigs) {
			t.Errorf("%s: %d kernels in the PTX, %d in kernelSigs", arch, seen, len(kernelSigs))
		}
	}
	// One sanitizer filter (kns=KernelPrefix) must select every kernel.
	for name := range kernelSigs {
		if !strings.HasPrefix(name, KernelPrefix) {
			t.Errorf("kernel %s does not start with %q", name, KernelPrefix)
		}
	}
	// The check itself catches 8-byte parameters and a struct of another
	// size.
	for _, bad := range []string{`.visible .entry gau_swish_f32(
	.param .u64 gau_swish_f32_param_0,
	.param .u64 gau_swish_f32_param_1,
	.param .u64 gau_swish_f32_param_2
)`, `.visible .entry gau_swish_f32(
	.param .align 8 .b8 gau_swish_f32_param_0[16]
)`} {
		if checkPTXSignatures("elementwise", bad) == nil {
			t.Errorf("a mismatching PTX signature was accepted:\n%s", bad)
		}
	}
}

// TestLaunchChecksArguments: a launch takes a pointer to the kernel's own
// parameter struct, nothing else.
func TestLaunchChecksArguments(t *testing.T) {
	d := testDevice(t)
	y := nanBuf(t, d, 4)
	for _, c := range []struct {
		name string
		args any
	}{
		{"gau_swish_f32", swishArgs{Y: y, X: y, N: 1}},   // not a pointer
		{"gau_swish_f32", &addArgs{Z: y, X: y, N: 1}},    // another kernel's struct
		{"gau_swish_f32", (*swishArgs)(nil)},             // nil
		{"gau_swish_f32", []any{y, y, int64(1)}},         // positional
		{"no_such_kernel", &swishArgs{Y: y, X: y, N: 1}}, // unknown kernel
	} {
		if err := d.launch(c.name, [3]int{1, 1, 1}, block256, 0, c.args); err == nil {
			t.Errorf("%s with %T accepted", c.name, c.args)
		}
	}
	must(t, d.launch("gau_swish_f32", [3]int{1, 1, 1}, block256, 0, &swishArgs{Y: y, X: y, N: 0}))
}

// TestToBF16 checks the host rounding on hand-picked patterns and the device
// kernel against it, bit for bit, on random values and the special ones.
func TestToBF16(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even below: down
		{0x3f818000, 0x3f82}, // tie, odd below: up
		{0x3f808001, 0x3f81}, // above the tie: up
		{0x3f807fff, 0x3f80}, // below the tie: down
		{0xbf818000, 0xbf82}, // negative tie: away from zero to even
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7f7fffff, 0x7f80}, // the largest float rounds to +Inf
		{0x7fc00001, 0x7fc0}, // quiet NaN stays NaN
		{0x7f800001, 0x7fc0}, // signalling NaN: the payload's top is lost, quieted
		{0x00000001, 0x0000}, // the smallest subnormal rounds to zero
		{0x80000000, 0x8000}, // -0
	}
	x := make([]float32, 0, len(cases)+4000)
	for _, c := range cases {
		x = append(x, math.Float32frombits(c.in))
		if got := ToBF16([]float32{math.Float32frombits(c.in)})[0]; got != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	rng := rand.New(rand.NewPCG(7, 1))
	for range 4000 {
		x = append(x, math.Float32frombits(rng.Uint32()))
	}
	d := testDevice(t)
	n := len(x)
	y := nanBuf(t, d, n)
	must(t, d.ToBF16(y, upload(t, d, x), n))
	got, want := download[uint16](t, d, y, n), ToBF16(x)
	bad := 0
	for i := range want {
		if got[i] != want[i] {
			if bad++; bad <= 5 {
				t.Errorf("element %d (%#08x): device %#04x, host %#04x", i, math.Float32bits(x[i]), got[i], want[i])
			}
		}
	}
}

func TestSwishAndGrad(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 5000
	x := randF32(rng, n, 3)
	dy := randF32(rng, n, 1)
	want := make([]float32, n)
	cpu.Swish(want, x)
	y := nanBuf(t, d, n)
	must(t, d.Swish(y, upload(t, d, x), n))
	check(t, "swish", download[float32](t, d, y, n), want, 1e-4)

	cpu.SwishGrad(want, x, dy)
	dx := nanBuf(t, d, n)
	must(t, d.SwishGrad(dx, upload(t, d, x), upload(t, d, dy), n))
	check(t, "swish grad", download[float32](t, d, dx, n), want, 1e-4)
}

func TestNormAndGrad(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(2, 1))
	const rows, n = 9, 300
	x := randF32(rng, rows*n, 2)
	dy := randF32(rng, rows*n, 1)
	want := make([]float32, rows*n)
	cpu.Norm(want, x, n)
	y := nanBuf(t, d, rows*n)
	must(t, d.Norm(y, upload(t, d, x), rows, n))
	check(t, "norm", download[float32](t, d, y, rows*n), want, 1e-4)

	cpu.NormGrad(want, x, dy, n)
	dx := nanBuf(t, d, rows*n)
	must(t, d.NormGrad(dx, upload(t, d, x), upload(t, d, dy), rows, n))
	check(t, "norm grad", download[float32](t, d, dx, rows*n), want, 1e-4)
}

func TestGate(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(3, 1))
	const rows, e = 13, 40
	const xw, ow = 2*e + 16, e + 1
	x := randF32(rng, rows*xw, 1)
	o := randF32(rng, rows*ow, 1)
	dy := randF32(rng, rows*e, 1)
	xd, od, dyd := upload(t, d, x), upload(t, d, o), upload(t, d, dy)

	want := make([]float32, rows*e)
	cpu.Gate(want, x, o, e, xw, ow)
	y := nanBuf(t, d, rows*e)
	must(t, d.Gate(y, xd, od, rows, e, xw, ow))
	check(t, "gate", download[float32](t, d, y, rows*e), want, 1e-4)

	wantX := make([]float32, rows*xw)
	cpu.GateGradX(wantX, o, dy, e, xw, ow)
	dx := nanBuf(t, d, rows*xw)
	must(t, d.GateGradX(dx, od, dyd, rows, e, xw, ow))
	check(t, "gate grad x", download[float32](t, d, dx, rows*xw), wantX, 1e-4)

	wantO := make([]float32, rows*ow)
	cpu.GateGradO(wantO, x, dy, e, xw, ow)
	do := nanBuf(t, d, rows*ow)
	must(t, d.GateGradO(do, xd, dyd, rows, e, xw, ow))
	check(t, "gate grad o", download[float32](t, d, do, rows*ow), wantO, 1e-4)
}

func TestAddDropoutUnpack(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(4, 1))
	const n = 10007
	x := randF32(rng, n, 1)
	y := randF32(rng, n, 1)
	want := make([]float32, n)
	cpu.Add(want, x, y)
	z := nanBuf(t, d, n)
	must(t, d.Add(z, upload(t, d, x), upload(t, d, y), n))
	check(t, "add", download[float32](t, d, z, n), want, 1e-4)

	for _, p := range []float64{0, 0.3} {
		cpu.Dropout(want, x, p, 12345, 7)
		must(t, d.Dropout(z, upload(t, d, x), n, p, 12345, 7))
		got := download[float32](t, d, z, n)
		for i := range got {
			if got[i] != want[i] { // same hash, same product: bit for bit
				t.Fatalf("dropout p=%v element %d: %v, want %v", p, i, got[i], want[i])
			}
		}
	}

	const rows, width = 10, 17
	src := randF32(rng, rows*width, 1)
	dst := nanBuf(t, d, 5*12)
	must(t, d.Unpack(dst, upload(t, d, src), 3, 5, 12, width))
	got := download[float32](t, d, dst, 5*12)
	for r := 0; r < 5; r++ {
		for c := 0; c < 12; c++ {
			if got[r*12+c] != src[(3+r)*width+c] {
				t.Fatalf("unpack [%d,%d] = %v, want %v", r, c, got[r*12+c], src[(3+r)*width+c])
			}
		}
	}
}

func TestGatherScatter(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(5, 1))
	const rows, n = 50, 37
	table := randF32(rng, rows*n, 1)
	ids := make([]int, 23)
	for i := range ids {
		ids[i] = rng.IntN(rows)
	}
	ids[5] = ids[2] // a repeated id: scatter-add must sum
	ids64 := make([]int64, len(ids))
	for i, v := range ids {
		ids64[i] = int64(v)
	}
	idd := upload(t, d, ids64)

	want := make([]float32, len(ids)*n)
	must(t, cpu.Gather(want, table, ids, n))
	out := nanBuf(t, d, len(ids)*n)
	must(t, d.Gather(out, upload(t, d, table), idd, len(ids), n, rows))
	check(t, "gather", download[float32](t, d, out, len(ids)*n), want, 1e-6)
	syncCheck(t, d)

	dout := randF32(rng, len(ids)*n, 1)
	wantT := make([]float32, rows*n)
	must(t, cpu.ScatterAdd(wantT, dout, ids, n))
	dt := nanBuf(t, d, rows*n)
	must(t, d.ScatterAdd(dt, upload(t, d, dout), idd, len(ids), n, rows))
	check(t, "scatter add", download[float32](t, d, dt, rows*n), wantT, 1e-5)
	syncCheck(t, d)

	ids64[7] = rows // out of range
	must(t, d.Gather(out, upload(t, d, table), upload(t, d, ids64), len(ids), n, rows))
	must(t, d.Synchronize())
	if err := d.CheckErrors(); err == nil {
		t.Error("an id out of range was not reported")
	}
	syncCheck(t, d) // the flag is cleared
}

func TestCrossEntropy(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(6, 1))
	const m, v = 37, 300
	logits := randF32(rng, m*v, 2)
	targets := make([]int, m)
	t64 := make([]int64, m)
	for i := range targets {
		targets[i] = rng.IntN(v)
		if i%4 == 1 {
			targets[i] = pipeline.IgnoreTarget
		}
		t64[i] = int64(targets[i])
	}
	lg, tg := upload(t, d, logits), upload(t, d, t64)
	wantLoss, wantCount, err := cpu.CrossEntropy(logits, targets, v)
	must(t, err)
	out := nanBuf(t, d, 4)
	loss32 := nanBuf(t, d, 1)
	must(t, d.CrossEntropy(out, loss32, lg, tg, m, v))
	res := download[float64](t, d, out, 2)
	if math.Abs(res[0]-wantLoss) > 1e-5*math.Abs(wantLoss) || int(res[1]) != wantCount {
		t.Errorf("loss %v over %v rows, want %v over %d", res[0], res[1], wantLoss, wantCount)
	}
	if l := download[float32](t, d, loss32, 1)[0]; l != float32(res[0]) {
		t.Errorf("float32 loss %v, want %v", l, float32(res[0]))
	}

	want := make([]float32, m*v)
	cpu.CrossEntropyGrad(want, logits, targets, v, 0.7*2)
	dl := nanBuf(t, d, m*v)
	must(t, d.CrossEntropyGrad(dl, lg, tg, m, v, 0.7, upload(t, d, []float32{2})))
	check(t, "cross-entropy grad", download[float32](t, d, dl, m*v), want, 1e-4)
	syncCheck(t, d)

	t64[3] = v // out of range
	must(t, d.CrossEntropy(out, 0, lg, upload(t, d, t64), m, v))
	must(t, d.Synchronize())
	if err := d.CheckErrors(); err == nil {
		t.Error("a target out of range was not reported")
	}
}

// TestSgemm checks the row-major GEMM in all transpose combinations, with
// padded leading dimensions, beta = 0 over a NaN-filled C (not read) and
// beta != 0, against kernels/gemm.Sgemm; and the bf16 GEMM.
func TestSgemm(t *testing.T) {
	d := testDevice(t)
	rng := rand.New(rand.NewPCG(9, 1))
	const m, n, k = 37, 29, 23
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			for _, beta := range []float32{0, 0.5} {
				ar, ac := m, k
				if ta {
					ar, ac = k, m
				}
				br, bc := k, n
				if tb {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+3, bc+1, n+5
				a := randF32(rng, ar*lda, 1)
				b := randF32(rng, br*ldb, 1)
				c := randF32(rng, m*ldc, 1)
				cd := upload(t, d, c)
				if beta == 0 {
					must(t, d.Fill32(cd, nanBits, m*ldc))
				}
				want := append([]float32(nil), c...)
				gemm.Sgemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, beta, want, ldc)
				must(t, d.Sgemm(ta, tb, m, n, k, 1.5, upload(t, d, a), lda, upload(t, d, b), ldb, beta, cd, ldc))
				got := download[float32](t, d, cd, m*ldc)
				check(t, "sgemm", rowsOf(got, m, n, ldc), rowsOf(want, m, n, ldc), 1e-5)

				wantBF := append([]float32(nil), c...)
				gemm.Sgemm(ta, tb, m, n, k, 1.5, a, lda, b, ldb, beta, wantBF, ldc)
				cd = upload(t, d, c)
				must(t, d.GemmBF16(ta, tb, m, n, k, 1.5, upload(t, d, ToBF16(a)), lda, upload(t, d, ToBF16(b)), ldb, beta, cd, ldc))
				got = download[float32](t, d, cd, m*ldc)
				check(t, "gemm bf16", rowsOf(got, m, n, ldc), rowsOf(wantBF, m, n, ldc), 2e-2)
			}
		}
	}
}

// rowsOf returns the m×n matrix of a row-major buffer with row stride ld.
func rowsOf(x []float32, m, n, ld int) []float32 {
	out := make([]float32, 0, m*n)
	for i := 0; i < m; i++ {
		out = append(out, x[i*ld:i*ld+n]...)
	}
	return out
}
