package corpus

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadJSONL(t *testing.T) {
	long := strings.Repeat("长文本", 30000) // 90k characters, 270 KB on one line
	tests := []struct {
		name string
		data string
		want []Document
	}{
		{"empty", "", nil},
		{"blank lines only", "\n \n\t\r\n", nil},
		{
			"ids and default ids",
			`{"id": "a", "text": "甲"}` + "\n" + `{"text": "乙", "meta": {"x": [1, 2]}}` + "\n",
			[]Document{{"a", "甲"}, {"src.jsonl:2", "乙"}},
		},
		{
			"blank lines keep line numbers",
			"\n\n" + `{"text":"x"}` + "\n\n" + `{"text":"y"}`,
			[]Document{{"src.jsonl:3", "x"}, {"src.jsonl:5", "y"}},
		},
		{
			"CRLF and no final newline",
			`{"text":"x"}` + "\r\n" + `{"text":"y"}`,
			[]Document{{"src.jsonl:1", "x"}, {"src.jsonl:2", "y"}},
		},
		{
			"null and empty id",
			`{"id": null, "text": "x"}` + "\n" + `{"id": "", "text": "y"}`,
			[]Document{{"src.jsonl:1", "x"}, {"src.jsonl:2", "y"}},
		},
		{
			"empty texts dropped",
			`{"text": ""}` + "\n" + `{"text": " \n\t"}` + "\n" + `{"text": "z"}`,
			[]Document{{"src.jsonl:3", "z"}},
		},
		{
			"escapes",
			`{"text": "a\n\u4e2d\"\ud83d\ude00"}`,
			[]Document{{"src.jsonl:1", "a\n中\"😀"}},
		},
		{
			"very long line",
			`{"id": "long", "text": "` + long + `"}` + "\n" + `{"text": "after"}`,
			[]Document{{"long", long}, {"src.jsonl:2", "after"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadJSONL(strings.NewReader(tt.data), "src.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %s, want %s", brief(got), brief(tt.want))
			}
		})
	}
}

// brief formats documents with their texts shortened.
func brief(docs []Document) string {
	var b strings.Builder
	for _, d := range docs {
		text := d.Text
		if utf8.RuneCountInString(text) > 20 {
			text = string([]rune(text)[:20]) + "…"
		}
		b.WriteString("{" + d.ID + " " + text + "}")
	}
	return "[" + b.String() + "]"
}

