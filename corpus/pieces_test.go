package corpus

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPieces(t *testing.T) {
	para := strings.Repeat("字", 150) + "\n" + strings.Repeat("a", 100) // 251 code points
	cases := []struct {
		name     string
		text     string
		pieces   int
		maxRunes int
		endsWith string // every piece but the last
	}{
		{"short: one piece", strings.Repeat("x", MinPiece), 1, MinPiece, ""},
		{"paragraphs: cut at blank lines", strings.Repeat(para+"\n\n", 40), 10, 1012, "\n\n"},
		{"lines only: cut at line breaks", strings.Repeat(strings.Repeat("b", 99)+"\n", 100), 10, 1000, "\n"},
		{"no breaks: fixed size", strings.Repeat("字", 100000), 13, MaxPiece, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := Pieces(Document{ID: "d", Text: c.text})
			if len(ps) != c.pieces {
				t.Fatalf("%d pieces, want %d", len(ps), c.pieces)
			}
			var joined strings.Builder
			for i, p := range ps {
				joined.WriteString(p.Text)
				if want := "d#" + strconv.Itoa(i+1); p.ID != want {
					t.Errorf("piece %d: ID %q, want %q", i, p.ID, want)
				}
				if n := utf8.RuneCountInString(p.Text); n > c.maxRunes {
					t.Errorf("piece %d: %d code points, over %d", i, n, c.maxRunes)
				}
				if i < len(ps)-1 && !strings.HasSuffix(p.Text, c.endsWith) {
					t.Errorf("piece %d ends with %q, want %q", i, p.Text[len(p.Text)-2:], c.endsWith)
				}
				if !utf8.ValidString(p.Text) {
					t.Errorf("piece %d is not valid UTF-8", i)
				}
			}
			if joined.String() != c.text {
				t.Error("the pieces do not put the text back together")
			}
		})
	}
}

func TestLoadCutsALoneDocument(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	text := strings.Repeat("A paragraph of my data.\nIts second line.\n\n", 300)
	for _, path := range []string{write("my data.txt", text), write("one.jsonl", `{"text": "`+strings.ReplaceAll(text, "\n", `\n`)+`"}`+"\n")} {
		docs, note, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) < 2 || !strings.Contains(note, "is one document") || !strings.Contains(note, path) {
			t.Errorf("%s: %d documents, note %q", path, len(docs), note)
		}
		if opened, err := Open(path); err != nil || len(opened) != len(docs) {
			t.Errorf("%s: Open gives %d documents (%v), Load %d", path, len(opened), err, len(docs))
		}
		if tr, va := Split(docs, 0.8); len(tr) == 0 || len(va) == 0 {
			t.Errorf("%s: split %d/%d", path, len(tr), len(va))
		}
	}
	tiny := write("tiny.txt", "too short")
	if _, _, err := Load(tiny); err == nil || !strings.Contains(err.Error(), "one document of 9 characters") || !strings.Contains(err.Error(), "several documents") {
		t.Errorf("tiny corpus: %v", err)
	}
	// Several documents are left alone, without a note.
	docs, note, err := Load(EmbeddedName)
	if err != nil || note != "" || len(docs) < 100 {
		t.Errorf("embedded: %d documents, note %q, %v", len(docs), note, err)
	}
}
