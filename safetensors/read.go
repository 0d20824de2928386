package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header, in bytes, that Read accepts and
// Write produces; the reference implementation uses the same limit.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key holding the string metadata.
const metadataKey = "__metadata__"

// ReadFile reads and validates the safetensors file at path. The whole file
// is read into memory and the tensors' Data alias that buffer.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	return f, nil
}

// Read parses and validates a complete safetensors file held in data. The
// returned tensors' Data alias data, which must not be modified afterwards.
// Every validation failure matches ErrFormat.
func Read(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

// entry is one tensor entry of a parsed header.
type entry struct {
	name       string
	dtype      DType
	shape      []int
	begin, end int
}

func parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, invalidf("file is %d bytes, shorter than the 8-byte header length (truncated file?)", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > MaxHeaderSize {
		return nil, invalidf("header length %d exceeds the %d-byte limit (not a safetensors file?)", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, invalidf("header length %d exceeds the %d bytes after the length field (truncated file?)", n, len(data)-8)
	}
	header := data[8 : 8+n]
	buf := data[8+n:]
	meta, entries, err := parseHeader(header, len(buf))
	if err != nil {
		return nil, err
	}

	// The tensors must tile the data buffer: sorted by offsets, each starts
	// where the previous one ended and the last ends at the end of the buffer.
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.begin, b.begin), cmp.Compare(a.end, b.end), cmp.Compare(a.name, b.name))
	})
	cursor := 0
	prev := ""
	for _, e := range entries {
		switch {
		case e.begin < cursor:
			return nil, invalidf("tensor %q (bytes %d to %d) overlaps tensor %q (ending at %d)", e.name, e.begin, e.end, prev, cursor)
		case e.begin > cursor:
			return nil, invalidf("data buffer has a hole: bytes %d to %d before tensor %q belong to no tensor", cursor, e.begin, e.name)
		}
		cursor = e.end
		prev = e.name
	}
	if cursor != len(buf) {
		return nil, invalidf("data buffer has %d trailing bytes after the last tensor (bytes %d to %d belong to no tensor)", len(buf)-cursor, cursor, len(buf))
	}

	f := &File{
		metadata: meta,
		tensors:  make([]Tensor, len(entries)),
		index:    make(map[string]int, len(entries)),
	}
	for i, e := range entries {
		f.tensors[i] = Tensor{Name: e.name, DType: e.dtype, Shape: e.shape, Data: buf[e.begin:e.end:e.end]}
		f.index[e.name] = i
	}
	return f, nil
}

// parseHeader decodes and checks the JSON header. dataLen is the size of the
// data buffer that follows it.
func parseHeader(header []byte, dataLen int) (map[string]string, []entry, error) {
	if !utf8.Valid(header) {
		return nil, nil, invalidf("header is not valid UTF-8")
	}
	members, err := objectMembers(header, true)
	if err != nil {
		return nil, nil, err
	}
	var meta map[string]string
	entries := make([]entry, 0, len(members))
	for _, m := range members {
		if m.key == metadataKey {
			if meta, err = parseMetadata(m.value); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(m.key, m.value, dataLen)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	return meta, entries, nil
}

// member is one key/value pair of a JSON object, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers splits a JSON object into its members, rejecting anything
// that is not a single object and duplicate keys. top selects the wording of
// errors for the whole header.
func objectMembers(data []byte, top bool) ([]member, error) {
	what := "header"
	if !top {
		what = "value"
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidf("%s is not valid JSON: %v", what, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, invalidf("%s is not a JSON object", what)
	}
	var members []member
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidf("%s is not valid JSON: %v", what, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, invalidf("%s is not valid JSON: object key is not a string", what)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, invalidf("%s is not valid JSON: %v", what, err)
		}
		if seen[key] {
			if top {
				if key == metadataKey {
					return nil, invalidf("header has two %q entries", metadataKey)
				}
				return nil, invalidf("duplicate tensor name %q in header", key)
			}
			return nil, invalidf("duplicate key %q", key)
		}
		seen[key] = true
		members = append(members, member{key: key, value: bytes.TrimSpace(raw)})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, invalidf("%s is not valid JSON: %v", what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("%s has trailing data after the JSON object", what)
	}
	return members, nil
}

// parseMetadata decodes the "__metadata__" value: null or an object of
// strings.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, invalidf("%q is not a JSON object", metadataKey)
	}
	members, err := objectMembers(raw, false)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", metadataKey, err)
	}
	meta := make(map[string]string, len(members))
	for _, m := range members {
		s, err := jsonString(m.value)
		if err != nil {
			return nil, invalidf("%q: value of %q is not a string", metadataKey, m.key)
		}
		meta[m.key] = s
	}
	return meta, nil
}

