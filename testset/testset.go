// Package testset selects the length-extrapolation test set the way the
// paper does (its figure 1): the documents are clustered by spectral
// clustering of character-frequency features, and the test documents are
// drawn by stratified random sampling, each cluster contributing in
// proportion to its size.
//
// The steps, each deterministic for a given seed (docs/analysis.md has the
// exact definitions):
//
//  1. features: the relative frequencies of the F most frequent characters
//     of the documents (special tokens excluded), TF-IDF weighted and
//     L2-normalised;
//  2. graph: cosine similarity, kept for each document's K nearest
//     neighbours and symmetrised (w_ij = max of the two directions);
//  3. embedding: the eigenvectors of the k largest eigenvalues of
//     D^(-1/2) W D^(-1/2) (the k smallest of the normalised Laplacian),
//     rows scaled to unit length (Ng, Jordan and Weiss);
//  4. k-means on the embedded rows (k-means++ seeding, best of several
//     restarts), clusters numbered by their first document;
//  5. quotas proportional to cluster sizes (largest remainder), and within
//     each cluster a seeded random draw among the documents of at least
//     MinLen tokens, topped up with the longest others if too few are.
package testset

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/infoscale/gaualpha/corpus"
	"github.com/infoscale/gaualpha/tokenizer"
)

// Defaults of the Options fields left zero.
const (
	DefaultFeatures  = 256
	DefaultNeighbors = 10
	DefaultClusters  = 5
	// kmeansRestarts is the number of k-means runs; the one with the lowest
	// within-cluster sum of squares is kept.
	kmeansRestarts = 10
	kmeansMaxIter  = 300
)

// Options configure a selection.
type Options struct {
	// N is the number of documents to select (the paper: 10).
	N int
	// Clusters is the number of spectral clusters k (0: DefaultClusters;
	// at most the number of documents).
	Clusters int
	// MinLen is the preferred minimum length in tokens: a cluster's draw
	// takes documents at least this long first.
	MinLen int
	// Seed makes k-means and the sampling reproducible.
	Seed uint64
	// Features is the number of most frequent characters used as features
	// (0: DefaultFeatures).
	Features int
	// Neighbors is k of the k-nearest-neighbour graph (0: DefaultNeighbors;
	// at most the number of documents minus one).
	Neighbors int
}

// Info describes a selection, for plots and reports. Slices indexed by
// document follow the order of the documents given.
type Info struct {
	// Labels is the cluster of each document, 0..k-1, numbered in the order
	// of their first document.
	Labels []int
	// Sizes is the number of documents in each cluster.
	Sizes []int
	// Quotas is the number of documents drawn from each cluster.
	Quotas []int
	// Selected lists the indices of the selected documents, ascending.
	Selected []int
	// Tokens is the length of each document in tokens.
	Tokens []int
	// PCA holds each document's coordinates on the first two principal
	// components of the feature vectors (centred), and Explained the share
	// of the variance each component explains.
	PCA       [][2]float64
	Explained [2]float64
	// Eigenvalues are the k largest eigenvalues of D^(-1/2) W D^(-1/2),
	// descending (1 minus the normalised Laplacian's smallest); a gap after
	// the k-th suggests k clusters.
	Eigenvalues []float64
	// Chars are the characters used as features, most frequent first.
	Chars []string
}

// Spectral selects n documents by spectral clustering into the given number
// of clusters and stratified sampling (see the package documentation),
// preferring documents of at least minLen tokens. The documents are
// returned in corpus order.
func Spectral(docs []corpus.Document, v *tokenizer.Vocab, n, clusters, minLen int, seed uint64) ([]corpus.Document, Info, error) {
	return Select(docs, v, Options{N: n, Clusters: clusters, MinLen: minLen, Seed: seed})
}

