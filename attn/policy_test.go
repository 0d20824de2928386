package attn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// The spec's table (d = 128, n0 = 64).
func TestFactorsAgainstSpecTable(t *testing.T) {
	info := Policy{Norm: InfoScale, TrainLen: 64, KeySize: 128}.WithDefaults()
	plus := Policy{Norm: SoftmaxPlus, TrainLen: 64, KeySize: 128}.WithDefaults()
	for _, c := range []struct {
		n          int
		info, plus float64
	}{
		{64, 1.000000, 0.666667}, {128, 1.077237, 0.777778}, {256, 1.148543, 0.888889},
		{512, 1.214970, 1.000000}, {1024, 1.277288, 1.111111}, {2048, 1.336077, 1.222222},
		{4096, 1.391792, 1.333333}, {16384, 1.495378, 1.555556},
	} {
		if got := info.Factor(c.n); math.Abs(got-c.info) > 5e-7 {
			t.Errorf("InfoScale(%d) = %.7f, want %.6f", c.n, got, c.info)
		}
		if got := plus.Factor(c.n); math.Abs(got-c.plus) > 5e-7 {
			t.Errorf("softmax_plus(%d) = %.7f, want %.6f", c.n, got, c.plus)
		}
	}
	if got := (Policy{Norm: Softmax}).Factor(1000); got != 1 {
		t.Errorf("softmax factor %v, want 1", got)
	}
}

type factorsFile struct {
	Norm []struct {
		N        int     `json:"n"`
		D        int     `json:"attention_key_size"`
		N0       int     `json:"train_length"`
		Info     float64 `json:"infoscale"`
		Plus     float64 `json:"softmax_plus"`
		PlusBase float64 `json:"softmax_plus_base"`
	} `json:"normalization_factors"`
	Rope []struct {
		Method string    `json:"method"`
		D      int       `json:"attention_key_size"`
		N0     int       `json:"train_length"`
		L      int       `json:"seq_len"`
		Base   float64   `json:"rope_base"`
		Theta  []float64 `json:"theta"`
		Mult   float64   `json:"logit_multiplier"`
	} `json:"rope_frequencies"`
}

// Factors, frequency tables and YaRN's temperature against the values the
// PyTorch reference script computed independently.
func TestAgainstTorchFactorsFile(t *testing.T) {
	raw, err := os.ReadFile("../testdata/reference/factors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f factorsFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Norm) < 50 || len(f.Rope) < 12 {
		t.Fatalf("factors file too small: %d factors, %d tables", len(f.Norm), len(f.Rope))
	}
	for _, c := range f.Norm {
		p := Policy{TrainLen: c.N0, KeySize: c.D, Base: 512}
		p.Norm = InfoScale
		if got := p.Factor(c.N); math.Abs(got-c.Info) > 1e-12 {
			t.Errorf("InfoScale n=%d d=%d n0=%d: %v, torch %v", c.N, c.D, c.N0, got, c.Info)
		}
		p.Norm = SoftmaxPlus
		if got := p.Factor(c.N); math.Abs(got-c.Plus) > 1e-12 {
			t.Errorf("softmax_plus n=%d: %v, torch %v", c.N, got, c.Plus)
		}
	}
	for _, c := range f.Rope {
		m, err := ParseMethod(c.Method)
		if err != nil {
			t.Fatal(err)
		}
		p := Policy{Method: m, TrainLen: c.N0, KeySize: c.D, RopeBase: c.Base}.WithDefaults()
		theta := p.Frequencies(c.L)
		for i, want := range c.Theta {
			if math.Abs(theta[i]-want) > 1e-12*math.Max(1, want) {
				t.Fatalf("%s L=%d θ[%d] = %v, torch %v", c.Method, c.L, i, theta[i], want)
			}
		}
		if got := p.LogitMultiplier(c.L); math.Abs(got-c.Mult) > 1e-12 {
			t.Errorf("%s L=%d logit multiplier %v, torch %v", c.Method, c.L, got, c.Mult)
		}
	}
}

