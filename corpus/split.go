package corpus

import (
	"cmp"
	"math"
	"slices"
	"unicode/utf8"
)

// Split divides docs, in order, into a training part (the first trainFrac of
// the documents, rounded to the nearest count; 0.8 in the paper) and a
// validation part (the rest). When there are at least two documents each
// part has at least one. A trainFrac below 0 or NaN counts as 0, one above 1
// as 1. The parts share docs' backing array but have no spare capacity, so
// appending to one does not change the other.
func Split(docs []Document, trainFrac float64) (train, val []Document) {
	n := len(docs)
	switch {
	case math.IsNaN(trainFrac) || trainFrac < 0:
		trainFrac = 0
	case trainFrac > 1:
		trainFrac = 1
	}
	k := int(math.Round(trainFrac * float64(n)))
	if n >= 2 {
		k = max(1, min(k, n-1))
	}
	return docs[:k:k], docs[k:n:n]
}

// SelectTestSet chooses up to n long documents for the length-extrapolation
// test set (the paper uses 10, tiling a document that is shorter than the
// evaluation length). length gives the length of a text in tokens; nil means
// its number of code points. The rule is deterministic:
//
//   - a document is eligible if length(text) >= minLen;
//   - if at least n documents are eligible, the result is n of them evenly
//     spaced in corpus order: with m eligible documents numbered from 0, the
//     ones numbered floor((2i+1)·m / 2n) for i = 0..n-1, which is all of them
//     when m == n;
//   - otherwise it is all the eligible documents plus the longest of the
//     others (the earlier one first among equally long ones) until there are
//     n, or all documents if the corpus has fewer than n.
//
// The result is in corpus order. It is nil if n <= 0.
func SelectTestSet(docs []Document, n int, minLen int, length func(string) int) []Document {
	if n <= 0 || len(docs) == 0 {
		return nil
	}
	if length == nil {
		length = utf8.RuneCountInString
	}
	lens := make([]int, len(docs))
	var eligible, rest []int
	for i, d := range docs {
		lens[i] = length(d.Text)
		if lens[i] >= minLen {
			eligible = append(eligible, i)
		} else {
			rest = append(rest, i)
		}
	}
	var chosen []int
	if m := len(eligible); m >= n {
		chosen = make([]int, n)
		for i := range n {
			chosen[i] = eligible[(2*i+1)*m/(2*n)]
		}
	} else {
		slices.SortStableFunc(rest, func(a, b int) int { return cmp.Compare(lens[b], lens[a]) })
		chosen = append(eligible, rest[:min(n-m, len(rest))]...)
		slices.Sort(chosen)
	}
	out := make([]Document, len(chosen))
	for i, c := range chosen {
		out[i] = docs[c]
	}
	return out
}