func TestReadJSONLErrors(t *testing.T) {
	ok := `{"text": "好"}` + "\n"
	tests := []struct {
		name string
		data string
		want string
	}{
		{"invalid JSON", ok + `{"text": "x"`, "corpus d.jsonl: line 2: invalid JSON: unexpected end of JSON input"},
		{"trailing garbage", ok + ok + `{"text": "x"} y`, "corpus d.jsonl: line 3: invalid JSON: invalid character 'y' after top-level value"},
		{"not JSON", "text", "corpus d.jsonl: line 1: invalid JSON: invalid character 'e' in literal true (expecting 'r')"},
		{"array", ok + `["text"]`, "corpus d.jsonl: line 2: not a JSON object"},
		{"string", `"text"`, "corpus d.jsonl: line 1: not a JSON object"},
		{"null", `null`, "corpus d.jsonl: line 1: not a JSON object"},
		{"missing text", ok + `{"content": "x"}`, `corpus d.jsonl: line 2: no "text" field`},
		{"number text", `{"text": 3}`, `corpus d.jsonl: line 1: "text" is not a string`},
		{"null text", `{"text": null}`, `corpus d.jsonl: line 1: "text" is not a string`},
		{"array text", `{"text": ["a"]}`, `corpus d.jsonl: line 1: "text" is not a string`},
		{"number id", `{"id": 7, "text": "x"}`, `corpus d.jsonl: line 1: "id" is not a string`},
		{"invalid UTF-8", ok + "\n" + `{"text": "a` + "\xff" + `"}`, "corpus d.jsonl: line 3: invalid UTF-8"},
		{"invalid UTF-8 in other field", `{"x": "` + "\xc3" + `", "text": "a"}`, "corpus d.jsonl: line 1: invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := ReadJSONL(strings.NewReader(tt.data), "d.jsonl")
			if err == nil {
				t.Fatalf("got %s, want error %q", brief(docs), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

// failingReader returns its data, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadJSONLReadError(t *testing.T) {
	cause := errors.New("disk on fire")
	r := &failingReader{data: []byte(`{"text": "a"}` + "\n" + `{"text": `), err: cause}
	_, err := ReadJSONL(r, "d.jsonl")
	if want := "corpus d.jsonl: line 2: disk on fire"; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if !errors.Is(err, cause) {
		t.Errorf("error %v does not wrap the read error", err)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := io.WriteString(zw, s); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadJSONLGzip(t *testing.T) {
	data := gzipped(t, `{"text": "压缩"}`+"\n"+`{"id": "b", "text": "文本"}`+"\n")
	got, err := ReadJSONL(bytes.NewReader(data), "x.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	want := []Document{{"x.jsonl.gz:1", "压缩"}, {"b", "文本"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	// Without the .gz suffix the same bytes are not JSON lines.
	if _, err := ReadJSONL(bytes.NewReader(data), "x.jsonl"); err == nil {
		t.Error("gzip data named x.jsonl was read as JSON lines")
	}
	// With it, plain text is not gzip.
	_, err = ReadJSONL(strings.NewReader(`{"text": "x"}`), "y.jsonl.gz")
	if want := "corpus y.jsonl.gz: reading gzip header: gzip: invalid header"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	// A truncated stream fails.
	_, err = ReadJSONL(bytes.NewReader(data[:len(data)-6]), "z.jsonl.gz")
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated gzip: error = %v, want unexpected EOF", err)
	}
}

// writeFiles creates files below dir from a map of slash paths to contents.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"b.txt":        "乙",
		"a/z.txt":      "甲z",
		"a/b/c.txt":    "甲b丙",
		"a-c.txt":      "连字符",
		"empty.txt":    " \n",
		"notes.md":     "not a text file",
		"x.txt.bak":    "backup",
		"a/b/data.bin": "\xff",
	})
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Document{
		{"a-c.txt", "连字符"},
		{"a/b/c.txt", "甲b丙"},
		{"a/z.txt", "甲z"},
		{"b.txt", "乙"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestReadDirErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"ok.txt": "好", "sub/bad.txt": "a\xffb"})
	_, err := ReadDir(dir)
	if want := "corpus " + filepath.Join(dir, "sub", "bad.txt") + ": invalid UTF-8"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}

	missing := filepath.Join(dir, "missing")
	_, err = ReadDir(missing)
	if want := "corpus " + missing + ": no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not wrap fs.ErrNotExist", err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	jsonl := `{"id": "j1", "text": "一"}` + "\n" + `{"id": "j2", "text": "二"}` + "\n"
	writeFiles(t, dir, map[string]string{
		"docs/a.txt":       "文档甲",
		"docs/b/c.txt":     "文档丙",
		"one.txt":          "单个文件\n",
		"data.jsonl":       jsonl,
		"data.json":        jsonl,
		"data.jsonl.gz":    string(gzipped(t, jsonl)),
		"data.json.gz":     string(gzipped(t, jsonl)),
		"mixed/empty.txt":  "\n",
		"mixed/filled.txt": "满",
	})
	jsonDocs := []Document{{"j1", "一"}, {"j2", "二"}}
	tests := []struct {
		path string
		want []Document
	}{
		{"docs", []Document{{"a.txt", "文档甲"}, {"b/c.txt", "文档丙"}}},
		{"one.txt", []Document{{"one.txt", "单个文件\n"}}},
		{"data.jsonl", jsonDocs},
		{"data.json", jsonDocs},
		{"data.jsonl.gz", jsonDocs},
		{"data.json.gz", jsonDocs},
		{"mixed", []Document{{"filled.txt", "满"}}},
	}
	// read is Open without the cutting of a lone document, which
	// TestLoadCutsALoneDocument checks.
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := read(filepath.Join(dir, tt.path))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOpenEmbedded(t *testing.T) {
	want, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"", "embedded"} {
		got, err := Open(path)
		if err != nil {
			t.Fatalf("Open(%q): %v", path, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Open(%q) differs from Embedded()", path)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"empty.jsonl":       "\n\n",
		"blank.jsonl":       `{"text": "  "}` + "\n",
		"blank.txt":         " \t\n",
		"bad.txt":           "\xfe\xff",
		"bad.jsonl":         `{"text": "ok"}` + "\n" + `{"text": "` + "\x80" + `"}`,
		"corpus.csv":        "text\nx\n",
		"emptydir/x.md":     "not text",
		"badgz.jsonl.gz":    "this is not a gzip file at all",
		"data.JSONL":        `{"text": "x"}`,
		"dir.txt/inner.txt": "a directory named like a text file",
	})
	p := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		path   string
		want   string
		target error
	}{
		{p("missing.jsonl"), "corpus " + p("missing.jsonl") + ": no such file or directory", fs.ErrNotExist},
		{p("empty.jsonl"), "corpus " + p("empty.jsonl") + ": no documents", ErrNoDocuments},
		{p("blank.jsonl"), "corpus " + p("blank.jsonl") + ": no documents", ErrNoDocuments},
		{p("blank.txt"), "corpus " + p("blank.txt") + ": no documents", ErrNoDocuments},
		{p("emptydir"), "corpus " + p("emptydir") + ": no documents", ErrNoDocuments},
		{p("bad.txt"), "corpus " + p("bad.txt") + ": invalid UTF-8", nil},
		{p("bad.jsonl"), "corpus " + p("bad.jsonl") + ": line 2: invalid UTF-8", nil},
		{p("badgz.jsonl.gz"), "corpus " + p("badgz.jsonl.gz") + ": reading gzip header: gzip: invalid header", gzip.ErrHeader},
		{p("corpus.csv"), "corpus " + p("corpus.csv") + ": unsupported file type (want a directory, .jsonl, .json, .jsonl.gz, .json.gz or .txt)", nil},
		{p("data.JSONL"), "corpus " + p("data.JSONL") + ": unsupported file type (want a directory, .jsonl, .json, .jsonl.gz, .json.gz or .txt)", nil},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			docs, err := Open(tt.path)
			if err == nil {
				t.Fatalf("got %v, want error %q", docs, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("error %v does not wrap %v", err, tt.target)
			}
		})
	}
	// A directory whose name ends in .txt is read as a directory.
	docs, err := read(p("dir.txt")) // one document, too short for Open to cut
	if err != nil || len(docs) != 1 || docs[0].ID != "inner.txt" {
		t.Errorf("read(dir.txt) = %v, %v, want the one document inner.txt", docs, err)
	}
}

// Recorded in data/PROVENANCE.md.
const (
	embeddedDocs    = 746
	embeddedFirstID = "man1/ab.1"
	embeddedLastID  = "man8/zic.8"
	embeddedSHA256  = "5493ed54a7ac5bc75871ab6b1ed8f3f44a01a41e8017b49b6c2aa851d33a3cf3"
)

func TestEmbedded(t *testing.T) {
	docs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != embeddedDocs {
		t.Errorf("%d documents, want %d", len(docs), embeddedDocs)
	}
	if docs[0].ID != embeddedFirstID || docs[len(docs)-1].ID != embeddedLastID {
		t.Errorf("first and last ids %q and %q, want %q and %q", docs[0].ID, docs[len(docs)-1].ID, embeddedFirstID, embeddedLastID)
	}
	long := 0
	ids := make(map[string]bool)
	for i, d := range docs {
		if !utf8.ValidString(d.Text) || strings.TrimSpace(d.Text) == "" {
			t.Errorf("document %s is empty or invalid UTF-8", d.ID)
		}
		if !strings.HasPrefix(d.ID, "man") || ids[d.ID] {
			t.Errorf("document %d has a bad or repeated id %q", i, d.ID)
		}
		if i > 0 && d.ID <= docs[i-1].ID {
			t.Errorf("documents %q and %q are out of order", docs[i-1].ID, d.ID)
		}
		ids[d.ID] = true
		if utf8.RuneCountInString(d.Text) >= 4096 {
			long++
		}
	}
	if long < 100 {
		t.Errorf("%d documents of 4096+ characters, want at least 100", long)
	}
	for _, id := range []string{"man1/ls.1", "man1/bash.1"} {
		if !ids[id] {
			t.Errorf("no document %s", id)
		}
	}
	// The pages are the Simplified-Chinese ones: common characters appear in
	// their simplified forms, hardly ever in the traditional ones.
	var simplified, traditional int
	for _, d := range docs {
		for _, r := range d.Text {
			switch {
			case strings.ContainsRune("这个们说时来会对", r):
				simplified++
			case strings.ContainsRune("這個們說時來會對", r):
				traditional++
			}
		}
	}
	if simplified < 1000 || traditional*50 > simplified {
		t.Errorf("%d simplified and %d traditional characters, want mostly simplified", simplified, traditional)
	}
}

// TestEmbeddedProvenance checks that data/PROVENANCE.md records the
// embedded file as it is.
func TestEmbeddedProvenance(t *testing.T) {
	zr, err := gzip.NewReader(bytes.NewReader(embedded))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != embeddedSHA256 {
		t.Errorf("sha256 of the uncompressed corpus is %s, want %s", got, embeddedSHA256)
	}
	prov, err := os.ReadFile(filepath.Join("data", "PROVENANCE.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{embeddedSHA256, fmt.Sprintf("| documents | %d |", embeddedDocs), "`" + embeddedFirstID + "`", "`" + embeddedLastID + "`"} {
		if !bytes.Contains(prov, []byte(s)) {
			t.Errorf("PROVENANCE.md does not record %q", s)
		}
	}
	if zr.Header.Name != "" || !zr.Header.ModTime.IsZero() {
		t.Errorf("gzip header has name %q and time %v, want neither", zr.Header.Name, zr.Header.ModTime)
	}
}
