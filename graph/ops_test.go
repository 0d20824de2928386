package graph

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/internal/bf16"
)

func randDense(rng *rand.Rand, shape ...int) *tensor.Dense {
	n := tensor.Shape(shape).TotalSize()
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

func intDense(v ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(v)), tensor.WithBacking(v))
}

// opCase builds a graph whose output depends on the float64 inputs wrt.
type opCase struct {
	name  string
	build func(b *Builder, rng *rand.Rand) (out *G.Node, wrt []*G.Node)
}

func opCases() []opCase {
	in := func(b *Builder, rng *rand.Rand, name string, shape ...int) *G.Node {
		return b.Input(name, tensor.Float64, shape, randDense(rng, shape...))
	}
	key := func(b *Builder, k int) *G.Node { return b.Input("key", tensor.Int, tensor.Shape{1}, intDense(k)) }
	var cases []opCase
	for _, t := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		ta, tb := t[0], t[1]
		cases = append(cases, opCase{"matmul", func(b *Builder, rng *rand.Rand) (*G.Node, []*G.Node) {
			sa, sb := []int{4, 3}, []int{3, 5}
			if ta {
				sa = []int{3, 4}
			}
			if tb {
				sb = []int{5, 3}
			}
			x, y := in(b, rng, "a", sa...), in(b, rng, "b", sb...)
			return b.apply(MatMulOp{TA: ta, TB: tb}, x, y), []*G.Node{x, y}
		}})
	}
	cases = append(cases,
		opCase{"swish", func(b *Builder, rng *rand.Rand) (*G.Node, []*G.Node) {
			x := in(b, rng, "x", 5, 4)
			return b.Swish(x), []*G.Node{x}
		}},
		opCase{"norm", func(b *Builder, rng *rand.Rand) (*G.Node, []*G.Node) {
			x := in(b, rng, "x", 5, 7)
			return b.Norm(x), []*G.Node{x}
		}},
		opCase{"add", func(b *Builder, rng *rand.Rand) (*G.Node, []*G.Node) {
			x, y := in(b, rng, "x", 3, 4), in(b, rng, "y", 3, 4)
			return b.Add(x, y), []*G.Node{x, y}
		}},
		opCase{"dropout", func(b *Builder, rng *rand.Rand) (*G.Node, []*G.Node) {
			x := in(b, rng, "x", 6, 5)
			return b.Dropout(x, key(b, 12345), 0.4, 3), []*G.Node{x}
		}},
		opCase{"gate", func(b *Builder, rng *rand.Rand) (*G.Node, []*G.Node) {
			x, o := in(b, rng, "x", 4, 9), in(b, rng, "o", 4, 4)
			return b.Gate(x, o, 3), []*G.Node{x, o}
		}},
		opCase{"gather", func(b *Builder, rng *rand.Rand) (*G.Node, []*G.Node) {
			t := in(b, rng, "table", 6, 3)
			ids := b.Input("ids", tensor.Int, tensor.Shape{5}, intDense(4, 0, 4, 5, 1))
			return b.Gather(t, ids), []*G.Node{t}
		}},
		opCase{"crossentropy", func(b *Builder, rng *rand.Rand) (*G.Node, []*G.Node) {
			lg := in(b, rng, "logits", 4, 6)
			tg := b.Input("targets", tensor.Int, tensor.Shape{4}, intDense(2, -1, 5, 0))
			return b.CrossEntropy(lg, tg), []*G.Node{lg}
		}},
	)
	for _, pol := range []attn.Policy{
		{Norm: attn.InfoScale, TrainLen: 4, KeySize: 4, CosScale: 2},
		{Norm: attn.SoftmaxPlus, TrainLen: 4, KeySize: 4, Method: attn.ReRoPE, ReRoPEWindow: 3},
		{Norm: attn.Softmax, TrainLen: 4, KeySize: 4, Method: attn.ALiBi, ALiBiSlope: 0.3},
	} {
		cases = append(cases, opCase{"attention/" + pol.Method.String(), func(b *Builder, rng *rand.Rand) (*G.Node, []*G.Node) {
			const B, L, E, D = 2, 7, 3, 4
			x := in(b, rng, "x", B*L, 2*E+D)
			gq, gk := in(b, rng, "gq", D), in(b, rng, "gk", D)
			mask := b.Input("mask", tensor.Int, tensor.Shape{B * L}, intDense(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0))
			pos := b.Input("pos", tensor.Int, tensor.Shape{B * L}, intDense(0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6))
			op := AttentionOp{B: B, L: L, E: E, D: D, Policy: pol, Dropout: 0.2, Site: 1}
			o := b.Attention(op, x, gq, gk, mask, pos, key(b, 99))
			return b.Gate(x, o, E), []*G.Node{x, gq, gk}
		}})
	}
	return cases
}

