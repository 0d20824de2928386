// Package tokenizer implements the character-level tokenizer of GAU-α with a
// BERT-style vocabulary.
//
// A vocabulary is a list of tokens whose position is their id, stored one
// token per line in a vocab.txt file as BERT does. Five special tokens must be
// present: [PAD], which is always id 0, and [UNK], [CLS], [SEP] and [MASK],
// which may be anywhere (a vocabulary made by Build puts them at ids 1..4;
// the Chinese BERT and GAU-α vocabularies put them at 100..103).
//
// Text is tokenised one Unicode code point at a time. Whitespace and control
// characters are dropped, as BERT's basic tokenizer does, and every other
// code point becomes the id of the one-character token equal to it, or [UNK]
// when the vocabulary has no such token. Multi-character entries such as
// "[unused1]" or the word pieces "##x" are allowed in a vocabulary but never
// match a single character.
package tokenizer

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The special tokens.
const (
	PadToken  = "[PAD]"
	UNKToken  = "[UNK]"
	CLSToken  = "[CLS]"
	SEPToken  = "[SEP]"
	MaskToken = "[MASK]"
)

// NumSpecial is the number of special tokens; Build gives them ids
// 0..NumSpecial-1.
const NumSpecial = 5

// specialTokens lists the special tokens in the order Build assigns their
// ids.
var specialTokens = [NumSpecial]string{PadToken, UNKToken, CLSToken, SEPToken, MaskToken}

// Vocab is an immutable vocabulary. The zero Vocab is empty and maps
// everything to id 0; use Build, Read or Load to make a useful one. A Vocab
// is safe for concurrent use.
type Vocab struct {
	tokens []string
	ids    map[string]int
	chars  map[rune]int // one-character tokens, for Encode
	pad    int
	unk    int
	cls    int
	sep    int
	mask   int
}

// newVocab makes a vocabulary from its tokens, checking that the special
// tokens are present, [PAD] first, and that no token occurs twice. The
// errors name the source and, for a problem with one token, its line (id+1).
func newVocab(tokens []string, name string) (*Vocab, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("vocab %s: no tokens", name)
	}
	if tokens[0] != PadToken {
		return nil, fmt.Errorf("vocab %s: line 1: first token is %q, want %s (id 0)", name, tokens[0], PadToken)
	}
	v := &Vocab{
		tokens: tokens,
		ids:    make(map[string]int, len(tokens)),
		chars:  make(map[rune]int, len(tokens)),
	}
	for id, tok := range tokens {
		if first, dup := v.ids[tok]; dup {
			return nil, fmt.Errorf("vocab %s: line %d: duplicate token %q (first on line %d)", name, id+1, tok, first+1)
		}
		v.ids[tok] = id
		if r, size := utf8.DecodeRuneInString(tok); size == len(tok) && !(r == utf8.RuneError && size <= 1) {
			v.chars[r] = id
		}
	}
	for _, p := range []struct {
		tok string
		id  *int
	}{
		{PadToken, &v.pad}, {UNKToken, &v.unk}, {CLSToken, &v.cls}, {SEPToken, &v.sep}, {MaskToken, &v.mask},
	} {
		id, ok := v.ids[p.tok]
		if !ok {
			return nil, fmt.Errorf("vocab %s: no %s token", name, p.tok)
		}
		*p.id = id
	}
	return v, nil
}

// Size returns the number of tokens.
func (v *Vocab) Size() int { return len(v.tokens) }

// ID returns the id of tok and whether the vocabulary contains it.
func (v *Vocab) ID(tok string) (int, bool) {
	id, ok := v.ids[tok]
	return id, ok
}

// Token returns the token with the given id, or "" if id is out of range.
func (v *Vocab) Token(id int) string {
	if id < 0 || id >= len(v.tokens) {
		return ""
	}
	return v.tokens[id]
}

// Tokens returns a copy of the tokens in id order.
func (v *Vocab) Tokens() []string { return slices.Clone(v.tokens) }