// Select is Spectral with every option.
func Select(docs []corpus.Document, v *tokenizer.Vocab, o Options) ([]corpus.Document, Info, error) {
	o, err := o.withDefaults(len(docs))
	if err != nil {
		return nil, Info{}, err
	}
	if v == nil {
		return nil, Info{}, fmt.Errorf("testset: no vocabulary")
	}
	toks := make([][]int, len(docs))
	for i, d := range docs {
		toks[i] = v.Encode(d.Text)
	}
	x, ids := features(toks, v, o.Features)
	if len(ids) == 0 {
		return nil, Info{}, fmt.Errorf("testset: the documents have no characters of the vocabulary")
	}
	info := Info{Tokens: make([]int, len(docs))}
	for i, t := range toks {
		info.Tokens[i] = len(t)
	}
	for _, id := range ids {
		info.Chars = append(info.Chars, v.Token(id))
	}
	w := knnGraph(x, o.Neighbors)
	emb, eig, err := embed(w, o.Clusters)
	if err != nil {
		return nil, Info{}, err
	}
	info.Eigenvalues = eig
	info.Labels = kmeans(emb, o.Clusters, o.Seed)
	info.Sizes = make([]int, o.Clusters)
	for _, l := range info.Labels {
		info.Sizes[l]++
	}
	info.Quotas = allocate(info.Sizes, o.N)
	info.Selected = sample(info.Labels, info.Quotas, info.Tokens, o.MinLen, o.Seed)
	if info.PCA, info.Explained, err = pca2(x); err != nil {
		return nil, Info{}, err
	}
	out := make([]corpus.Document, len(info.Selected))
	for i, d := range info.Selected {
		out[i] = docs[d]
	}
	return out, info, nil
}

func (o Options) withDefaults(ndocs int) (Options, error) {
	if ndocs == 0 {
		return o, fmt.Errorf("testset: no documents")
	}
	if o.N < 1 {
		return o, fmt.Errorf("testset: %d documents to select; want at least 1", o.N)
	}
	if o.Clusters < 0 || o.Features < 0 || o.Neighbors < 0 || o.MinLen < 0 {
		return o, fmt.Errorf("testset: negative option in %+v", o)
	}
	if o.Clusters == 0 {
		o.Clusters = DefaultClusters
	}
	if o.Features == 0 {
		o.Features = DefaultFeatures
	}
	if o.Neighbors == 0 {
		o.Neighbors = DefaultNeighbors
	}
	o.N = min(o.N, ndocs)
	o.Clusters = min(o.Clusters, ndocs)
	o.Neighbors = max(1, min(o.Neighbors, ndocs-1))
	return o, nil
}