// withCost adds cost = Σ out ⊙ R (or out itself when scalar) and the
// gradients of cost with respect to wrt.
func withCost(t *testing.T, b *Builder, rng *rand.Rand, out *G.Node, wrt []*G.Node) (*G.Node, G.Nodes) {
	t.Helper()
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	cost := out
	if !out.IsScalar() {
		r := G.NewConstant(randDense(rng, out.Shape()...))
		cost = G.Must(G.Sum(G.Must(G.HadamardProd(out, r))))
	}
	grads, err := G.Grad(cost, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	return cost, grads
}

func TestOpGradientsFiniteDifferences(t *testing.T) {
	for _, c := range opCases() {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			b := NewBuilder()
			out, wrt := c.build(b, rng)
			cost, grads := withCost(t, b, rng, out, wrt)
			m, err := NewMachine(b.G, append(G.Nodes{cost}, grads...)...)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Run(); err != nil {
				t.Fatal(err)
			}
			analytic := make([][]float64, len(grads))
			for i, g := range grads {
				analytic[i] = append([]float64(nil), m.Value(g).Data().([]float64)...)
			}
			for i, w := range wrt {
				x := w.Value().Data().([]float64)
				for j := range x {
					const h = 1e-6
					old := x[j]
					x[j] = old + h
					if err := m.Run(); err != nil {
						t.Fatal(err)
					}
					fp, _ := m.Float(cost)
					x[j] = old - h
					if err := m.Run(); err != nil {
						t.Fatal(err)
					}
					fm, _ := m.Float(cost)
					x[j] = old
					num := (fp - fm) / (2 * h)
					if d := math.Abs(num - analytic[i][j]); d > 1e-6*math.Max(1, math.Abs(num)) {
						t.Errorf("d cost/d %s[%d]: analytic %.9g, numeric %.9g", w.Name(), j, analytic[i][j], num)
					}
				}
			}
			// The same graph under Gorgonia's TapeMachine gives the same gradients.
			tm := G.NewTapeMachine(b.G)
			defer tm.Close()
			if err := tm.RunAll(); err != nil {
				t.Fatal(err)
			}
			for i, g := range grads {
				got := g.Value().Data().([]float64)
				for j := range got {
					if math.Abs(got[j]-analytic[i][j]) > 1e-12 {
						t.Fatalf("TapeMachine gradient %s[%d] = %v, Machine %v", wrt[i].Name(), j, got[j], analytic[i][j])
					}
				}
			}
		})
	}
}

