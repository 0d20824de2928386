package tokenizer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"
)

// Load reads a vocab.txt file; see Read.
func Load(path string) (*Vocab, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vocab %s: %w", path, pathErr(err))
	}
	defer f.Close()
	return Read(f, path)
}

// Read reads a vocabulary in BERT's vocab.txt format from r: one token per
// line, the id of a token being its line index counted from 0. Lines may end
// in "\n" or "\r\n", and a leading UTF-8 byte-order mark is ignored. It is an
// error, naming name and the line, if the text is not valid UTF-8, a line
// other than the final line terminator is empty, a token contains a carriage
// return, a token occurs twice, the first token is not [PAD], or one of
// [UNK], [CLS], [SEP] and [MASK] is missing.
func Read(r io.Reader, name string) (*Vocab, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("vocab %s: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if len(data) == 0 {
		return nil, fmt.Errorf("vocab %s: empty file", name)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	var tokens []string
	for i, line := range bytes.Split(data, []byte("\n")) {
		n := i + 1
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case !utf8.Valid(line):
			return nil, fmt.Errorf("vocab %s: line %d: invalid UTF-8", name, n)
		case len(line) == 0:
			return nil, fmt.Errorf("vocab %s: line %d: empty line", name, n)
		case bytes.IndexByte(line, '\r') >= 0:
			return nil, fmt.Errorf("vocab %s: line %d: carriage return inside a token", name, n)
		}
		tokens = append(tokens, string(line))
	}
	return newVocab(tokens, name)
}

// Write writes the vocabulary to w in vocab.txt format, one token per line
// with a final newline.
func (v *Vocab) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, tok := range v.tokens {
		bw.WriteString(tok)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// Save writes the vocabulary to path in vocab.txt format, atomically: the
// file is either left as it was or replaced by the complete new content.
func (v *Vocab) Save(path string) error {
	if err := writeFileAtomic(path, v.Write); err != nil {
		return fmt.Errorf("vocab %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic writes a file through a temporary file in the same
// directory that is synced, closed and renamed over path, and then syncs the
// directory so that the rename is durable.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return pathErr(err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return pathErr(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", pathErr(err))
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// pathErr drops the operation and path from an *fs.PathError or
// *os.LinkError, whose path the caller already names, keeping the cause.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
