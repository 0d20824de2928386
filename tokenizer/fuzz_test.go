package tokenizer

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func FuzzRead(f *testing.F) {
	valid := "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
	for _, seed := range []string{
		valid,
		valid + "a\n中\n😀\n##字\n[unused1]\n",
		strings.ReplaceAll(valid, "\n", "\r\n"),
		"\uFEFF" + valid,
		strings.Join(bertLines(), "\n"),
		"",
		"\n",
		"[PAD]\n\n[UNK]\n",
		"[UNK]\n[PAD]\n[CLS]\n[SEP]\n[MASK]\n",
		valid + "a\na\n",
		valid + "\xff\n",
		valid + "a\rb\n",
		"[PAD]\n[UNK]\n[CLS]\n[SEP]\n",
		valid + "\r\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Read(bytes.NewReader(data), "fuzz")
		if err != nil {
			if v != nil {
				t.Fatalf("Read returned a vocabulary and the error %v", err)
			}
			return
		}
		if v.pad != 0 || v.Token(0) != PadToken {
			t.Fatalf("[PAD] has id %d", v.pad)
		}
		for _, id := range []int{v.unk, v.CLS(), v.SEP(), v.Mask()} {
			if !v.IsSpecial(id) {
				t.Fatalf("special id %d (%q) is not special", id, v.Token(id))
			}
		}
		for id := range v.Size() {
			if got, ok := v.ID(v.Token(id)); !ok || got != id {
				t.Fatalf("ID(Token(%d)) = %d, %v", id, got, ok)
			}
		}
		var buf bytes.Buffer
		if err := v.Write(&buf); err != nil {
			t.Fatal(err)
		}
		w, err := Read(&buf, "rewritten")
		if err != nil {
			t.Fatalf("reading the written vocabulary: %v", err)
		}
		if !slices.Equal(w.Tokens(), v.Tokens()) {
			t.Fatalf("round trip changed the tokens: %q, then %q", v.Tokens(), w.Tokens())
		}
		// Encoding arbitrary text must not fail on this vocabulary.
		for _, id := range v.Encode(string(data)) {
			if id < 0 || id >= v.Size() {
				t.Fatalf("Encode produced id %d outside [0, %d)", id, v.Size())
			}
		}
	})
}