// Frequency tables by hand: PI divides every frequency by s, NTK changes the
// base to base·s^(d/(d-2)), YaRN keeps the fastest dimensions and
// interpolates the slowest, with mscale = 0.1 ln s + 1.
func TestFrequencyTablesByHand(t *testing.T) {
	const d, n0, L = 8, 4, 16 // s = 4
	rope := Policy{Method: RoPE, TrainLen: n0, KeySize: d}.WithDefaults().Frequencies(L)
	want := []float64{1, math.Pow(10000, -0.25), math.Pow(10000, -0.5), math.Pow(10000, -0.75)}
	for i := range want {
		if math.Abs(rope[i]-want[i]) > 1e-15 {
			t.Errorf("rope θ[%d] = %v, want %v", i, rope[i], want[i])
		}
	}
	pi := Policy{Method: PI, TrainLen: n0, KeySize: d}.WithDefaults().Frequencies(L)
	for i := range want {
		if math.Abs(pi[i]-want[i]/4) > 1e-15 {
			t.Errorf("pi θ[%d] = %v, want %v", i, pi[i], want[i]/4)
		}
	}
	ntk := Policy{Method: NTK, TrainLen: n0, KeySize: d}.WithDefaults().Frequencies(L)
	base := 10000 * math.Pow(4, 8.0/6)
	for i := range want {
		if w := math.Pow(base, -2*float64(i)/d); math.Abs(ntk[i]-w) > 1e-15 {
			t.Errorf("ntk θ[%d] = %v, want %v", i, ntk[i], w)
		}
	}
	// No extension at L <= n0: every method is plain RoPE.
	for _, m := range []Method{PI, NTK, YaRN} {
		got := Policy{Method: m, TrainLen: n0, KeySize: d}.WithDefaults().Frequencies(n0)
		for i := range want {
			if got[i] != rope[i] {
				t.Errorf("%v at L = n0: θ[%d] = %v, want %v", m, i, got[i], rope[i])
			}
		}
	}
	// YaRN with d = 128, n0 = 64: ramp from index 0 (corr(32) < 0) to 17
	// (ceil(corr(1)) = ceil(16.13)); index 0 keeps θ, indices >= 17 are
	// divided by s.
	y := Policy{Method: YaRN, TrainLen: 64, KeySize: 128}.WithDefaults()
	r := Policy{Method: RoPE, TrainLen: 64, KeySize: 128}.WithDefaults()
	yt, rt := y.Frequencies(1024), r.Frequencies(1024)
	if yt[0] != rt[0] {
		t.Errorf("yarn θ[0] = %v, want unchanged %v", yt[0], rt[0])
	}
	for i := 17; i < 64; i++ {
		if math.Abs(yt[i]-rt[i]/16) > 1e-15 {
			t.Errorf("yarn θ[%d] = %v, want %v (interpolated)", i, yt[i], rt[i]/16)
		}
	}
	mid := 8 // ramp (8-0)/17: keep 9/17 of the original
	if w := rt[mid]/16*(8.0/17) + rt[mid]*(9.0/17); math.Abs(yt[mid]-w) > 1e-15 {
		t.Errorf("yarn θ[8] = %v, want %v", yt[mid], w)
	}
	if got, w := y.LogitMultiplier(1024), math.Pow(0.1*math.Log(16)+1, 2); math.Abs(got-w) > 1e-15 {
		t.Errorf("yarn multiplier %v, want %v", got, w)
	}
	// A fixed target length fixes the scale at every sequence length.
	fixed := Policy{Method: PI, TrainLen: n0, KeySize: d, TargetLen: 64}.WithDefaults()
	if got := fixed.Frequencies(8)[0]; got != 1.0/16 {
		t.Errorf("pi with target 64 at L=8: θ[0] = %v, want 1/16", got)
	}
	if (Policy{Method: ALiBi, KeySize: d, TrainLen: n0}).Frequencies(L) != nil {
		t.Error("ALiBi must not rotate")
	}
}

