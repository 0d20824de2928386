package passkey

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/tokenizer"
)

func vocab(t *testing.T, text string) *tokenizer.Vocab {
	t.Helper()
	v, err := tokenizer.Build(slices.Values([]string{text}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func probe(t *testing.T) (*Probe, *tokenizer.Vocab) {
	v := vocab(t, "#KEY= 0123456789 filler text")
	p, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return p, v
}

func TestNewNeedsMarkerAndDigits(t *testing.T) {
	for text, want := range map[string]string{"KEY= 0123456789": `'#'`, "#KEY= 012345678": "digit 9"} {
		if _, err := New(vocab(t, text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("vocabulary of %q: %v, want an error naming %s", text, err, want)
		}
	}
}

func TestPlant(t *testing.T) {
	p, v := probe(t)
	seq := v.Encode(strings.Repeat("filler text ", 5)) // 60 tokens
	orig := slices.Clone(seq)
	pos, targets, err := p.Plant(seq, 3, 30, [Digits]int{9, 0, 4, 4, 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Decode(seq[3:13]); got != "#KEY=90441" {
		t.Errorf("statement %q", got)
	}
	if got := v.Decode(seq[30:35]); got != "#KEY=" {
		t.Errorf("question marker %q", got)
	}
	if !slices.Equal(pos, []int{35, 36, 37, 38, 39}) {
		t.Errorf("masked positions %v", pos)
	}
	for i, at := range pos {
		if seq[at] != v.Mask() || v.Token(targets[i]) != string("90441"[i]) {
			t.Errorf("digit %d: token %q, target %q", i, v.Token(seq[at]), v.Token(targets[i]))
		}
	}
	if !slices.Equal(seq[13:30], orig[13:30]) || !slices.Equal(seq[40:], orig[40:]) {
		t.Error("Plant changed tokens outside its spans")
	}
	for _, c := range [][2]int{{0, 5}, {5, 0}, {-1, 30}, {0, 55}} {
		if _, _, err := p.Plant(slices.Clone(orig), c[0], c[1], [Digits]int{}); err == nil {
			t.Errorf("spans at %v accepted", c)
		}
	}
}

// Every (offset, gap) pair of a training sample is about equally likely,
// the question always follows the statement, and [CLS] and [SEP] stay.
func TestTrainSampleUniform(t *testing.T) {
	p, v := probe(t)
	const L = 24 // content 22, room 22 − 20 = 2: pairs (a, g) with a+g <= 2: 6 of them
	rng := rand.New(rand.NewPCG(1, 2))
	count := map[[2]int]int{}
	const n = 60000
	for range n {
		s := make([]int, L)
		s[0], s[L-1] = v.CLS(), v.SEP()
		pos, targets, ok := p.TrainSample(s, rng)
		if !ok || len(pos) != Digits || len(targets) != Digits {
			t.Fatalf("TrainSample: ok %v, %d positions", ok, len(pos))
		}
		if s[0] != v.CLS() || s[L-1] != v.SEP() {
			t.Fatal("TrainSample overwrote [CLS] or [SEP]")
		}
		stmt := slices.Index(s, p.marker[0])
		question := pos[0] - len(p.marker)
		count[[2]int{stmt - 1, question - stmt - p.Span()}]++
	}
	if len(count) != 6 {
		t.Fatalf("pairs seen: %v, want the 6 with a+g <= 2", count)
	}
	for pair, c := range count {
		if pair[0]+pair[1] > 2 || math.Abs(float64(c)-n/6.0) > 5*math.Sqrt(n/6.0) {
			t.Errorf("pair %v drawn %d times of %d (expected %.0f)", pair, c, n, n/6.0)
		}
	}
	if _, _, ok := p.TrainSample(make([]int, 2*p.Span()+1), rng); ok {
		t.Error("a content shorter than two spans made a sample")
	}
}

func TestEvalSample(t *testing.T) {
	p, v := probe(t)
	filler := v.Encode(strings.Repeat("filler text ", 40))
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{p.Span(), 100, len(filler) - p.Span()} {
		seq, pos, targets, err := p.EvalSample(filler, d, rng)
		if err != nil {
			t.Fatal(err)
		}
		stmt := pos[0] - len(p.marker) - d
		if got := v.Decode(seq[stmt : stmt+len(p.marker)]); got != Marker {
			t.Errorf("d = %d: no statement %d before the question (%q)", d, d, got)
		}
		for i, at := range pos {
			if seq[stmt+len(p.marker)+i] != targets[i] || seq[at] != v.Mask() {
				t.Errorf("d = %d: digit %d not stated or not masked", d, i)
			}
		}
	}
	if !slices.Equal(filler, v.Encode(strings.Repeat("filler text ", 40))) {
		t.Error("EvalSample changed the filler")
	}
	for _, d := range []int{p.Span() - 1, len(filler)} {
		if _, _, _, err := p.EvalSample(filler, d, rng); err == nil {
			t.Errorf("distance %d accepted", d)
		}
	}
}

func TestScore(t *testing.T) {
	var s Score
	s.Add([]int{1, 2, 3, 4, 5}, []int{1, 2, 3, 4, 5})
	s.Add([]int{1, 2, 0, 4, 0}, []int{1, 2, 3, 4, 5})
	if s.DigitAccuracy() != 0.8 || s.KeyAccuracy() != 0.5 {
		t.Errorf("digit accuracy %v, key accuracy %v; want 0.8 and 0.5", s.DigitAccuracy(), s.KeyAccuracy())
	}
}
