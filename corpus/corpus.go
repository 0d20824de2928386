// Package corpus reads the documents GAU-α is trained and evaluated on, and
// holds the embedded default corpus.
//
// A corpus is a list of documents read from JSON lines (the format of the
// paper's WanJuan patents data), from a directory of text files, or from the
// embedded default: the Simplified-Chinese manual pages of Debian's
// manpages-zh package (see data/PROVENANCE.md). Documents whose text is
// empty or only whitespace are dropped by every reader.
package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Document is one document of a corpus.
type Document struct {
	// ID names the document: the "id" field of a JSON line, else
	// "source:line"; or the path of a text file relative to the directory
	// read.
	ID string
	// Text is the document's text, valid UTF-8 and not only whitespace.
	Text string
}

// ErrNoDocuments is wrapped by the error Open returns for a corpus without
// documents.
var ErrNoDocuments = errors.New("no documents")

// EmbeddedName is the path that Open, given "" or "embedded", reads from the
// embedded default corpus; it is also the source name in its errors.
const EmbeddedName = "embedded"

//go:embed data/manpages-zh.jsonl.gz
var embedded []byte

// Embedded returns the embedded default corpus: one document per zh_CN page
// of Debian's manpages-zh, with IDs such as "man1/ls.1", in path order.
func Embedded() ([]Document, error) {
	docs, err := readJSONL(bytes.NewReader(embedded), EmbeddedName, true)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("corpus %s: %w", EmbeddedName, ErrNoDocuments)
	}
	return docs, nil
}

// ReadJSONL reads documents from JSON lines: each non-blank line is an object
// with a string field "text", the document's text, and optionally a string
// field "id", its ID (else the ID is "name:N" for line N); other fields are
// ignored. Lines may be of any length and may end in "\r\n". If name ends in
// ".gz" the input is gzip-compressed. Documents whose text is only
// whitespace are dropped, so the result may be empty.
//
// Errors name the source and the line, as in "corpus x.jsonl: line 17:
// invalid UTF-8": invalid JSON, a line that is not an object, a missing or
// non-string "text", a non-string "id", and invalid UTF-8 are errors.
func ReadJSONL(r io.Reader, name string) ([]Document, error) {
	return readJSONL(r, name, strings.HasSuffix(name, ".gz"))
}

func readJSONL(r io.Reader, name string, gzipped bool) ([]Document, error) {
	if gzipped {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("corpus %s: reading gzip header: %w", name, err)
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var docs []Document
	var line []byte
	for n := 1; ; n++ {
		line = line[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			line = append(line, chunk...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("corpus %s: line %d: %w", name, n, err)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			doc, perr := parseLine(line, name, n)
			if perr != nil {
				return nil, perr
			}
			if strings.TrimSpace(doc.Text) != "" {
				docs = append(docs, doc)
			}
		}
		if err == io.EOF {
			return docs, nil
		}
	}
}

// parseLine parses line n of a JSON-lines source.
func parseLine(line []byte, name string, n int) (Document, error) {
	if !utf8.Valid(line) {
		return Document{}, fmt.Errorf("corpus %s: line %d: invalid UTF-8", name, n)
	}
	line = bytes.TrimSpace(line)
	if line[0] != '{' {
		if !json.Valid(line) {
			return Document{}, fmt.Errorf("corpus %s: line %d: invalid JSON: %w", name, n, jsonErr(line))
		}
		return Document{}, fmt.Errorf("corpus %s: line %d: not a JSON object", name, n)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		return Document{}, fmt.Errorf("corpus %s: line %d: invalid JSON: %w", name, n, err)
	}
	raw, ok := fields["text"]
	if !ok {
		return Document{}, fmt.Errorf(`corpus %s: line %d: no "text" field`, name, n)
	}
	var doc Document
	if !isString(raw) || json.Unmarshal(raw, &doc.Text) != nil {
		return Document{}, fmt.Errorf(`corpus %s: line %d: "text" is not a string`, name, n)
	}
	if raw, ok := fields["id"]; ok && !bytes.Equal(raw, []byte("null")) {
		if !isString(raw) || json.Unmarshal(raw, &doc.ID) != nil {
			return Document{}, fmt.Errorf(`corpus %s: line %d: "id" is not a string`, name, n)
		}
	}
	if doc.ID == "" {
		doc.ID = name + ":" + strconv.Itoa(n)
	}
	return doc, nil
}

// isString reports whether a raw JSON value is a string.
func isString(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] == '"'
}

// jsonErr returns the syntax error json reports for invalid data.
func jsonErr(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return errors.New("invalid JSON")
}

// ReadDir reads every file whose name ends in ".txt" below dir, recursively,
// as one document each, with the file's slash-separated path relative to dir
// as its ID. Documents are in ID order. A file that is not valid UTF-8 is an
// error naming it; files whose text is only whitespace are dropped.
func ReadDir(dir string) ([]Document, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".txt") {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == dir {
			err = pe.Err
		}
		return nil, fmt.Errorf("corpus %s: %w", dir, err)
	}
	type file struct{ path, id string }
	files := make([]file, 0, len(paths))
	for _, p := range paths {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, fmt.Errorf("corpus %s: %w", p, err)
		}
		files = append(files, file{p, filepath.ToSlash(rel)})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].id < files[j].id })
	var docs []Document
	for _, f := range files {
		doc, err := readText(f.path, f.id)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(doc.Text) != "" {
			docs = append(docs, doc)
		}
	}
	return docs, nil
}

