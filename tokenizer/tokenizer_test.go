package tokenizer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildFrom is Build over a slice.
func buildFrom(texts []string, minCount, maxSize int) (*Vocab, error) {
	return Build(slices.Values(texts), minCount, maxSize)
}

func TestBuild(t *testing.T) {
	specials := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	tests := []struct {
		name     string
		texts    []string
		minCount int
		maxSize  int
		want     []string // tokens after the specials
	}{
		{
			name:  "count then code point",
			texts: []string{"bbaacc", "c d\te\n"},
			// c:3, a:2, b:2, d:1, e:1; whitespace is not counted
			want: []string{"c", "a", "b", "d", "e"},
		},
		{
			name:     "min count",
			texts:    []string{"bbaacc", "cde"},
			minCount: 2,
			want:     []string{"c", "a", "b"},
		},
		{
			name:    "max size counts specials",
			texts:   []string{"bbaacc", "cde"},
			maxSize: 7,
			want:    []string{"c", "a"},
		},
		{
			name:     "min count and max size",
			texts:    []string{"bbaacc", "cde"},
			minCount: 2,
			maxSize:  100,
			want:     []string{"c", "a", "b"},
		},
		{
			name:  "CJK and emoji",
			texts: []string{"中文中😀", "文中"},
			want:  []string{"中", "文", "😀"},
		},
		{
			name:  "control and format characters dropped",
			texts: []string{"a\x00b\u200dc\ufeff\x7f"},
			want:  []string{"a", "b", "c"},
		},
		{
			name:  "tie broken by code point",
			texts: []string{"zyx中"},
			want:  []string{"x", "y", "z", "中"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := buildFrom(tt.texts, tt.minCount, tt.maxSize)
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(specials), tt.want...)
			if got := v.Tokens(); !slices.Equal(got, want) {
				t.Errorf("tokens = %q, want %q", got, want)
			}
			if v.Size() != len(want) {
				t.Errorf("Size() = %d, want %d", v.Size(), len(want))
			}
			for i, s := range []int{v.pad, v.unk, v.CLS(), v.SEP(), v.Mask()} {
				if s != i {
					t.Errorf("special %s has id %d, want %d", specials[i], s, i)
				}
			}
		})
	}
}

