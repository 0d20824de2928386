package safetensors

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/infoscale/gaualpha/internal/atomicfile"
)

// WriteFile writes tensors and metadata to path atomically, with permission
// 0644: a crash leaves either the previous file or the complete new one (see
// package internal/atomicfile). See Write for the layout and the checks.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	// Validate first so that a bad tensor does not even create a temp file.
	header, order, err := prepare(tensors, metadata)
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	err = atomicfile.WriteFile(path, 0o644, func(w io.Writer) error {
		return writePrepared(w, header, order)
	})
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// Write writes tensors and metadata (nil for none) in safetensors format to
// w. The caller's order of tensors does not matter: like the reference
// implementation, Write orders the data by dtype alignment, largest first,
// then by name, writes the JSON header compactly with "__metadata__" first
// (its keys sorted), and pads the header with spaces to a multiple of 8 bytes.
//
// Write rejects, with an error matching ErrFormat, empty, duplicate, reserved
// ("__metadata__") or non-UTF-8 names, unknown dtypes, negative dimensions,
// data whose length does not match the shape, and non-UTF-8 metadata.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	if err := write(w, tensors, metadata); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

func write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, order, err := prepare(tensors, metadata)
	if err != nil {
		return err
	}
	return writePrepared(w, header, order)
}

// writePrepared writes the length field, the padded header and the data of
// the tensors in order.
func writePrepared(w io.Writer, header []byte, order []Tensor) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, t := range order {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// prepare validates the tensors and returns the padded header and the
// tensors in data order.
func prepare(tensors []Tensor, metadata map[string]string) ([]byte, []Tensor, error) {
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		switch {
		case t.Name == "":
			return nil, nil, invalidf("tensor with an empty name")
		case t.Name == metadataKey:
			return nil, nil, invalidf("tensor name %q is reserved", metadataKey)
		case !utf8.ValidString(t.Name):
			return nil, nil, invalidf("tensor name %q is not valid UTF-8", t.Name)
		case seen[t.Name]:
			return nil, nil, invalidf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		if err := t.check(); err != nil {
			return nil, nil, invalidf("tensor %q: %v", t.Name, err)
		}
	}
	keys := make([]string, 0, len(metadata))
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, invalidf("metadata entry %q is not valid UTF-8", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)

	order := slices.Clone(tensors)
	slices.SortFunc(order, func(a, b Tensor) int {
		_, ra := dtypeInfo(a.DType)
		_, rb := dtypeInfo(b.DType)
		return cmp.Or(cmp.Compare(rb, ra), cmp.Compare(a.Name, b.Name))
	})

	h := []byte{'{'}
	sep := false
	if metadata != nil {
		h = appendJSONString(h, metadataKey)
		h = append(h, ':', '{')
		for i, k := range keys {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendJSONString(h, k)
			h = append(h, ':')
			h = appendJSONString(h, metadata[k])
		}
		h = append(h, '}')
		sep = true
	}
	offset := 0
	for _, t := range order {
		if sep {
			h = append(h, ',')
		}
		sep = true
		h = appendJSONString(h, t.Name)
		h = append(h, `:{"dtype":`...)
		h = appendJSONString(h, string(t.DType))
		h = append(h, `,"shape":[`...)
		for i, d := range t.Shape {
			if i > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendInt(h, int64(offset), 10)
		h = append(h, ',')
		offset += len(t.Data)
		h = strconv.AppendInt(h, int64(offset), 10)
		h = append(h, ']', '}')
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > MaxHeaderSize {
		return nil, nil, invalidf("header would be %d bytes, over the %d-byte limit", len(h), MaxHeaderSize)
	}
	return h, order, nil
}

// appendJSONString appends s as a JSON string escaped the way serde_json
// does: only quotes, backslashes and control characters are escaped, using
// the short forms where JSON has them and lowercase \u00xx otherwise.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}
