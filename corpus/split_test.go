package corpus

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// numbered returns n documents with IDs "0".."n-1".
func numbered(n int) []Document {
	docs := make([]Document, n)
	for i := range docs {
		docs[i] = Document{ID: strconv.Itoa(i), Text: "t" + strconv.Itoa(i)}
	}
	return docs
}

func ids(docs []Document) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

func TestSplit(t *testing.T) {
	tests := []struct {
		n         int
		frac      float64
		wantTrain int
	}{
		{0, 0.8, 0},
		{1, 0.8, 1},
		{1, 0.2, 0},
		{2, 0.8, 1},
		{3, 0.8, 2},
		{5, 0.8, 4},
		{10, 0.8, 8},
		{11, 0.8, 9}, // 8.8 rounds to 9
		{746, 0.8, 597},
		{10, 1, 9},
		{10, 0, 1},
		{10, 0.99, 9},
		{10, 0.01, 1},
		{10, -3, 1},
		{10, 7, 9},
		{10, math.NaN(), 1},
		{10, math.Inf(1), 9},
		{1, math.Inf(-1), 0},
	}
	for _, tt := range tests {
		docs := numbered(tt.n)
		train, val := Split(docs, tt.frac)
		if len(train) != tt.wantTrain || len(train)+len(val) != tt.n {
			t.Errorf("Split(%d docs, %v) = %d + %d, want %d + %d", tt.n, tt.frac, len(train), len(val), tt.wantTrain, tt.n-tt.wantTrain)
			continue
		}
		if got := append(ids(train), ids(val)...); !slices.Equal(got, ids(docs)) {
			t.Errorf("Split(%d docs, %v) reorders: %v", tt.n, tt.frac, got)
		}
	}
}

func TestSplitDeterministicAndIndependent(t *testing.T) {
	docs := numbered(20)
	train1, val1 := Split(docs, 0.8)
	train2, val2 := Split(docs, 0.8)
	if !slices.Equal(train1, train2) || !slices.Equal(val1, val2) {
		t.Fatal("Split is not deterministic")
	}
	if got, want := ids(val1), []string{"16", "17", "18", "19"}; !slices.Equal(got, want) {
		t.Errorf("validation = %v, want %v", got, want)
	}
	_ = append(train1, Document{ID: "extra"})
	if val1[0].ID != "16" {
		t.Errorf("appending to the training part overwrote the validation part: %v", ids(val1))
	}
}

func TestSelectTestSet(t *testing.T) {
	// Lengths in code points of the documents 0..11.
	lens := []int{5, 50, 10, 60, 70, 1, 80, 90, 20, 100, 30, 40}
	docs := make([]Document, len(lens))
	for i, n := range lens {
		docs[i] = Document{ID: strconv.Itoa(i), Text: strings.Repeat("字", n)}
	}
	tests := []struct {
		name   string
		docs   []Document
		n      int
		minLen int
		want   []string
	}{
		// Eligible (>= 50): 1 3 4 6 7 9.
		{"exactly n eligible", docs, 6, 50, []string{"1", "3", "4", "6", "7", "9"}},
		// m=6, n=3: eligible[1], [3], [5].
		{"evenly spaced", docs, 3, 50, []string{"3", "6", "9"}},
		// m=6, n=2: eligible[1], [4].
		{"evenly spaced two", docs, 2, 50, []string{"3", "7"}},
		{"one", docs, 1, 50, []string{"6"}},
		// m=12, n=4: [1], [4], [7], [10].
		{"all eligible", docs, 4, 0, []string{"1", "4", "7", "10"}},
		// Eligible 1 3 4 6 7 9, then the longest others: 11 (40), 10 (30).
		{"topped up with longest", docs, 8, 50, []string{"1", "3", "4", "6", "7", "9", "10", "11"}},
		// None eligible: the three longest.
		{"none eligible", docs, 3, 1000, []string{"6", "7", "9"}},
		{"corpus too small", docs, 20, 1000, ids(docs)},
		{"zero", docs, 0, 50, nil},
		{"negative", docs, -1, 50, nil},
		{"empty corpus", nil, 3, 50, nil},
		// Equal lengths: the earlier document first.
		{"ties", []Document{{"a", "xx"}, {"b", "yyy"}, {"c", "zz"}, {"d", "ww"}}, 2, 10, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SelectTestSet(tt.docs, tt.n, tt.minLen, utf8.RuneCountInString)
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("SelectTestSet(n=%d, minLen=%d) = %v, want %v", tt.n, tt.minLen, ids(got), tt.want)
			}
			if again := SelectTestSet(tt.docs, tt.n, tt.minLen, nil); !slices.Equal(ids(again), ids(got)) {
				t.Errorf("with a nil length: %v, want %v", ids(again), ids(got))
			}
		})
	}
}

func TestSelectTestSetLength(t *testing.T) {
	// The caller's length decides eligibility: here, ASCII letters only.
	docs := []Document{{"a", "abcdef"}, {"b", "中文中文中文中文"}, {"c", "abc中文"}}
	letters := func(s string) int {
		n := 0
		for _, r := range s {
			if r < utf8.RuneSelf {
				n++
			}
		}
		return n
	}
	got := SelectTestSet(docs, 1, 3, letters)
	if want := []string{"c"}; !slices.Equal(ids(got), want) {
		// Eligible a (6) and c (3); m=2, n=1: eligible[1] = c.
		t.Errorf("got %v, want %v", ids(got), want)
	}
	got = SelectTestSet(docs, 3, 5, letters)
	if want := []string{"a", "b", "c"}; !slices.Equal(ids(got), want) {
		t.Errorf("got %v, want %v", ids(got), want)
	}
}

func TestSelectTestSetEmbedded(t *testing.T) {
	docs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	got := SelectTestSet(docs, 10, 4096, nil)
	if len(got) != 10 {
		t.Fatalf("%d documents, want 10", len(got))
	}
	for _, d := range got {
		if n := utf8.RuneCountInString(d.Text); n < 4096 {
			t.Errorf("document %s has %d characters, want 4096+", d.ID, n)
		}
	}
	if again := SelectTestSet(docs, 10, 4096, nil); !slices.Equal(ids(again), ids(got)) {
		t.Errorf("not deterministic: %v then %v", ids(got), ids(again))
	}
}