// readText reads a text file as one document.
func readText(path, id string) (Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Document{}, fmt.Errorf("corpus %s: %w", path, pathErr(err))
	}
	if !utf8.Valid(data) {
		return Document{}, fmt.Errorf("corpus %s: invalid UTF-8", path)
	}
	return Document{ID: id, Text: string(data)}, nil
}

// Open reads the corpus at path:
//
//   - "" or "embedded": the embedded default (Embedded);
//   - a directory: its text files (ReadDir);
//   - a file ending in ".jsonl", ".json", ".jsonl.gz" or ".json.gz": JSON
//     lines (ReadJSONL);
//   - a file ending in ".txt": one document whose ID is the file name.
//
// Anything else is an error, as is a missing path and a corpus in which no
// document is left once those whose text is only whitespace are dropped (an
// error wrapping ErrNoDocuments). A corpus of a single document is cut into
// pieces, as Load says.
func Open(path string) ([]Document, error) {
	docs, _, err := Load(path)
	return docs, err
}

// read reads the documents at path as Open describes, without cutting a
// lone document.
func read(path string) ([]Document, error) {
	if path == "" || path == EmbeddedName {
		return Embedded()
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w", path, pathErr(err))
	}
	var docs []Document
	switch {
	case info.IsDir():
		docs, err = ReadDir(path)
	case hasAnySuffix(path, ".jsonl", ".json", ".jsonl.gz", ".json.gz"):
		docs, err = readJSONLFile(path)
	case strings.HasSuffix(path, ".txt"):
		var doc Document
		doc, err = readText(path, filepath.Base(path))
		if strings.TrimSpace(doc.Text) != "" {
			docs = []Document{doc}
		}
	default:
		return nil, fmt.Errorf("corpus %s: unsupported file type (want a directory, .jsonl, .json, .jsonl.gz, .json.gz or .txt)", path)
	}
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("corpus %s: %w", path, ErrNoDocuments)
	}
	return docs, nil
}

func readJSONLFile(path string) ([]Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w", path, pathErr(err))
	}
	defer f.Close()
	return ReadJSONL(f, path)
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, suf := range suffixes {
		if strings.HasSuffix(s, suf) {
			return true
		}
	}
	return false
}

// pathErr drops the operation and path from an *fs.PathError, whose path
// the caller already names, keeping the cause.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
