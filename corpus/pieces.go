package corpus

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of the pieces a lone document is cut into (Pieces), in code
// points.
const (
	// MaxPiece is the largest piece: long enough for evaluation at 64x a
	// training length of 64 on one piece.
	MaxPiece = 8192
	// MinPiece is the smallest piece a document is cut into.
	MinPiece = 256
)

// Load is Open with a note for the user. A corpus of a single document
// (one .txt file, or a JSON-lines file of one line) cannot be split into
// training and validation documents, so it is cut into pieces (Pieces),
// and the note says so; the note is empty otherwise. A document too short
// to make two pieces is an error that says what to give instead.
func Load(path string) ([]Document, string, error) {
	docs, err := read(path)
	if err != nil || len(docs) != 1 {
		return docs, "", err
	}
	pieces := Pieces(docs[0])
	if len(pieces) < 2 {
		n := utf8.RuneCountInString(docs[0].Text)
		return nil, "", fmt.Errorf("corpus %s: one document of %d characters cannot make training and validation documents: give more than %d characters, or several documents (a folder of .txt files, or JSON lines)", pathName(path), n, MinPiece)
	}
	size := 0
	for _, p := range pieces {
		size = max(size, utf8.RuneCountInString(p.Text))
	}
	return pieces, fmt.Sprintf("corpus %s is one document of %d characters: cut into %d pieces of up to %d characters at paragraph breaks, so that it splits into training and validation documents",
		pathName(path), utf8.RuneCountInString(docs[0].Text), len(pieces), size), nil
}

// pathName is path as Open names it.
func pathName(path string) string {
	if path == "" {
		return EmbeddedName
	}
	return path
}

// Pieces cuts a document into about ten pieces, in order, of MinPiece to
// MaxPiece code points: each piece ends at the last blank line (a
// paragraph break) within its size limit if there is one in the limit's
// second half, else at the last line break there, else at the limit.
// Pieces are named "ID#1", "ID#2", ...; pieces holding only whitespace are
// dropped. A document of at most MinPiece code points is one piece.
func Pieces(d Document) []Document {
	n := utf8.RuneCountInString(d.Text)
	size := min(MaxPiece, max(MinPiece, n/10))
	var out []Document
	rest := d.Text
	for rest != "" {
		cut := cutPoint(rest, size)
		if piece := rest[:cut]; strings.TrimSpace(piece) != "" {
			out = append(out, Document{ID: fmt.Sprintf("%s#%d", d.ID, len(out)+1), Text: piece})
		}
		rest = rest[cut:]
	}
	return out
}

// cutPoint returns the byte offset where the first piece of s ends, for
// pieces of at most size code points.
func cutPoint(s string, size int) int {
	limit, count := len(s), 0
	for i := range s {
		if count == size {
			limit = i
			break
		}
		count++
	}
	if limit == len(s) {
		return limit
	}
	half := s[:limit]
	for _, sep := range []string{"\n\n", "\n"} {
		if i := strings.LastIndex(half, sep); i >= 0 && utf8.RuneCountInString(half[:i]) >= size/2 {
			return i + len(sep)
		}
	}
	return limit
}
