package tokenizer

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"
)

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