// parseEntry decodes and checks one tensor entry of the header.
func parseEntry(name string, raw json.RawMessage, dataLen int) (entry, error) {
	if name == "" {
		return entry{}, invalidf("header has a tensor with an empty name")
	}
	if len(raw) == 0 || raw[0] != '{' {
		return entry{}, invalidf("tensor %q: header entry is not a JSON object", name)
	}
	members, err := objectMembers(raw, false)
	if err != nil {
		return entry{}, invalidf("tensor %q: %v", name, err)
	}
	e := entry{name: name}
	var haveDType, haveShape, haveOffsets bool
	for _, m := range members {
		switch m.key {
		case "dtype":
			s, err := jsonString(m.value)
			if err != nil {
				return entry{}, invalidf("tensor %q: dtype is not a string", name)
			}
			e.dtype, haveDType = DType(s), true
		case "shape":
			dims, err := jsonInts(m.value)
			if err != nil {
				return entry{}, invalidf("tensor %q: shape %v", name, err)
			}
			e.shape, haveShape = dims, true
		case "data_offsets":
			offs, err := jsonInts(m.value)
			if err != nil {
				return entry{}, invalidf("tensor %q: data_offsets %v", name, err)
			}
			if len(offs) != 2 {
				return entry{}, invalidf("tensor %q: data_offsets has %d numbers, want 2", name, len(offs))
			}
			if offs[0] < 0 || offs[1] < 0 {
				return entry{}, invalidf("tensor %q: data_offsets %v are negative", name, offs)
			}
			e.begin, e.end, haveOffsets = offs[0], offs[1], true
		default:
			return entry{}, invalidf("tensor %q: unknown field %q in header entry", name, m.key)
		}
	}
	switch {
	case !haveDType:
		return entry{}, invalidf("tensor %q: header entry has no dtype", name)
	case !haveShape:
		return entry{}, invalidf("tensor %q: header entry has no shape", name)
	case !haveOffsets:
		return entry{}, invalidf("tensor %q: header entry has no data_offsets", name)
	}
	if e.dtype.Size() == 0 {
		return entry{}, invalidf("tensor %q: unknown dtype %q", name, e.dtype)
	}
	for _, d := range e.shape {
		if d < 0 {
			return entry{}, invalidf("tensor %q: shape %v has a negative dimension", name, e.shape)
		}
	}
	if e.begin > e.end {
		return entry{}, invalidf("tensor %q: data_offsets [%d, %d] are reversed", name, e.begin, e.end)
	}
	if e.end > dataLen {
		return entry{}, invalidf("tensor %q: data_offsets [%d, %d] extend beyond the %d-byte data buffer (truncated file?)", name, e.begin, e.end, dataLen)
	}
	want, err := byteSize(e.dtype, e.shape)
	if err != nil {
		return entry{}, invalidf("tensor %q: %v", name, err)
	}
	if want != e.end-e.begin {
		return entry{}, invalidf("tensor %q: shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d", name, e.shape, e.dtype, want, e.begin, e.end, e.end-e.begin)
	}
	return e, nil
}

// jsonString decodes a JSON string value, rejecting every other JSON type.
func jsonString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// jsonInts decodes a JSON array of integers that fit in an int. The error
// text completes a sentence that starts with the field's name.
func jsonInts(raw json.RawMessage) ([]int, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, errors.New("is not a JSON array")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("is not a valid JSON array: %v", err)
	}
	out := make([]int, len(elems))
	for i, el := range elems {
		s := string(bytes.TrimSpace(el))
		if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
			return nil, fmt.Errorf("has a non-numeric element %s", s)
		}
		v, err := strconv.ParseInt(s, 10, 0)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, fmt.Errorf("has an out-of-range element %s", s)
			}
			return nil, fmt.Errorf("has a non-integer element %s", s)
		}
		out[i] = int(v)
	}
	return out, nil
}