// A steady-state training step reuses its buffers: the second run takes
// every tensor from the pool.
func TestMachineReusesBuffers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	b := NewBuilder()
	x := b.Input("x", tensor.Float64, tensor.Shape{256, 64}, randDense(rng, 256, 64))
	w := b.Input("w", tensor.Float64, tensor.Shape{64, 64}, randDense(rng, 64, 64))
	w2 := b.Input("w2", tensor.Float64, tensor.Shape{40, 64}, randDense(rng, 40, 64))
	targets := make([]int, 256)
	for i := range targets {
		targets[i] = i % 40
	}
	tg := b.Input("targets", tensor.Int, tensor.Shape{256}, intDense(targets...))
	h := b.Norm(b.Add(x, b.Swish(b.Linear(x, w))))
	cost := b.CrossEntropy(b.Linear(h, w2), tg)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(cost, x, w, w2)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMachine(b.G, append(G.Nodes{cost}, grads...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	c1, _ := m.Float(cost)
	// Bytes allocated by steady-state runs, against the bytes of the
	// tensors a run produces: small bookkeeping (slice headers boxed in
	// interfaces) is fine, tensors are not.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 5
	for i := 0; i < runs; i++ {
		if err := m.Run(); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	c2, _ := m.Float(cost)
	if c1 != c2 {
		t.Fatalf("cost changed between identical runs: %v then %v", c1, c2)
	}
	perRun := float64(after.TotalAlloc-before.TotalAlloc) / runs
	var tensorBytes int
	for _, in := range m.Plan().Steps {
		tensorBytes += in.Node.Shape().TotalSize() * 8
	}
	t.Logf("bytes allocated per run: %.0f; bytes of tensors produced per run: %d", perRun, tensorBytes)
	if perRun > 0.1*float64(tensorBytes) {
		t.Errorf("a steady-state run allocates %.0f bytes for %d bytes of tensors: buffers are not reused", perRun, tensorBytes)
	}
}

// Elementwise ops write over an input that dies there: a chain of them
// needs one buffer, and the results are unchanged.
func TestMachineInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	b := NewBuilder()
	x := b.Input("x", tensor.Float64, tensor.Shape{16, 8}, randDense(rng, 16, 8))
	w := b.Input("w", tensor.Float64, tensor.Shape{8, 8}, randDense(rng, 8, 8))
	lin := b.Linear(x, w)
	sw := b.Swish(lin)  // lin dies here: in place
	nm := b.Norm(sw)    // sw dies here: in place
	out := b.Add(nm, x) // nm dies here: in place (x is an input, never overwritten)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	m, err := NewMachine(b.G, out, lin)
	if err != nil {
		t.Fatal(err)
	}
	// lin is an output here, so Swish must not overwrite it.
	if err := m.Run(); err != nil {
		t.Fatal(err)
	}
	linV := m.Value(lin).Data().([]float64)
	got := m.Value(out).Data().([]float64)
	want := make([]float64, len(got))
	xs := x.Value().Data().([]float64)
	for r := 0; r < 16; r++ {
		row := make([]float64, 8)
		var ss float64
		for c := range row {
			v := linV[r*8+c]
			row[c] = v / (1 + math.Exp(-v))
			ss += row[c] * row[c]
		}
		inv := 1 / math.Sqrt(ss/8+1e-12)
		for c := range row {
			want[r*8+c] = row[c]*inv + xs[r*8+c]
		}
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if m.Value(out).(*tensor.Dense).Uintptr() == m.Value(lin).(*tensor.Dense).Uintptr() {
		t.Fatal("an output was overwritten in place")
	}
	// Without lin as an output the whole chain shares lin's buffer.
	m2, err := NewMachine(b.G, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Run(); err != nil {
		t.Fatal(err)
	}
	if n := len(m2.pool[poolKey(tensor.Float64, tensor.Shape{16, 8})]); n != 0 {
		t.Errorf("%d spare [16 8] buffers after the run; the chain should have used one", n)
	}
	for i, v := range m2.Value(out).Data().([]float64) {
		if math.Abs(v-want[i]) > 1e-12 {
			t.Fatalf("in-place result [%d] = %v, want %v", i, v, want[i])
		}
	}
}

// Machine.BF16 rounds both operands of every float32 product to bfloat16
// and accumulates in float32: y = x·Wᵀ and its gradient products equal a
// hand-written loop over the rounded operands, and differ from the float32
// results; the machine's inputs are left as they were.
func TestMachineBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	const m, k, n = 6, 40, 5
	f32 := func(shape ...int) *tensor.Dense {
		v := make([]float32, tensor.Shape(shape).TotalSize())
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	}
	xv, wv := f32(m, k), f32(n, k)
	xd := append([]float32(nil), xv.Float32s()...)
	// product(a [r×k], b [c×k]) = a·bᵀ over bfloat16-rounded operands,
	// float32 accumulation in index order.
	product := func(a, b []float32, r, c, k int) []float32 {
		out := make([]float32, r*c)
		for i := 0; i < r; i++ {
			for j := 0; j < c; j++ {
				var s float32
				for p := 0; p < k; p++ {
					s += bf16.Round(a[i*k+p]) * bf16.Round(b[j*k+p])
				}
				out[i*c+j] = s
			}
		}
		return out
	}
	run := func(round bool) (y, dx []float32) {
		b := NewBuilder()
		x := b.Input("x", tensor.Float32, tensor.Shape{m, k}, xv)
		w := b.Input("w", tensor.Float32, tensor.Shape{n, k}, wv)
		yn := b.Linear(x, w)
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		cost := G.Must(G.Sum(yn)) // dy = 1, dx = 1·W
		grads, err := G.Grad(cost, x)
		if err != nil {
			t.Fatal(err)
		}
		mc, err := NewMachine(b.G, yn, grads[0])
		if err != nil {
			t.Fatal(err)
		}
		mc.BF16 = round
		if err := mc.Run(); err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), mc.Value(yn).Data().([]float32)...), append([]float32(nil), mc.Value(grads[0]).Data().([]float32)...)
	}
	y, dx := run(true)
	y32, _ := run(false)
	want := product(xv.Float32s(), wv.Float32s(), m, n, k)
	wt := make([]float32, k*n) // Wᵀ, so that dx = ones[m×n]·W = ones·(Wᵀ)ᵀ
	for i := 0; i < n; i++ {
		for p := 0; p < k; p++ {
			wt[p*n+i] = wv.Float32s()[i*k+p]
		}
	}
	ones := make([]float32, m*n)
	for i := range ones {
		ones[i] = 1
	}
	wantDX := product(ones, wt, m, k, n)
	differs := false
	for i := range want {
		if d := math.Abs(float64(y[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("y[%d] = %v, want %v (the product of the rounded operands)", i, y[i], want[i])
		}
		differs = differs || y[i] != y32[i]
	}
	if !differs {
		t.Errorf("BF16 gave the float32 product: nothing was rounded")
	}
	for i := range wantDX {
		if d := math.Abs(float64(dx[i] - wantDX[i])); d > 1e-5*(1+math.Abs(float64(wantDX[i]))) {
			t.Fatalf("dx[%d] = %v, want %v", i, dx[i], wantDX[i])
		}
	}
	for i, v := range xv.Float32s() {
		if v != xd[i] {
			t.Fatalf("x[%d] changed from %v to %v", i, xd[i], v)
		}
	}
}

// AttentionOp.InferShape checks every input against B, L, E and D, so a
// model wired wrongly fails when the graph is built, not when it runs.
func TestAttentionInferShapeChecksInputs(t *testing.T) {
	const B, L, E, D = 2, 3, 4, 2
	pol := attn.Policy{Norm: attn.Softmax, TrainLen: 4, KeySize: D}
	ints := func(n int) *tensor.Dense { return intDense(make([]int, n)...) }
	for _, c := range []struct {
		name           string
		xCols, gq, pos int
		want           string
	}{
		{"ok", 2*E + D, D, B * L, ""},
		{"X width", 2*E + D + 1, D, B * L, "X has shape"},
		{"gamma", 2*E + D, D + 1, B * L, "γq has shape"},
		{"positions", 2*E + D, D, B*L - 1, "positions has shape"},
	} {
		rng := rand.New(rand.NewPCG(1, 1))
		b := NewBuilder()
		x := b.Input("x", tensor.Float64, tensor.Shape{B * L, c.xCols}, randDense(rng, B*L, c.xCols))
		gq := b.Input("gq", tensor.Float64, tensor.Shape{c.gq}, randDense(rng, c.gq))
		gk := b.Input("gk", tensor.Float64, tensor.Shape{D}, randDense(rng, D))
		mask := b.Input("mask", tensor.Int, tensor.Shape{B * L}, ints(B*L))
		pos := b.Input("pos", tensor.Int, tensor.Shape{c.pos}, ints(c.pos))
		k := b.Input("key", tensor.Int, tensor.Shape{1}, ints(1))
		b.Attention(AttentionOp{B: B, L: L, E: E, D: D, Policy: pol}, x, gq, gk, mask, pos, k)
		err := b.Err()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
