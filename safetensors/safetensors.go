// Package safetensors reads and writes the safetensors checkpoint format used
// by Hugging Face models.
//
// A safetensors file is an 8-byte little-endian unsigned header length N,
// then N bytes of UTF-8 JSON, then the data buffer. The JSON object maps each
// tensor name to its dtype, shape and byte range ("data_offsets", relative to
// the start of the data buffer, end exclusive) and may carry an
// "__metadata__" object of string values. Tensor data is little-endian in C
// (row-major) order, and the tensors must cover the data buffer exactly.
//
// Write lays files out the way the reference Rust implementation does
// (tensors ordered by dtype alignment, largest first, then by name; compact
// JSON; header padded with spaces to a multiple of 8 bytes), so a file written
// here is byte-identical to the one safetensors.torch.save_file writes for the
// same tensors and metadata. (With several metadata keys the reference order
// is unspecified; Write sorts them.)
package safetensors

import (
	"errors"
	"fmt"
	"maps"
	"math"
)

// DType names the element type of a tensor as spelled in a safetensors
// header, for example "F32" or "BF16".
type DType string

// The dtypes this package understands. Sub-byte types (F4, F6_*) are not
// supported and are reported as unknown.
const (
	BOOL       DType = "BOOL"
	U8         DType = "U8"
	I8         DType = "I8"
	F8E5M2     DType = "F8_E5M2"
	F8E4M3     DType = "F8_E4M3"
	F8E8M0     DType = "F8_E8M0"
	F8E4M3FNUZ DType = "F8_E4M3FNUZ"
	F8E5M2FNUZ DType = "F8_E5M2FNUZ"
	I16        DType = "I16"
	U16        DType = "U16"
	F16        DType = "F16"
	BF16       DType = "BF16"
	I32        DType = "I32"
	U32        DType = "U32"
	F32        DType = "F32"
	C64        DType = "C64"
	F64        DType = "F64"
	I64        DType = "I64"
	U64        DType = "U64"
)

// dtypeInfo gives the element size in bytes and the rank of a dtype in the
// reference implementation's Dtype enum, which Write sorts by (descending).
func dtypeInfo(d DType) (size, rank int) {
	switch d {
	case BOOL:
		return 1, 0
	case U8:
		return 1, 4
	case I8:
		return 1, 5
	case F8E5M2:
		return 1, 6
	case F8E4M3:
		return 1, 7
	case F8E8M0:
		return 1, 8
	case F8E4M3FNUZ:
		return 1, 9
	case F8E5M2FNUZ:
		return 1, 10
	case I16:
		return 2, 11
	case U16:
		return 2, 12
	case F16:
		return 2, 13
	case BF16:
		return 2, 14
	case I32:
		return 4, 15
	case U32:
		return 4, 16
	case F32:
		return 4, 17
	case C64:
		return 8, 18
	case F64:
		return 8, 19
	case I64:
		return 8, 20
	case U64:
		return 8, 21
	}
	return 0, -1
}

// Size returns the size in bytes of one element of d, or 0 if d is not a
// dtype this package knows.
func (d DType) Size() int {
	size, _ := dtypeInfo(d)
	return size
}

// ErrFormat is matched (with errors.Is) by every error that reports a
// malformed safetensors file or an inconsistent tensor, as opposed to an I/O
// failure.
var ErrFormat = errors.New("malformed safetensors data")

// formatError is a validation failure; it matches ErrFormat.
type formatError struct{ msg string }

func (e *formatError) Error() string        { return e.msg }
func (e *formatError) Is(target error) bool { return target == ErrFormat }

// invalidf returns a formatError with a formatted message.
func invalidf(format string, args ...any) error {
	return &formatError{msg: fmt.Sprintf(format, args...)}
}

// Tensor is one named tensor: its dtype, its shape (empty for a scalar) and
// its raw little-endian, C-order bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// numElements returns the product of shape, failing on negative dimensions
// or on overflow of int.
func numElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, invalidf("shape %v has a negative dimension", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, invalidf("shape %v has too many elements", shape)
		}
		n *= d
	}
	return n, nil
}

// byteSize returns the number of data bytes a tensor of this dtype and shape
// occupies, failing for unknown dtypes, negative dimensions and overflow.
func byteSize(d DType, shape []int) (int, error) {
	size := d.Size()
	if size == 0 {
		return 0, invalidf("unknown dtype %q", d)
	}
	n, err := numElements(shape)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt/size {
		return 0, invalidf("shape %v of %s is too large", shape, d)
	}
	return n * size, nil
}

// check reports whether t is self-consistent: a known dtype, non-negative
// dimensions and exactly as many data bytes as the shape requires.
func (t Tensor) check() error {
	want, err := byteSize(t.DType, t.Shape)
	if err != nil {
		return err
	}
	if len(t.Data) != want {
		return invalidf("shape %v of %s needs %d bytes but the tensor has %d", t.Shape, t.DType, want, len(t.Data))
	}
	return nil
}

// File is the parsed content of a safetensors file: its metadata and its
// tensors, in the order of their data in the file.
type File struct {
	metadata map[string]string
	tensors  []Tensor
	index    map[string]int
}

// Metadata returns a copy of the file's "__metadata__" map, or nil if the
// file has none.
func (f *File) Metadata() map[string]string {
	return maps.Clone(f.metadata)
}

// Names returns the tensor names in the order of their data in the file
// (tensors of equal offsets, which can only be empty ones, by name). For files
// written by this package or by the reference implementation this is by dtype
// alignment, largest first, then by name.
func (f *File) Names() []string {
	names := make([]string, len(f.tensors))
	for i, t := range f.tensors {
		names[i] = t.Name
	}
	return names
}

// Tensor returns the tensor called name and whether it exists. Its Shape and
// Data are shared with the File (Data aliases the buffer the file was read
// from) and must not be modified.
func (f *File) Tensor(name string) (Tensor, bool) {
	i, ok := f.index[name]
	if !ok {
		return Tensor{}, false
	}
	return f.tensors[i], true
}

// Tensors returns all tensors in the order of Names. Their Shape and Data
// slices are shared with the File (Data aliases the buffer the file was read
// from) and must not be modified.
func (f *File) Tensors() []Tensor {
	out := make([]Tensor, len(f.tensors))
	copy(out, f.tensors)
	return out
}
