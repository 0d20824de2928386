package stats

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestMcNemarHandComputed(t *testing.T) {
	for _, c := range []struct {
		b, c    int
		p, midP float64
	}{
		{0, 0, 1, 1},
		{0, 5, 2.0 / 32, 1.0 / 32}, // P(X<=0) = 1/32
		{7, 3, 2 * 176.0 / 1024, 2 * (176.0 - 60) / 1024}, // P(X<=3) = (1+10+45+120)/1024
		{3, 7, 2 * 176.0 / 1024, 2 * (176.0 - 60) / 1024},
		{5, 5, 1, 1}, // 2·638/1024 > 1; mid-p 2·(638−126)/1024 = 1
		{1, 0, 1, 0.5},
	} {
		p, mp := McNemar(c.b, c.c)
		if !near(p, c.p, 1e-12) || !near(mp, c.midP, 1e-12) {
			t.Errorf("McNemar(%d, %d) = %v, %v; want %v, %v", c.b, c.c, p, mp, c.p, c.midP)
		}
	}
}

// TestMcNemarLarge checks the log-space sum against exact rational
// arithmetic at counts like the study's (thousands of positions).
func TestMcNemarLarge(t *testing.T) {
	for _, c := range [][2]int{{180, 230}, {1000, 1100}, {40, 41}} {
		n, k := c[0]+c[1], min(c[0], c[1])
		sum := new(big.Int)
		for i := 0; i <= k; i++ {
			sum.Add(sum, new(big.Int).Binomial(int64(n), int64(i)))
		}
		r := new(big.Rat).SetFrac(sum, new(big.Int).Lsh(big.NewInt(1), uint(n)))
		want, _ := r.Float64()
		want = math.Min(1, 2*want)
		p, _ := McNemar(c[0], c[1])
		if math.Abs(p-want) > 1e-12*math.Max(want, 1e-300) && math.Abs(p-want) > 1e-15 {
			t.Errorf("McNemar(%d, %d) = %.15g, exact %.15g", c[0], c[1], p, want)
		}
	}
}

func TestDiscordant(t *testing.T) {
	a := []bool{true, true, false, false, true}
	b := []bool{true, false, true, false, false}
	nb, nc, err := Discordant(a, b)
	if err != nil || nb != 2 || nc != 1 {
		t.Fatalf("Discordant = %d, %d, %v; want 2, 1", nb, nc, err)
	}
	if _, _, err := Discordant(a, b[:2]); err == nil {
		t.Fatal("different lengths accepted")
	}
}

func TestHolm(t *testing.T) {
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
	if got := Holm([]float64{0.5, 0.9}); got[0] != 1 || got[1] != 1 {
		t.Fatalf("Holm caps at 1: %v", got)
	}
}

func TestPooledDiffHandComputed(t *testing.T) {
	docs := []DocSums{{N: 2, SumA: 2, SumB: 1}, {N: 3, SumA: 0, SumB: 3}}
	if got := PooledDiff(docs)([]int{1, 1}); !near(got, -0.4, 1e-15) {
		t.Fatalf("pooled difference %v, want (2−4)/5 = −0.4", got)
	}
	if got := PooledDiff(docs)([]int{2, 0}); !near(got, 0.5, 1e-15) { // (4−2)/4
		t.Fatalf("doubled first document: %v, want 0.5", got)
	}
	if got := PooledDiff(docs)([]int{0, 0}); !math.IsNaN(got) {
		t.Fatalf("no documents: %v, want NaN", got)
	}
}

func TestBootstrapDeterministicAndDegenerate(t *testing.T) {
	one := []DocSums{{N: 4, SumA: 3, SumB: 1}}
	iv, err := Bootstrap(1, PooledDiff(one), 200, 1, 0.95)
	if err != nil || iv.Est != 0.5 || iv.Lo != 0.5 || iv.Hi != 0.5 {
		t.Fatalf("one document: %+v, %v; want 0.5 everywhere", iv, err)
	}
	x := []float64{1, 5, 2, 8, 3}
	a, _ := Bootstrap(5, WeightedSum(x), 500, 7, 0.9)
	b, _ := Bootstrap(5, WeightedSum(x), 500, 7, 0.9)
	if a != b {
		t.Fatalf("same seed, different intervals: %+v %+v", a, b)
	}
	if a.Est != 19 || !(a.Lo < 19 && 19 < a.Hi) {
		t.Fatalf("interval %+v should contain the sum 19", a)
	}
	if _, err := Bootstrap(0, WeightedSum(nil), 10, 1, 0.95); err == nil {
		t.Fatal("no documents accepted")
	}
	if _, err := Bootstrap(3, WeightedSum(x[:3]), 10, 1, 1.5); err == nil {
		t.Fatal("level 1.5 accepted")
	}
}

// TestBootstrapWidth compares the bootstrap interval of a mean difference
// with the normal interval ±1.96·σ/√n of the same sample.
func TestBootstrapWidth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 400
	docs := make([]DocSums, n)
	var m, m2 float64
	for i := range docs {
		d := rng.NormFloat64()*2 + 0.3
		docs[i] = DocSums{N: 1, SumA: d, SumB: 0}
		m += d
		m2 += d * d
	}
	m /= n
	sd := math.Sqrt(m2/n - m*m)
	iv, err := Bootstrap(n, PooledDiff(docs), 4000, 42, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	half := 1.96 * sd / math.Sqrt(n)
	if !near(iv.Est, m, 1e-12) || !near(iv.Lo, m-half, 0.1*half) || !near(iv.Hi, m+half, 0.1*half) {
		t.Fatalf("bootstrap %+v, normal %v ± %v", iv, m, half)
	}
}