// CLS returns the id of [CLS].
func (v *Vocab) CLS() int { return v.cls }

// SEP returns the id of [SEP].
func (v *Vocab) SEP() int { return v.sep }

// Mask returns the id of [MASK].
func (v *Vocab) Mask() int { return v.mask }

// IsSpecial reports whether id is one of the five special tokens [PAD],
// [UNK], [CLS], [SEP] and [MASK]. Reserved entries such as "[unused1]" are
// not special.
func (v *Vocab) IsSpecial(id int) bool {
	if id < 0 || id >= len(v.tokens) {
		return false
	}
	return id == v.pad || id == v.unk || id == v.cls || id == v.sep || id == v.mask
}

// Dropped reports whether Encode and Build drop the code point r: whitespace
// (unicode.IsSpace) and control characters, which are the categories Cc and
// Cf as in BERT (Cf includes zero-width joiners and the byte-order mark).
func Dropped(r rune) bool {
	return unicode.IsSpace(r) || unicode.In(r, unicode.Cc, unicode.Cf)
}

// Encode returns one id per code point of text, leaving out the code points
// that Dropped reports. A code point with no one-character token, including
// the U+FFFD that each byte of invalid UTF-8 decodes to, becomes [UNK].
func (v *Vocab) Encode(text string) []int {
	ids := make([]int, 0, len(text)/2)
	for _, r := range text {
		if Dropped(r) {
			continue
		}
		id, ok := v.chars[r]
		if !ok {
			id = v.unk
		}
		ids = append(ids, id)
	}
	return ids
}

// Decode concatenates the tokens of ids without separators. [PAD] is left
// out, the other special tokens appear as written ("[UNK]", "[MASK]"), the
// "##" prefix of a word piece is removed, and an id out of range is written
// as [UNK].
func (v *Vocab) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		switch {
		case id < 0 || id >= len(v.tokens):
			b.WriteString(UNKToken)
		case id == v.pad:
		default:
			tok := v.tokens[id]
			if len(tok) > 2 && strings.HasPrefix(tok, "##") {
				tok = tok[2:]
			}
			b.WriteString(tok)
		}
	}
	return b.String()
}

// Build makes a vocabulary from the characters of texts. It counts every code
// point that Encode would keep, keeps those occurring at least minCount
// times, and orders them by descending count, then ascending code point,
// after the special tokens at ids 0..4. With maxSize > 0 the vocabulary has
// at most maxSize tokens in all, special tokens included, the most frequent
// characters being kept. It is an error if no character is kept.
func Build(texts iter.Seq[string], minCount, maxSize int) (*Vocab, error) {
	if maxSize < 0 {
		return nil, fmt.Errorf("vocab: negative maximum size %d", maxSize)
	}
	if maxSize > 0 && maxSize <= NumSpecial {
		return nil, fmt.Errorf("vocab: maximum size %d leaves no room for characters after the %d special tokens", maxSize, NumSpecial)
	}
	counts := make(map[rune]int)
	for text := range texts {
		for _, r := range text {
			if !Dropped(r) {
				counts[r]++
			}
		}
	}
	type entry struct {
		r rune
		n int
	}
	var kept []entry
	for r, n := range counts {
		if n >= minCount {
			kept = append(kept, entry{r, n})
		}
	}
	if len(kept) == 0 {
		if len(counts) == 0 {
			return nil, fmt.Errorf("vocab: no characters in the texts")
		}
		return nil, fmt.Errorf("vocab: no character occurs at least %d times", minCount)
	}
	slices.SortFunc(kept, func(a, b entry) int {
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return cmp.Compare(a.r, b.r)
	})
	if maxSize > 0 && len(kept) > maxSize-NumSpecial {
		kept = kept[:maxSize-NumSpecial]
	}
	tokens := make([]string, 0, NumSpecial+len(kept))
	tokens = append(tokens, specialTokens[:]...)
	for _, e := range kept {
		tokens = append(tokens, string(e.r))
	}
	return newVocab(tokens, "(built)")
}