func TestMaskMembershipAtEdges(t *testing.T) {
	const n0 = 8
	stream := Policy{Method: StreamingLLM, TrainLen: n0, KeySize: 4}.WithDefaults()
	lminf := Policy{Method: LMInfinite, TrainLen: n0, KeySize: 4}.WithDefaults()
	win := Policy{Method: Window, TrainLen: n0, KeySize: 4, Window: 5}.WithDefaults()
	cases := []struct {
		p    Policy
		i, j int
		keep bool
	}{
		// StreamingLLM: |i-j| <= n0-1 = 7, or j < 4, or i < 4.
		{stream, 20, 13, true}, {stream, 20, 12, false}, {stream, 13, 20, true}, {stream, 12, 20, false},
		{stream, 20, 3, true}, {stream, 20, 4, false}, {stream, 3, 20, true}, {stream, 4, 20, false},
		// LM-Infinite: |i-j| <= 7, or j < 5, or i < 5.
		{lminf, 20, 13, true}, {lminf, 20, 12, false}, {lminf, 20, 4, true}, {lminf, 20, 5, false},
		{lminf, 4, 20, true}, {lminf, 5, 20, false},
		// Window 5: |i-j| <= 5, no sinks.
		{win, 20, 15, true}, {win, 20, 14, false}, {win, 15, 20, true}, {win, 14, 20, false},
		{win, 20, 0, false}, {win, 0, 20, false}, {win, 7, 7, true},
	}
	for _, c := range cases {
		if got := c.p.Keep(c.i, c.j); got != c.keep {
			t.Errorf("%v Keep(%d, %d) = %v, want %v", c.p.Method, c.i, c.j, got, c.keep)
		}
	}
	for _, m := range []Method{RoPE, PI, NTK, YaRN, PoSE, ALiBi, ReRoPE} {
		if !(Policy{Method: m, TrainLen: n0}).Keep(1000, 0) {
			t.Errorf("%v masks a pair", m)
		}
	}
	// Far pairs: ReRoPE from w, LM-Infinite from n0.
	rr := Policy{Method: ReRoPE, TrainLen: n0, KeySize: 4, ReRoPEWindow: 6}.WithDefaults()
	for _, c := range []struct {
		p    Policy
		i, j int
		far  bool
	}{{rr, 10, 5, false}, {rr, 10, 4, true}, {rr, 4, 10, true}, {rr, 5, 10, false},
		{lminf, 20, 13, false}, {lminf, 20, 12, true}, {lminf, 20, 3, true}} {
		if got := c.p.Far(c.i, c.j); got != c.far {
			t.Errorf("%v Far(%d, %d) = %v, want %v", c.p.Method, c.i, c.j, got, c.far)
		}
	}
}

func TestALiBiBias(t *testing.T) {
	// The default slope is Press et al.'s 2^-8 on the scaled logits, i.e.
	// 2^-8·sqrt(4) = 2/256 inside the kernels' bracket (q·k + bias)/sqrt(d).
	p := Policy{Method: ALiBi, TrainLen: 8, KeySize: 4}.WithDefaults()
	for _, c := range []struct {
		i, j int
		want float64
	}{{5, 5, 0}, {5, 4, -2.0 / 256}, {4, 5, -2.0 / 256}, {300, 44, -2}} {
		if got := p.Bias(c.i, c.j); got != c.want {
			t.Errorf("Bias(%d, %d) = %v, want %v", c.i, c.j, got, c.want)
		}
	}
	if (Policy{Method: RoPE}).Bias(9, 0) != 0 {
		t.Error("RoPE has a bias")
	}
}