func TestSumRatio(t *testing.T) {
	f := SumRatio([]float64{1, 2}, []float64{4, 4})
	if got := f([]int{1, 1}); got != 3.0/8 {
		t.Fatalf("ratio %v", got)
	}
	if got := SumRatio([]float64{1}, []float64{0})([]int{1}); !math.IsNaN(got) {
		t.Fatalf("zero denominator: %v", got)
	}
}

func TestSpearmanHandComputed(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	y := []float64{5, 6, 7, 8, 7} // ranks 1, 2, 3.5, 5, 3.5
	if got, want := Spearman(x, y), 8/math.Sqrt(95); !near(got, want, 1e-12) {
		t.Fatalf("Spearman %v, want %v", got, want)
	}
	rho, p, err := SpearmanTest([]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40})
	if err != nil || rho != 1 || !near(p, 1.0/24, 1e-15) {
		t.Fatalf("perfect order: ρ %v p %v (%v); want 1, 1/24", rho, p, err)
	}
	rho, p, _ = SpearmanTest([]float64{1, 2, 3}, []float64{3, 2, 1})
	if rho != -1 || p != 1 {
		t.Fatalf("reversed: ρ %v p %v; want −1, 1", rho, p)
	}
	// n = 3, y = (1, 3, 2): ρ = 0.5; orderings with ρ >= 0.5: (1,2,3) ρ=1, (1,3,2), (2,1,3) ρ=0.5: p = 3/6.
	rho, p, _ = SpearmanTest([]float64{1, 2, 3}, []float64{1, 3, 2})
	if !near(rho, 0.5, 1e-12) || !near(p, 0.5, 1e-12) {
		t.Fatalf("(1,3,2): ρ %v p %v; want 0.5, 0.5", rho, p)
	}
	if _, _, err := SpearmanTest(make([]float64, 11), make([]float64, 11)); err == nil {
		t.Fatal("11 values accepted by the exact test")
	}
}

func TestGroups(t *testing.T) {
	s := []Scores{
		{Correct: []bool{true, false}, Loss: []float64{1, 2}},
		{Correct: []bool{true, false}, Loss: []float64{1 + 5e-6, 2}}, // same as 0
		{Correct: []bool{true, true}, Loss: []float64{1, 2}},         // differs in correctness
		{Correct: []bool{true, false}, Loss: []float64{1, 2.001}},    // differs in loss
		{Correct: []bool{true, false}, Loss: []float64{1, 2}},        // same as 0
	}
	got := Groups(s, 1e-5)
	want := [][]int{{0, 1, 4}, {2}, {3}}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for g := range want {
		if len(got[g]) != len(want[g]) {
			t.Fatalf("groups %v, want %v", got, want)
		}
		for i := range want[g] {
			if got[g][i] != want[g][i] {
				t.Fatalf("groups %v, want %v", got, want)
			}
		}
	}
}

func TestCompareHandComputed(t *testing.T) {
	a := Scores{Correct: []bool{true, true, false, true, false}, Loss: []float64{1, 1, 3, 1, 2}}
	b := Scores{Correct: []bool{false, true, false, false, true}, Loss: []float64{2, 1, 3, 2, 1}}
	doc := []int{0, 0, 1, 1, 1}
	r, err := Compare(a, b, doc, 1000, 42)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 5 || r.B != 2 || r.C != 1 || r.AccA != 0.6 || r.AccB != 0.4 || r.LossA != 1.6 || r.LossB != 1.8 {
		t.Fatalf("%+v", r)
	}
	if p, _ := McNemar(2, 1); r.P != p || p != 1 {
		t.Fatalf("p %v, want 1 (2·P(X<=1 | 3) = 1)", r.P)
	}
	if !near(r.AccDiff.Est, 0.2, 1e-12) || !near(r.LossDiff.Est, -0.2, 1e-12) {
		t.Fatalf("differences %+v %+v", r.AccDiff, r.LossDiff)
	}
	// Two documents: the resamples are {0,0}, {0,1}, {1,1}: doc 0 alone gives
	// acc diff 1/2 and loss diff −1/2, doc 1 alone 0 and 0.
	if !near(r.AccDiff.Lo, 0, 1e-12) || !near(r.AccDiff.Hi, 0.5, 1e-12) {
		t.Fatalf("accuracy interval %+v, want [0, 0.5]", r.AccDiff)
	}
	if _, err := Compare(a, b, doc[:4], 10, 1); err == nil {
		t.Fatal("mismatched positions accepted")
	}
}

func TestMedian(t *testing.T) {
	if Median([]float64{3.9351, 3.9420, 3.9266, 4.0506, 4.0224, 4.0715, 5.7780}) != 4.0224 || Median([]float64{1, 3}) != 2 || !math.IsNaN(Median(nil)) {
		t.Error("Median")
	}
}