// features returns the L2-normalised TF-IDF vectors of the documents over
// the f most frequent non-special tokens (rows: documents), and those token
// ids, most frequent first (ties: lower id first).
func features(toks [][]int, v *tokenizer.Vocab, f int) (*mat.Dense, []int) {
	total := make(map[int]int)
	for _, t := range toks {
		for _, id := range t {
			if !v.IsSpecial(id) {
				total[id]++
			}
		}
	}
	ids := make([]int, 0, len(total))
	for id := range total {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b int) int {
		if c := cmp.Compare(total[b], total[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	ids = ids[:min(f, len(ids))]
	col := make(map[int]int, len(ids))
	for c, id := range ids {
		col[id] = c
	}
	n, nf := len(toks), max(1, len(ids))
	x := mat.NewDense(n, nf, nil)
	df := make([]float64, nf)
	for i, t := range toks {
		for _, id := range t {
			if c, ok := col[id]; ok {
				if x.At(i, c) == 0 {
					df[c]++
				}
				x.Set(i, c, x.At(i, c)+1)
			}
		}
	}
	for i, t := range toks {
		row := x.RawRowView(i)
		var norm float64
		for c := range row {
			idf := math.Log((1+float64(n))/(1+df[c])) + 1
			row[c] = row[c] / float64(max(1, len(t))) * idf
			norm += row[c] * row[c]
		}
		if norm > 0 {
			norm = math.Sqrt(norm)
			for c := range row {
				row[c] /= norm
			}
		}
	}
	return x, ids
}

// knnGraph returns the symmetric k-nearest-neighbour graph of the rows of x
// under cosine similarity (the rows are unit vectors or zero): w_ij is the
// similarity when j is among i's k most similar documents or i among j's,
// else 0. Ties are broken by the lower index.
func knnGraph(x *mat.Dense, k int) *mat.SymDense {
	n, _ := x.Dims()
	var s mat.Dense
	s.Mul(x, x.T())
	w := mat.NewSymDense(n, nil)
	order := make([]int, 0, n)
	for i := 0; i < n; i++ {
		order = order[:0]
		for j := 0; j < n; j++ {
			if j != i {
				order = append(order, j)
			}
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(s.At(i, b), s.At(i, a)) })
		for _, j := range order[:min(k, len(order))] {
			sim := max(0, s.At(i, j))
			if sim > w.At(i, j) {
				w.SetSym(i, j, sim)
			}
		}
	}
	return w
}

// embed returns the spectral embedding of the graph w: the eigenvectors of
// the k largest eigenvalues of D^(-1/2) W D^(-1/2) as columns, each row
// scaled to unit length, and those eigenvalues (descending). A document
// without edges keeps a zero row.
func embed(w *mat.SymDense, k int) (*mat.Dense, []float64, error) {
	n := w.SymmetricDim()
	inv := make([]float64, n)
	for i := 0; i < n; i++ {
		var d float64
		for j := 0; j < n; j++ {
			d += w.At(i, j)
		}
		if d > 0 {
			inv[i] = 1 / math.Sqrt(d)
		}
	}
	m := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			m.SetSym(i, j, inv[i]*w.At(i, j)*inv[j])
		}
	}
	var es mat.EigenSym
	if !es.Factorize(m, true) {
		return nil, nil, fmt.Errorf("testset: the eigendecomposition of the similarity graph did not converge")
	}
	vals := es.Values(nil) // ascending
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	emb := mat.NewDense(n, k, nil)
	eig := make([]float64, k)
	for c := 0; c < k; c++ {
		src := n - 1 - c
		eig[c] = vals[src]
		for i := 0; i < n; i++ {
			emb.Set(i, c, vecs.At(i, src))
		}
	}
	for i := 0; i < n; i++ {
		row := emb.RawRowView(i)
		if norm := math.Sqrt(dot(row, row)); norm > 0 {
			for c := range row {
				row[c] /= norm
			}
		}
	}
	return emb, eig, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func dist2(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// kmeans clusters the rows of x into k groups: k-means++ seeding and Lloyd
// iterations, the best (lowest within-cluster sum of squares) of
// kmeansRestarts runs from a generator seeded by seed. Labels are renumbered
// in the order of the first row of each cluster, so equal partitions give
// equal labels.
func kmeans(x *mat.Dense, k int, seed uint64) []int {
	n, _ := x.Dims()
	rng := rand.New(rand.NewPCG(seed, 0x6b6d65616e73)) // "kmeans"
	var best []int
	bestCost := math.Inf(1)
	for r := 0; r < kmeansRestarts; r++ {
		labels, cost := lloyd(x, k, rng)
		if best == nil || cost < bestCost-1e-12*math.Max(1, bestCost) {
			best, bestCost = labels, cost
		}
	}
	// Canonical numbering.
	rename := make(map[int]int, k)
	out := make([]int, n)
	for i, l := range best {
		if _, ok := rename[l]; !ok {
			rename[l] = len(rename)
		}
		out[i] = rename[l]
	}
	return out
}

// lloyd runs one k-means from a k-means++ start; it returns the labels and
// the within-cluster sum of squares. An emptied cluster is re-seeded with
// the row farthest from its centre.
func lloyd(x *mat.Dense, k int, rng *rand.Rand) ([]int, float64) {
	n, dim := x.Dims()
	row := func(i int) []float64 { return x.RawRowView(i) }
	centres := make([][]float64, 0, k)
	centres = append(centres, slices.Clone(row(rng.IntN(n))))
	d2 := make([]float64, n)
	for len(centres) < k {
		var sum float64
		for i := 0; i < n; i++ {
			d2[i] = math.Inf(1)
			for _, c := range centres {
				d2[i] = math.Min(d2[i], dist2(row(i), c))
			}
			sum += d2[i]
		}
		pick := rng.IntN(n)
		if sum > 0 {
			u := rng.Float64() * sum
			for i := 0; i < n; i++ {
				if u -= d2[i]; u < 0 || i == n-1 {
					pick = i
					break
				}
			}
		}
		centres = append(centres, slices.Clone(row(pick)))
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = -1
	}
	var cost float64
	for iter := 0; iter < kmeansMaxIter; iter++ {
		changed := false
		cost = 0
		for i := 0; i < n; i++ {
			bl, bd := 0, math.Inf(1)
			for c, ctr := range centres {
				if d := dist2(row(i), ctr); d < bd {
					bl, bd = c, d
				}
			}
			if labels[i] != bl {
				labels[i], changed = bl, true
			}
			cost += bd
		}
		if !changed {
			break
		}
		counts := make([]int, k)
		for c := range centres {
			clear(centres[c])
		}
		for i, l := range labels {
			counts[l]++
			for j, v := range row(i) {
				centres[l][j] += v
			}
		}
		for c := range centres {
			for j := 0; j < dim && counts[c] > 0; j++ {
				centres[c][j] /= float64(counts[c])
			}
		}
		for c := range centres {
			if counts[c] > 0 {
				continue
			}
			far, fd := -1, -1.0
			for i, l := range labels {
				if d := dist2(row(i), centres[l]); counts[l] > 1 && d > fd {
					far, fd = i, d
				}
			}
			if far < 0 {
				break
			}
			copy(centres[c], row(far))
			counts[labels[far]]--
			labels[far], counts[c] = c, 1
		}
	}
	return labels, cost
}

// allocate splits n draws among clusters in proportion to their sizes by
// the largest-remainder method (ties: the larger cluster, then the lower
// index), never giving a cluster more than its size.
func allocate(sizes []int, n int) []int {
	total := 0
	for _, s := range sizes {
		total += s
	}
	q := make([]int, len(sizes))
	if total == 0 {
		return q
	}
	n = min(n, total)
	rem := make([]float64, len(sizes))
	given := 0
	for c, s := range sizes {
		exact := float64(n) * float64(s) / float64(total)
		q[c] = min(s, int(math.Floor(exact)))
		rem[c] = exact - float64(q[c])
		given += q[c]
	}
	order := make([]int, len(sizes))
	for c := range order {
		order[c] = c
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(rem[b], rem[a]); c != 0 {
			return c
		}
		return cmp.Compare(sizes[b], sizes[a])
	})
	for given < n {
		progress := false
		for _, c := range order {
			if given < n && q[c] < sizes[c] {
				q[c]++
				given++
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	return q
}

// sample draws quotas[c] documents of each cluster c: a seeded random choice
// among its documents of at least minLen tokens, then, if those are too few,
// the longest of the others (ties: lower index). The result is ascending.
func sample(labels, quotas, tokens []int, minLen int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 0x73616d706c65)) // "sample"
	var out []int
	for c, q := range quotas {
		var long, short []int
		for i, l := range labels {
			if l != c {
				continue
			}
			if tokens[i] >= minLen {
				long = append(long, i)
			} else {
				short = append(short, i)
			}
		}
		rng.Shuffle(len(long), func(i, j int) { long[i], long[j] = long[j], long[i] })
		slices.SortStableFunc(short, func(a, b int) int { return cmp.Compare(tokens[b], tokens[a]) })
		pick := append(long, short...)
		out = append(out, pick[:min(q, len(pick))]...)
	}
	slices.Sort(out)
	return out
}

// pca2 returns the coordinates of the rows of x on the first two principal
// components of the centred rows, and the share of the variance of each.
// Each component's sign makes its largest loading positive.
func pca2(x *mat.Dense) ([][2]float64, [2]float64, error) {
	n, f := x.Dims()
	out := make([][2]float64, n)
	var explained [2]float64
	if n < 2 {
		return out, explained, nil
	}
	c := mat.DenseCopyOf(x)
	for j := 0; j < f; j++ {
		var mean float64
		for i := 0; i < n; i++ {
			mean += c.At(i, j)
		}
		mean /= float64(n)
		for i := 0; i < n; i++ {
			c.Set(i, j, c.At(i, j)-mean)
		}
	}
	var svd mat.SVD
	if !svd.Factorize(c, mat.SVDThin) {
		return nil, explained, fmt.Errorf("testset: PCA: the SVD did not converge")
	}
	sv := svd.Values(nil)
	var v mat.Dense
	svd.VTo(&v)
	var total float64
	for _, s := range sv {
		total += s * s
	}
	for p := 0; p < 2 && p < len(sv); p++ {
		sign, big := 1.0, 0.0
		for j := 0; j < f; j++ {
			if a := v.At(j, p); math.Abs(a) > big {
				big, sign = math.Abs(a), math.Copysign(1, a)
			}
		}
		for i := 0; i < n; i++ {
			var s float64
			for j := 0; j < f; j++ {
				s += c.At(i, j) * v.At(j, p)
			}
			out[i][p] = sign * s
		}
		if total > 0 {
			explained[p] = sv[p] * sv[p] / total
		}
	}
	return out, explained, nil
}

// EstimateBytes is the memory of Select on n documents with f features:
// the dense n×n similarity, graph, normalised-graph and eigenvector
// matrices (at most four live at once) and three n×f feature matrices
// (TF-IDF, centred copy, SVD), float64. Checked against the peak resident
// set of cmd/analyze testset on the 3000 documents of a synthetic corpus:
// 276 MiB estimated for a peak of 253 MiB (2026-12-06).
func EstimateBytes(n, f int) float64 {
	N := float64(n)
	return 8 * (4*N*N + 3*N*float64(f))
}

// CharVocab is a vocabulary of every character of the documents (for
// clustering documents without a model's vocabulary).
func CharVocab(docs []corpus.Document) (*tokenizer.Vocab, error) {
	return tokenizer.Build(func(yield func(string) bool) {
		for _, d := range docs {
			if !yield(d.Text) {
				return
			}
		}
	}, 1, 0)
}