// Block classification agrees with the per-element rules on random blocks.
func TestClassifyAgreesWithElements(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, p := range []Policy{
		{Method: StreamingLLM, TrainLen: 16, KeySize: 4},
		{Method: LMInfinite, TrainLen: 16, KeySize: 4},
		{Method: Window, TrainLen: 16, KeySize: 4, Window: 9},
		{Method: ReRoPE, TrainLen: 16, KeySize: 4, ReRoPEWindow: 11},
		{Method: RoPE, TrainLen: 16, KeySize: 4},
	} {
		p = p.WithDefaults()
		for n := 0; n < 3000; n++ {
			i0, j0 := rng.IntN(200), rng.IntN(200)
			i1, j1 := i0+1+rng.IntN(40), j0+1+rng.IntN(40)
			class := p.Classify(i0, i1, j0, j1)
			for i := i0; i < i1; i++ {
				for j := j0; j < j1; j++ {
					keep, far := p.Keep(i, j), p.Far(i, j)
					bad := false
					switch class {
					case BlockSkip:
						bad = keep
					case BlockNear:
						bad = !keep || far
					case BlockFarBehind:
						bad = !keep || !far || j >= i
					case BlockFarAhead:
						bad = !keep || !far || j <= i
					}
					if bad {
						t.Fatalf("%v block [%d,%d)x[%d,%d) classified %v but (%d,%d) keep=%v far=%v", p.Method, i0, i1, j0, j1, class, i, j, keep, far)
					}
				}
			}
		}
	}
}

