package stats

import (
	"math"
	"testing"
)

func TestBinomialUpperHandComputed(t *testing.T) {
	cases := []struct {
		k, n int
		p    float64
		want float64
	}{
		// P(X >= 1), n = 3, p = 0.1: 1 − 0.9³ = 0.271.
		{1, 3, 0.1, 0.271},
		// P(X >= 2) = 3·0.01·0.9 + 0.001 = 0.028.
		{2, 3, 0.1, 0.028},
		// P(X = 3) = 0.001.
		{3, 3, 0.1, 0.001},
		// p = 1/2, n = 4: P(X >= 3) = (4 + 1)/16.
		{3, 4, 0.5, 5.0 / 16},
		{0, 5, 0.1, 1},
		{-1, 5, 0.1, 1},
		{6, 5, 0.1, 0},
		{2, 5, 0, 0},
		{2, 5, 1, 1},
	}
	for _, c := range cases {
		got, err := BinomialUpper(c.k, c.n, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-14 {
			t.Errorf("BinomialUpper(%d, %d, %v) = %v, want %v", c.k, c.n, c.p, got, c.want)
		}
	}
	for _, bad := range []struct {
		n int
		p float64
	}{{-1, 0.1}, {5, -0.1}, {5, 1.5}, {5, math.NaN()}} {
		if _, err := BinomialUpper(1, bad.n, bad.p); err == nil {
			t.Errorf("n = %d, p = %v accepted", bad.n, bad.p)
		}
	}
}

// Against a direct sum of the probabilities for a larger n, in both tails
// of the mode.
func TestBinomialUpperAgainstDirectSum(t *testing.T) {
	const n, p = 300, 0.1
	prob := make([]float64, n+1)
	// P(X = i) by the recurrence P(i+1) = P(i)·(n−i)/(i+1)·p/(1−p).
	prob[0] = math.Pow(1-p, n)
	for i := 0; i < n; i++ {
		prob[i+1] = prob[i] * float64(n-i) / float64(i+1) * p / (1 - p)
	}
	for _, k := range []int{1, 10, 30, 31, 45, 60, 100} {
		var want float64
		for i := k; i <= n; i++ {
			want += prob[i]
		}
		got, err := BinomialUpper(k, n, p)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-12*math.Max(want, 1e-300) && math.Abs(got-want) > 1e-15 {
			t.Errorf("k = %d: %v, want %v", k, got, want)
		}
	}
}
