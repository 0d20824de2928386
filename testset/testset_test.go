package testset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/tokenizer"
)

// planted returns documents in k interleaved groups (document i is in group
// i%k): each group writes mostly with its own 6 letters, with 15% noise from
// the whole alphabet, and lengths vary from 150 to 600 characters.
func planted(t *testing.T, k, perGroup int, seed uint64) ([]corpus.Document, *tokenizer.Vocab) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	const alphabet = "abcdefghijklmnopqrstuvwxyz"
	var docs []corpus.Document
	for i := 0; i < k*perGroup; i++ {
		g := i % k
		own := alphabet[6*g : 6*g+6]
		n := 150 + rng.IntN(450)
		var sb strings.Builder
		for j := 0; j < n; j++ {
			if rng.Float64() < 0.15 {
				sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
			} else {
				sb.WriteByte(own[rng.IntN(len(own))])
			}
		}
		docs = append(docs, corpus.Document{ID: fmt.Sprintf("d%d", i), Text: sb.String()})
	}
	v, err := tokenizer.Build(slices.Values([]string{alphabet}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return docs, v
}

func TestSpectralRecoversPlantedClusters(t *testing.T) {
	cases := []struct {
		k, per, n int
		seed      uint64
	}{
		{2, 15, 4, 1},
		{3, 20, 6, 7},
		{4, 12, 8, 42},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("k=%d", c.k), func(t *testing.T) {
			docs, v := planted(t, c.k, c.per, c.seed)
			sel, info, err := Spectral(docs, v, c.n, c.k, 0, c.seed)
			if err != nil {
				t.Fatal(err)
			}
			// Labels are numbered by first document, and the groups are
			// interleaved, so the planted partition is exactly i%k.
			for i, l := range info.Labels {
				if l != i%c.k {
					t.Fatalf("document %d in cluster %d, planted in %d (labels %v)", i, l, i%c.k, info.Labels)
				}
			}
			// Equal clusters: equal quotas, one draw per quota.
			for g, q := range info.Quotas {
				if q != c.n/c.k {
					t.Errorf("cluster %d quota %d, want %d", g, q, c.n/c.k)
				}
			}
			got := make([]int, c.k)
			for _, d := range info.Selected {
				got[info.Labels[d]]++
			}
			if !slices.Equal(got, info.Quotas) || len(sel) != c.n {
				t.Errorf("drawn per cluster %v, quotas %v, %d documents", got, info.Quotas, len(sel))
			}
			// The spectral gap: k eigenvalues near 1.
			if e := info.Eigenvalues[c.k-1]; e < 0.9 {
				t.Errorf("eigenvalue %d = %v, want near 1 for %d separated groups", c.k, e, c.k)
			}
		})
	}
}

func TestSpectralDeterministic(t *testing.T) {
	docs, v := planted(t, 3, 20, 3)
	o := Options{N: 7, Clusters: 3, MinLen: 300, Seed: 9}
	a, ia, err := Select(docs, v, o)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		b, ib, err := Select(docs, v, o)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ia.Selected, ib.Selected) || !slices.Equal(ia.Labels, ib.Labels) || !slices.Equal(ia.PCA, ib.PCA) {
			t.Fatalf("two runs differ: %v vs %v", ia.Selected, ib.Selected)
		}
		for i := range a {
			if a[i].ID != b[i].ID {
				t.Fatalf("documents differ: %s vs %s", a[i].ID, b[i].ID)
			}
		}
	}
	// Long documents are preferred: every cluster has more than its quota
	// of documents of at least 300 tokens.
	for _, d := range ia.Selected {
		if ia.Tokens[d] < 300 {
			t.Errorf("selected document %d has %d tokens, below the preferred 300", d, ia.Tokens[d])
		}
	}
	// Another seed draws other documents (from the same clusters).
	_, ic, err := Select(docs, v, Options{N: 7, Clusters: 3, MinLen: 300, Seed: 10})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(ia.Selected, ic.Selected) {
		t.Errorf("seeds 9 and 10 selected the same documents %v", ia.Selected)
	}
	if !slices.Equal(ia.Labels, ic.Labels) {
		t.Errorf("the clustering depends on the seed")
	}
}