func TestValidate(t *testing.T) {
	good := Policy{Norm: InfoScale, TrainLen: 64, KeySize: 128}.WithDefaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Policy){
		"odd key":        func(p *Policy) { p.KeySize = 7 },
		"n0 zero":        func(p *Policy) { p.TrainLen = 0 },
		"negative cos":   func(p *Policy) { p.CosScale = -2 },
		"NaN cos":        func(p *Policy) { p.CosScale = math.NaN() },
		"bad base":       func(p *Policy) { p.Norm, p.Base = SoftmaxPlus, 1 },
		"negative slope": func(p *Policy) { p.ALiBiSlope = -1 },
		"yarn betas":     func(p *Policy) { p.Method, p.YaRNBetaFast, p.YaRNBetaSlow = YaRN, 1, 2 },
	} {
		p := good
		mod(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, s := range []string{"softmax", "softmax_plus", "infoscale", "InfoScale"} {
		if _, err := ParseNorm(s); err != nil {
			t.Errorf("ParseNorm(%q): %v", s, err)
		}
	}
	for _, s := range MethodNames() {
		if m, err := ParseMethod(s); err != nil || m.String() != s {
			t.Errorf("ParseMethod(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMethod("xpos"); err == nil {
		t.Error("unknown method accepted")
	}
}

// TestPIForms checks the two forms of position interpolation against
// hand-computed frequencies (d = 4, base 10000: θ = 1, 0.01).
func TestPIForms(t *testing.T) {
	free := Policy{Method: PI, TrainLen: 64, KeySize: 4}.WithDefaults()
	for _, c := range []struct {
		L    int
		want []float64
	}{{64, []float64{1, 0.01}}, {128, []float64{0.5, 0.005}}, {4096, []float64{1.0 / 64, 0.01 / 64}}} {
		got := free.Frequencies(c.L)
		for i := range c.want {
			if math.Abs(got[i]-c.want[i]) > 1e-15 {
				t.Errorf("training-free PI at L=%d: θ = %v, want %v", c.L, got, c.want)
			}
		}
	}
	// Fine-tuned at L' = 256 = 4·n0 with scale 4: the checkpoint's training
	// length is L' and the scale target/train = 1024/256 = 4 holds at every
	// evaluation length.
	ft := Policy{Method: PI, TrainLen: 256, TargetLen: 1024, KeySize: 4}.WithDefaults()
	for _, L := range []int{128, 256, 512, 4096} {
		got := ft.Frequencies(L)
		if math.Abs(got[0]-0.25) > 1e-15 || math.Abs(got[1]-0.0025) > 1e-15 {
			t.Errorf("fine-tuned PI at L=%d: θ = %v, want [0.25 0.0025]", L, got)
		}
	}
}

func TestVisibleKeys(t *testing.T) {
	for _, c := range []struct {
		m    Method
		n    int
		want int
	}{
		{Window, 4096, 129},       // 2·64+1
		{StreamingLLM, 4096, 131}, // 2·63+1 + 4 sinks
		{LMInfinite, 4096, 132},   // 2·63+1 + 5 sinks
		{Window, 100, 100},
		{RoPE, 4096, 4096},
		{ReRoPE, 4096, 4096},
	} {
		p := Policy{Norm: InfoScale, Method: c.m, TrainLen: 64, KeySize: 64, VisibleKeys: true}.WithDefaults()
		if got := p.VisibleKeyCount(c.n); got != c.want {
			t.Errorf("%v: %d visible of %d, want %d", c.m, got, c.n, c.want)
		}
		if got, want := p.Factor(c.n), InfoScaleFactor(c.want, 64, 64); got != want {
			t.Errorf("%v: factor %v, want %v", c.m, got, want)
		}
	}
	plus := Policy{Norm: SoftmaxPlus, Base: 64, Method: Window, TrainLen: 64, KeySize: 64, VisibleKeys: true}.WithDefaults()
	if got, want := plus.Factor(4096), math.Log(129)/math.Log(64); math.Abs(got-want) > 1e-15 {
		t.Errorf("softmax_plus base n0, visible keys: %v, want %v", got, want)
	}
}

// The temperatures beside InfoScale, at values computed independently (by
// Python's math module; n0 = 64):
// YaRN's (0.1·ln(n/n0) + 1)², Llama 4's 1 + 0.1·ln(1 + ⌊(n−1)/n0⌋), both 1
// up to n0; and the identities docs/methods.md states: LongRoPE's scale
// 1 + ln(n/n0)/ln(n0) and Qwen's log_n0(n) are softmax_plus with base n0
// beyond n0.
func TestTemperatures(t *testing.T) {
	const n0 = 64
	cases := []struct {
		norm Norm
		n    int
		want float64
	}{
		{YaRNTemp, 32, 1},
		{YaRNTemp, 64, 1},
		{YaRNTemp, 128, 1.143433966251171},  // (0.1·ln 2 + 1)²
		{YaRNTemp, 4096, 2.004739701682487}, // (0.1·ln 64 + 1)²
		{Llama4Temp, 64, 1},
		{Llama4Temp, 65, 1.0693147180559945},   // 1 + 0.1·ln 2
		{Llama4Temp, 128, 1.0693147180559945},  // ⌊127/64⌋ = 1
		{Llama4Temp, 129, 1.1098612288668110},  // 1 + 0.1·ln 3
		{Llama4Temp, 4096, 1.4158883083359672}, // ⌊4095/64⌋ = 63: 1 + 0.1·ln 64
	}
	for _, c := range cases {
		p := Policy{Norm: c.norm, TrainLen: n0, KeySize: 16}.WithDefaults()
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := p.Factor(c.n); math.Abs(got-c.want) > 1e-13 {
			t.Errorf("%v at n = %d: %.16g, want %.16g", c.norm, c.n, got, c.want)
		}
	}
	for _, name := range []string{"yarn_temp", "llama4_temp"} {
		if nm, err := ParseNorm(name); err != nil || nm.String() != name {
			t.Errorf("ParseNorm(%q) = %v, %v", name, nm, err)
		}
	}
	plus := Policy{Norm: SoftmaxPlus, TrainLen: n0, KeySize: 16, Base: n0}.WithDefaults()
	for _, n := range []int{64, 100, 128, 4096} {
		longrope := 1 + math.Log(float64(n)/n0)/math.Log(n0)
		qwen := math.Log(float64(n)) / math.Log(n0)
		if got := plus.Factor(n); math.Abs(got-longrope) > 1e-14 || math.Abs(got-qwen) > 1e-14 {
			t.Errorf("n = %d: softmax_plus base n0 %v, LongRoPE %v, Qwen %v", n, got, longrope, qwen)
		}
	}
}