func TestBuildDeterministic(t *testing.T) {
	texts := []string{strings.Repeat("天地玄黄宇宙洪荒日月盈昃辰宿列张", 3), "寒来暑往秋收冬藏"}
	first, err := buildFrom(texts, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		v, err := buildFrom(texts, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v.Tokens(), first.Tokens()) {
			t.Fatalf("tokens differ between builds: %q and %q", v.Tokens(), first.Tokens())
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name     string
		texts    []string
		minCount int
		maxSize  int
		want     string
	}{
		{"no texts", nil, 1, 0, "vocab: no characters in the texts"},
		{"only whitespace", []string{" \t\n", "\x00"}, 1, 0, "vocab: no characters in the texts"},
		{"min count too high", []string{"abc"}, 2, 0, "vocab: no character occurs at least 2 times"},
		{"negative max size", []string{"abc"}, 1, -1, "vocab: negative maximum size -1"},
		{"max size too small", []string{"abc"}, 1, 5, "vocab: maximum size 5 leaves no room for characters after the 5 special tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := buildFrom(tt.texts, tt.minCount, tt.maxSize)
			if err == nil {
				t.Fatalf("Build succeeded with %q, want error %q", v.Tokens(), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestEncodeDecode(t *testing.T) {
	v, err := buildFrom([]string{"ab中文😀[]"}, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Ids: [PAD]0 [UNK]1 [CLS]2 [SEP]3 [MASK]4 [5 ]6 a7 b8 中9 文10 😀11
	tests := []struct {
		name    string
		text    string
		ids     []int
		decoded string
	}{
		{"empty", "", []int{}, ""},
		{"ascii", "ab", []int{7, 8}, "ab"},
		{"CJK", "中文", []int{9, 10}, "中文"},
		{"emoji", "😀a😀", []int{11, 7, 11}, "😀a😀"},
		{"whitespace dropped", " a\tb\r\n中\u3000文\u00a0", []int{7, 8, 9, 10}, "ab中文"},
		{"control dropped", "a\x00\x1b\u200bb\ufeff", []int{7, 8}, "ab"},
		{"unknown", "axb字", []int{7, 1, 8, 1}, "a[UNK]b[UNK]"},
		{"unknown emoji", "👍🏽", []int{1, 1}, "[UNK][UNK]"},
		{"special token text is characters", "[MASK]", []int{5, 1, 1, 1, 1, 6}, "[[UNK][UNK][UNK][UNK]]"},
		{"invalid UTF-8", "a\xffb", []int{7, 1, 8}, "a[UNK]b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := v.Encode(tt.text)
			if !slices.Equal(ids, tt.ids) {
				t.Errorf("Encode(%q) = %v, want %v", tt.text, ids, tt.ids)
			}
			if got := v.Decode(ids); got != tt.decoded {
				t.Errorf("Decode(%v) = %q, want %q", ids, got, tt.decoded)
			}
		})
	}
}

func TestDecodeSpecial(t *testing.T) {
	v := bertVocab(t)
	tests := []struct {
		ids  []int
		want string
	}{
		{[]int{v.CLS(), 0, v.Mask(), v.SEP()}, "[CLS][MASK][SEP]"},
		{[]int{v.pad, v.pad}, ""},
		{[]int{-1, v.Size()}, "[UNK][UNK]"},
		{[]int{mustID(t, v, "##字")}, "字"},
		{[]int{mustID(t, v, "[unused1]")}, "[unused1]"},
	}
	for _, tt := range tests {
		if got := v.Decode(tt.ids); got != tt.want {
			t.Errorf("Decode(%v) = %q, want %q", tt.ids, got, tt.want)
		}
	}
}

func TestIsSpecial(t *testing.T) {
	v := bertVocab(t)
	for id := -2; id < v.Size()+2; id++ {
		want := id == 0 || (id >= 100 && id <= 103)
		if got := v.IsSpecial(id); got != want {
			t.Errorf("IsSpecial(%d) (%q) = %v, want %v", id, v.Token(id), got, want)
		}
	}
}

// bertLines returns the lines of a vocabulary laid out like the Chinese BERT
// and GAU-α ones: [PAD], [unused1..99], [UNK], [CLS], [SEP], [MASK], then
// punctuation, characters and word pieces.
func bertLines() []string {
	lines := []string{"[PAD]"}
	for i := 1; i <= 99; i++ {
		lines = append(lines, fmt.Sprintf("[unused%d]", i))
	}
	lines = append(lines, "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<S>", "<T>", "!", "a", "中", "文", "##字", "##a", "😀")
	return lines
}

func bertVocab(t *testing.T) *Vocab {
	t.Helper()
	v, err := Read(strings.NewReader(strings.Join(bertLines(), "\n")+"\n"), "bert/vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustID(t *testing.T, v *Vocab, tok string) int {
	t.Helper()
	id, ok := v.ID(tok)
	if !ok {
		t.Fatalf("no token %q", tok)
	}
	return id
}

func TestLoadBERTVocab(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vocab.txt")
	lines := bertLines()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\r\n")+"\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := Read(f, path)
	if err != nil {
		t.Fatal(err)
	}
	if v.Size() != len(lines) {
		t.Errorf("Size() = %d, want %d", v.Size(), len(lines))
	}
	specials := []struct {
		name    string
		got     int
		want    int
		wantTok string
	}{
		{"Pad", v.pad, 0, "[PAD]"},
		{"UNK", v.unk, 100, "[UNK]"},
		{"CLS", v.CLS(), 101, "[CLS]"},
		{"SEP", v.SEP(), 102, "[SEP]"},
		{"Mask", v.Mask(), 103, "[MASK]"},
	}
	for _, s := range specials {
		if s.got != s.want || v.Token(s.got) != s.wantTok {
			t.Errorf("%s() = %d (%q), want %d (%q)", s.name, s.got, v.Token(s.got), s.want, s.wantTok)
		}
	}
	for id, tok := range lines {
		if got := v.Token(id); got != tok {
			t.Errorf("Token(%d) = %q, want %q", id, got, tok)
		}
		if got, ok := v.ID(tok); !ok || got != id {
			t.Errorf("ID(%q) = %d, %v, want %d, true", tok, got, ok, id)
		}
	}
	if _, ok := v.ID("b"); ok {
		t.Error(`ID("b") found a token that is not in the vocabulary`)
	}
	for _, id := range []int{-1, len(lines)} {
		if got := v.Token(id); got != "" {
			t.Errorf("Token(%d) = %q, want \"\"", id, got)
		}
	}
	// "##a" and "##字" never match; "a" and "中" do; "字" is unknown.
	if got, want := v.Encode("a中字!"), []int{107, 108, 100, 106}; !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty file", "", "vocab v.txt: empty file"},
		{"only newline", "\n", "vocab v.txt: line 1: empty line"},
		{"empty line", "[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n[MASK]\n", "vocab v.txt: line 3: empty line"},
		{"empty CRLF line", "[PAD]\r\n\r\n[UNK]\r\n", "vocab v.txt: line 2: empty line"},
		{"two final newlines", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n\n", "vocab v.txt: line 6: empty line"},
		{"invalid UTF-8", "[PAD]\n[UNK]\n\xff\n", "vocab v.txt: line 3: invalid UTF-8"},
		{"carriage return", "[PAD]\na\rb\n", "vocab v.txt: line 2: carriage return inside a token"},
		{"PAD not first", "[UNK]\n[PAD]\n[CLS]\n[SEP]\n[MASK]\n", `vocab v.txt: line 1: first token is "[UNK]", want [PAD] (id 0)`},
		{"duplicate", "[PAD]\n[UNK]\na\n[CLS]\na\n", `vocab v.txt: line 5: duplicate token "a" (first on line 3)`},
		{"duplicate PAD", "[PAD]\n[UNK]\n[PAD]\n", `vocab v.txt: line 3: duplicate token "[PAD]" (first on line 1)`},
		{"no UNK", "[PAD]\n[CLS]\n[SEP]\n[MASK]\n", "vocab v.txt: no [UNK] token"},
		{"no CLS", "[PAD]\n[UNK]\n[SEP]\n[MASK]\n", "vocab v.txt: no [CLS] token"},
		{"no SEP", "[PAD]\n[UNK]\n[CLS]\n[MASK]\n", "vocab v.txt: no [SEP] token"},
		{"no MASK", "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n", "vocab v.txt: no [MASK] token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Read(strings.NewReader(tt.data), "v.txt")
			if err == nil {
				t.Fatalf("Read succeeded with %q, want error %q", v.Tokens(), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestReadAccepts(t *testing.T) {
	want := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"}
	tests := []struct {
		name string
		data string
	}{
		{"final newline", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n"},
		{"no final newline", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na"},
		{"CRLF", "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\na\r\n"},
		{"byte-order mark", "\uFEFF[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Read(strings.NewReader(tt.data), "v.txt")
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Tokens(); !slices.Equal(got, want) {
				t.Errorf("tokens = %q, want %q", got, want)
			}
		})
	}
}

func TestWriteRead(t *testing.T) {
	v, err := buildFrom([]string{"天地玄黄😀abc"}, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := v.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(v.Tokens(), "\n") + "\n"; buf.String() != want {
		t.Errorf("wrote %q, want %q", buf.String(), want)
	}
	got, err := Read(&buf, "round trip")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Tokens(), v.Tokens()) {
		t.Errorf("read back %q, want %q", got.Tokens(), v.Tokens())
	}
}

func TestWrite(t *testing.T) {
	v := bertVocab(t)
	var buf bytes.Buffer
	if err := v.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(bertLines(), "\n") + "\n"; buf.String() != want {
		t.Errorf("Write wrote %q, want %q", buf.String(), want)
	}
}

func TestZeroVocab(t *testing.T) {
	var v Vocab
	if v.Size() != 0 || v.Token(0) != "" || v.IsSpecial(0) {
		t.Error("zero Vocab is not empty")
	}
	if got := v.Encode("ab"); !slices.Equal(got, []int{0, 0}) {
		t.Errorf("zero Vocab Encode = %v, want [0 0]", got)
	}
	if got := v.Decode([]int{0, 1}); got != "[UNK][UNK]" {
		t.Errorf("zero Vocab Decode = %q, want [UNK][UNK]", got)
	}
}