func TestAllocate(t *testing.T) {
	cases := []struct {
		sizes []int
		n     int
		want  []int
	}{
		{[]int{30, 20, 10}, 6, []int{3, 2, 1}},
		{[]int{30, 20, 10}, 10, []int{5, 3, 2}}, // 5, 3.33, 1.67
		{[]int{50, 49, 1}, 10, []int{5, 5, 0}},  // 5.0, 4.9, 0.1
		{[]int{1, 1, 1, 1}, 2, []int{1, 1, 0, 0}},
		{[]int{2, 100}, 10, []int{0, 10}},
		{[]int{3, 1}, 10, []int{3, 1}}, // more draws than documents
		{[]int{1, 9}, 5, []int{0, 5}},  // 0.5 and 4.5: equal remainders, the larger cluster first
	}
	for _, c := range cases {
		if got := allocate(c.sizes, c.n); !slices.Equal(got, c.want) {
			t.Errorf("allocate(%v, %d) = %v, want %v", c.sizes, c.n, got, c.want)
		}
	}
}

func TestSamplePrefersLongDocuments(t *testing.T) {
	labels := []int{0, 0, 0, 0, 1, 1, 1}
	tokens := []int{10, 500, 20, 30, 600, 700, 5}
	cases := []struct {
		quotas []int
		minLen int
		want   []int
	}{
		{[]int{1, 2}, 400, []int{1, 4, 5}},          // the only long ones
		{[]int{3, 3}, 400, []int{1, 2, 3, 4, 5, 6}}, // long first, then the longest short ones (30, 20)
		{[]int{4, 0}, 0, []int{0, 1, 2, 3}},
	}
	for _, c := range cases {
		if got := sample(labels, c.quotas, tokens, c.minLen, 1); !slices.Equal(got, c.want) {
			t.Errorf("sample(quotas %v, minLen %d) = %v, want %v", c.quotas, c.minLen, got, c.want)
		}
	}
}

func TestKMeansAndPCA(t *testing.T) {
	// Two tight groups on a line through (1, 2).
	pts := []float64{0, 0, 0.1, 0.2, 10, 20, 10.1, 20.2, 0.05, 0.1}
	x := mat.NewDense(5, 2, pts)
	if got := kmeans(x, 2, 5); !slices.Equal(got, []int{0, 0, 1, 1, 0}) {
		t.Errorf("kmeans = %v", got)
	}
	coords, expl, err := pca2(x)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(expl[0]-1) > 1e-9 || expl[1] > 1e-9 {
		t.Errorf("explained %v, want [1 0] for collinear points", expl)
	}
	// The first component is the projection on (1,2)/sqrt(5), centred.
	mean := (0 + 0.1 + 10 + 10.1 + 0.05) / 5
	for i := range coords {
		want := (pts[2*i] - mean) * math.Sqrt(5) // (x + 2·2x)/sqrt(5) = sqrt(5)·x, centred
		if math.Abs(coords[i][0]-want) > 1e-9 {
			t.Errorf("point %d: PC1 %v, want %v", i, coords[i][0], want)
		}
	}
}

func TestSelectErrors(t *testing.T) {
	docs, v := planted(t, 2, 5, 1)
	cases := []struct {
		docs []corpus.Document
		v    *tokenizer.Vocab
		o    Options
		want string
	}{
		{nil, v, Options{N: 3}, "no documents"},
		{docs, v, Options{N: 0}, "at least 1"},
		{docs, v, Options{N: 2, Clusters: -1}, "negative"},
		{docs, nil, Options{N: 2}, "no vocabulary"},
		{[]corpus.Document{{ID: "x", Text: "你好"}}, v, Options{N: 1}, "no characters"},
	}
	for _, c := range cases {
		if _, _, err := Select(c.docs, c.v, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error containing %q", c.o, err, c.want)
		}
	}
	// More documents asked than there are: all of them.
	sel, _, err := Select(docs, v, Options{N: 50, Clusters: 20})
	if err != nil || len(sel) != len(docs) {
		t.Errorf("asking 50 of %d: %d documents, %v", len(docs), len(sel), err)
	}
}

// The embedded corpus (746 documents): ten distinct documents, as many as the
// cluster quotas add up to. Its time is logged, not asserted.
func TestEmbeddedCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	docs, err := corpus.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokenizer.Build(func(yield func(string) bool) {
		for _, d := range docs {
			if !yield(d.Text) {
				return
			}
		}
	}, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	sel, info, err := Spectral(docs, v, 10, 5, 4096, 42)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("%d documents in %v: sizes %v, quotas %v, eigenvalues %.3f, explained %.3f", len(docs), el, info.Sizes, info.Quotas, info.Eigenvalues, info.Explained)
	if len(sel) != 10 {
		t.Errorf("%d documents selected", len(sel))
	}
	seen := map[string]bool{}
	for _, d := range sel {
		if seen[d.ID] {
			t.Errorf("document %s selected twice", d.ID)
		}
		seen[d.ID] = true
	}
	quota := 0
	for _, q := range info.Quotas {
		quota += q
	}
	if quota != 10 {
		t.Errorf("quotas %v sum to %d, want 10", info.Quotas, quota)
	}
}
