package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rawFile assembles a file from a header (used unpadded, as given) and data.
func rawFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// seq returns n bytes 0, 1, 2, ...
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

// writeBytes runs Write into a buffer.
func writeBytes(t *testing.T, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// sameTensor reports whether two tensors are equal (nil and empty shapes
// compare equal).
func sameTensor(a, b Tensor) bool {
	return a.Name == b.Name && a.DType == b.DType && slices.Equal(a.Shape, b.Shape) && bytes.Equal(a.Data, b.Data)
}

func TestDTypeSize(t *testing.T) {
	tests := []struct {
		d    DType
		want int
	}{
		{BOOL, 1}, {U8, 1}, {I8, 1}, {F8E5M2, 1}, {F8E4M3, 1}, {F8E8M0, 1},
		{I16, 2}, {U16, 2}, {F16, 2}, {BF16, 2},
		{I32, 4}, {U32, 4}, {F32, 4},
		{F64, 8}, {I64, 8}, {U64, 8}, {C64, 8},
		{"F4", 0}, {"f32", 0}, {"", 0}, {"F128", 0},
	}
	for _, tt := range tests {
		if got := tt.d.Size(); got != tt.want {
			t.Errorf("DType(%q).Size() = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestRoundTripEveryDType(t *testing.T) {
	dtypes := []DType{BOOL, U8, I8, F8E5M2, F8E4M3, F8E8M0, F8E4M3FNUZ, F8E5M2FNUZ, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64}
	shapes := [][]int{{2, 3}, {}, {0}, {3, 0, 2}, {1, 1, 1, 5}}
	var tensors []Tensor
	for _, d := range dtypes {
		for i, shape := range shapes {
			n := d.Size()
			for _, s := range shape {
				n *= s
			}
			name := string(d) + "/" + string(rune('a'+i))
			tensors = append(tensors, Tensor{Name: name, DType: d, Shape: shape, Data: seq(n)})
		}
	}
	meta := map[string]string{"format": "pt", "note": "quote \" backslash \\ newline \n tab \t ctrl \x01 é 中"}
	raw := writeBytes(t, tensors, meta)
	f, err := Read(raw)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got := f.Metadata(); !maps.Equal(got, meta) {
		t.Errorf("metadata = %q, want %q", got, meta)
	}
	if f.Len() != len(tensors) {
		t.Fatalf("Len = %d, want %d", f.Len(), len(tensors))
	}
	for _, want := range tensors {
		got, ok := f.Tensor(want.Name)
		if !ok {
			t.Errorf("tensor %q missing", want.Name)
			continue
		}
		if !sameTensor(got, want) {
			t.Errorf("tensor %q = %+v, want %+v", want.Name, got, want)
		}
	}
	if _, ok := f.Tensor("nope"); ok {
		t.Error("Tensor(nope) found something")
	}
	// Writing what was read reproduces the same bytes.
	if again := writeBytes(t, f.Tensors(), f.Metadata()); !bytes.Equal(again, raw) {
		t.Error("rewriting the read file changed its bytes")
	}
}

func TestWriteLayout(t *testing.T) {
	f32 := FromFloat32("attn.0", []int{1, 2, 3}, []float32{0, 1, 2, 3, 4, 5})
	f32b := FromFloat32("attn0", []int{1, 1, 2, 3}, []float32{0, 1, 2, 3, 4, 5})
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		header  string // unpadded
		padded  int    // header length after padding
	}{
		{name: "no tensors", header: `{}`, padded: 8},
		{name: "metadata only", meta: map[string]string{"framework": "pt"},
			header: `{"__metadata__":{"framework":"pt"}}`, padded: 40},
		{name: "empty metadata is kept", meta: map[string]string{},
			header: `{"__metadata__":{}}`, padded: 24},
		{name: "one tensor, no padding needed", tensors: []Tensor{f32},
			header: `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`, padded: 64},
		{name: "one tensor, padded", tensors: []Tensor{f32b},
			header: `{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}`, padded: 72},
		{name: "metadata keys sorted", meta: map[string]string{"b": "2", "a": "1", "c": "3"},
			header: `{"__metadata__":{"a":"1","b":"2","c":"3"}}`, padded: 48},
		{name: "escaped names", tensors: []Tensor{{Name: "a\"b\\c\nd\x1fé", DType: U8, Shape: []int{}, Data: []byte{7}}},
			header: `{"a\"b\\c\nd\u001fé":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`, padded: 72},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := writeBytes(t, tt.tensors, tt.meta)
			n := binary.LittleEndian.Uint64(raw)
			if n != uint64(tt.padded) {
				t.Fatalf("header length = %d, want %d", n, tt.padded)
			}
			want := tt.header + strings.Repeat(" ", tt.padded-len(tt.header))
			if got := string(raw[8 : 8+n]); got != want {
				t.Errorf("header = %q\nwant     %q", got, want)
			}
			var data []byte
			for _, tn := range tt.tensors {
				data = append(data, tn.Data...)
			}
			if got := raw[8+n:]; !bytes.Equal(got, data) {
				t.Errorf("data = %v, want %v", got, data)
			}
		})
	}
}

func TestWriteOrder(t *testing.T) {
	in := []Tensor{
		{Name: "z", DType: I8, Shape: []int{1}, Data: []byte{1}},
		{Name: "b", DType: F32, Shape: []int{1}, Data: seq(4)},
		{Name: "m", DType: BOOL, Shape: []int{1}, Data: []byte{1}},
		{Name: "a", DType: F32, Shape: []int{1}, Data: seq(4)},
		{Name: "c", DType: F64, Shape: []int{1}, Data: seq(8)},
		{Name: "x", DType: I64, Shape: []int{1}, Data: seq(8)},
		{Name: "h", DType: BF16, Shape: []int{1}, Data: seq(2)},
		{Name: "g", DType: F16, Shape: []int{1}, Data: seq(2)},
		{Name: "e", DType: F32, Shape: []int{0}, Data: nil},
	}
	// Reference order: dtype descending in the Rust enum, then name.
	want := []string{"x", "c", "a", "b", "e", "h", "g", "z", "m"}
	f, err := Read(writeBytes(t, in, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if f.Metadata() != nil {
		t.Errorf("Metadata() = %v, want nil for a file without __metadata__", f.Metadata())
	}
	// The input order does not matter.
	slices.Reverse(in)
	f2, err := Read(writeBytes(t, in, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := f2.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() after reversing the input = %q, want %q", got, want)
	}
}

func TestReadAcceptsForeignLayouts(t *testing.T) {
	// Readers must not rely on the writer's order or on padding: the entries
	// here are out of order, the header is unpadded with odd whitespace, and
	// zero-size tensors sit at the start, middle and end of the buffer.
	header := ` { "b" : {"shape":[2],"data_offsets":[4,6],"dtype":"U8"},` +
		`"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` +
		`"z0":{"dtype":"F64","shape":[0,3],"data_offsets":[0,0]},` +
		`"z1":{"dtype":"F64","shape":[0],"data_offsets":[4,4]},` +
		`"z2":{"dtype":"I64","shape":[5,0],"data_offsets":[6,6]},` +
		`"__metadata__":null}` + "\n\t "
	f, err := Read(rawFile(header, seq(6)))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got, want := f.Names(), []string{"z0", "a", "z1", "b", "z2"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	b, _ := f.Tensor("b")
	if !bytes.Equal(b.Data, seq(6)[4:6]) || !slices.Equal(b.Shape, []int{2}) {
		t.Errorf("tensor b = %+v", b)
	}
	if f.Metadata() != nil {
		t.Errorf("null __metadata__ read as %v, want nil", f.Metadata())
	}
}

func TestReadAliasingIsSafe(t *testing.T) {
	raw := writeBytes(t, []Tensor{
		{Name: "a", DType: U8, Shape: []int{2}, Data: []byte{1, 2}},
		{Name: "b", DType: U8, Shape: []int{2}, Data: []byte{3, 4}},
	}, nil)
	f, err := Read(raw)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Tensor("a")
	_ = append(a.Data, 99) // must not overwrite b
	b, _ := f.Tensor("b")
	if !bytes.Equal(b.Data, []byte{3, 4}) {
		t.Errorf("appending to a changed b to %v", b.Data)
	}
	m := f.Metadata()
	if m != nil {
		t.Fatal("unexpected metadata")
	}
}

func TestReadErrors(t *testing.T) {
	ok := `"dtype":"F32","shape":[1],"data_offsets":[0,4]`
	hugeHeader := binary.LittleEndian.AppendUint64(nil, 200_000_000)
	maxHeader := binary.LittleEndian.AppendUint64(nil, ^uint64(0))
	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty file", nil, "file is 0 bytes, shorter than the 8-byte header length"},
		{"short file", []byte{1, 2, 3}, "file is 3 bytes"},
		{"absurd header length", append(hugeHeader, "{}"...), "header length 200000000 exceeds the 100000000-byte limit"},
		{"max header length", maxHeader, "header length 18446744073709551615 exceeds the 100000000-byte limit"},
		{"header longer than file", append(binary.LittleEndian.AppendUint64(nil, 100), `{"a":1}`...), "header length 100 exceeds the 7 bytes after the length field (truncated file?)"},
		{"invalid UTF-8", rawFile("{\"\xff\":{}}", nil), "header is not valid UTF-8"},
		{"empty header", rawFile("", nil), "header is not valid JSON"},
		{"not JSON", rawFile(`{"a":`, nil), "header is not valid JSON"},
		{"not an object", rawFile(`[1,2]`, nil), "header is not a JSON object"},
		{"string header", rawFile(`"x"`, nil), "header is not a JSON object"},
		{"trailing JSON", rawFile(`{}{}`, nil), "header has trailing data after the JSON object"},
		{"trailing NUL padding", rawFile("{}\x00\x00", nil), "header has trailing data after the JSON object"},
		{"entry not an object", rawFile(`{"a":5}`, nil), `tensor "a": header entry is not a JSON object`},
		{"entry null", rawFile(`{"a":null}`, nil), `tensor "a": header entry is not a JSON object`},
		{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": header entry has no dtype`},
		{"missing shape", rawFile(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, seq(4)), `tensor "a": header entry has no shape`},
		{"missing offsets", rawFile(`{"a":{"dtype":"F32","shape":[1]}}`, seq(4)), `tensor "a": header entry has no data_offsets`},
		{"dtype not a string", rawFile(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": dtype is not a string`},
		{"dtype null", rawFile(`{"a":{"dtype":null,"shape":[1],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": dtype is not a string`},
		{"unknown dtype", rawFile(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": unknown dtype "F128"`},
		{"lowercase dtype", rawFile(`{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": unknown dtype "f32"`},
		{"shape not an array", rawFile(`{"a":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}`, seq(4)), `tensor "a": shape is not a JSON array`},
		{"shape null", rawFile(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, seq(4)), `tensor "a": shape is not a JSON array`},
		{"shape with a string", rawFile(`{"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": shape has a non-numeric element "1"`},
		{"shape with a fraction", rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": shape has a non-integer element 1.5`},
		{"shape with an exponent", rawFile(`{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": shape has a non-integer element 1e0`},
		{"shape out of range", rawFile(`{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": shape has an out-of-range element 99999999999999999999`},
		{"negative dimension", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": shape [-1] has a negative dimension`},
		{"negative dimension, zero size", rawFile(`{"a":{"dtype":"F32","shape":[0,-2],"data_offsets":[0,0]}}`, nil), `tensor "a": shape [0 -2] has a negative dimension`},
		{"unknown field", rawFile(`{"a":{`+ok+`,"stride":[1]}}`, seq(4)), `tensor "a": unknown field "stride" in header entry`},
		{"duplicate field", rawFile(`{"a":{`+ok+`,"dtype":"F32"}}`, seq(4)), `tensor "a": duplicate key "dtype"`},
		{"offsets not an array", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":4}}`, seq(4)), `tensor "a": data_offsets is not a JSON array`},
		{"one offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, seq(4)), `tensor "a": data_offsets has 1 numbers, want 2`},
		{"three offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, seq(8)), `tensor "a": data_offsets has 3 numbers, want 2`},
		{"negative offset", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, seq(4)), `tensor "a": data_offsets [-4 0] are negative`},
		{"reversed offsets", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, seq(4)), `tensor "a": data_offsets [4, 0] are reversed`},
		{"beyond the buffer", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, seq(6)), `tensor "a": data_offsets [0, 8] extend beyond the 6-byte data buffer (truncated file?)`},
		{"size mismatch", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, seq(4)), `tensor "a": shape [2] of F32 needs 8 bytes but data_offsets [0, 4] span 4`},
		{"element count overflow", rawFile(`{"a":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}`, nil), `tensor "a": shape [4294967296 4294967296 4294967296] has too many elements`},
		{"byte count overflow", rawFile(`{"a":{"dtype":"F32","shape":[2305843009213693952,2],"data_offsets":[0,0]}}`, nil), `tensor "a": shape [2305843009213693952 2] of F32 is too large`},
		// Like the reference reader, the running product must not overflow
		// even when a later dimension is 0.
		{"overflow before a zero dimension", rawFile(`{"a":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}`, nil), `has too many elements`},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, seq(8)), `tensor "b" (bytes 4 to 8) overlaps tensor "a" (ending at 8)`},
		{"same range twice", rawFile(`{"a":{`+ok+`},"b":{`+ok+`}}`, seq(4)), `tensor "b" (bytes 0 to 4) overlaps tensor "a" (ending at 4)`},
		{"hole", rawFile(`{"a":{`+ok+`},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, seq(12)), `data buffer has a hole: bytes 4 to 8 before tensor "b" belong to no tensor`},
		{"hole at the start", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, seq(8)), `data buffer has a hole: bytes 0 to 4 before tensor "a"`},
		{"trailing data bytes", rawFile(`{"a":{`+ok+`}}`, seq(9)), `data buffer has 5 trailing bytes after the last tensor (bytes 4 to 9 belong to no tensor)`},
		{"data but no tensors", rawFile(`{}`, seq(3)), `data buffer has 3 trailing bytes`},
		{"duplicate name", rawFile(`{"a":{`+ok+`},"a":{`+ok+`}}`, seq(4)), `duplicate tensor name "a" in header`},
		{"duplicate name via escape", rawFile(`{"a":{`+ok+`},"\u0061":{`+ok+`}}`, seq(4)), `duplicate tensor name "a" in header`},
		{"empty name", rawFile(`{"":{`+ok+`}}`, seq(4)), `header has a tensor with an empty name`},
		{"metadata not an object", rawFile(`{"__metadata__":"pt"}`, nil), `"__metadata__" is not a JSON object`},
		{"metadata value not a string", rawFile(`{"__metadata__":{"format":1}}`, nil), `"__metadata__": value of "format" is not a string`},
		{"metadata value null", rawFile(`{"__metadata__":{"format":null}}`, nil), `"__metadata__": value of "format" is not a string`},
		{"metadata duplicate key", rawFile(`{"__metadata__":{"k":"1","k":"2"}}`, nil), `"__metadata__": duplicate key "k"`},
		{"metadata twice", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), `header has two "__metadata__" entries`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Read(tt.raw)
			if err == nil {
				t.Fatalf("Read accepted the file (%d tensors), want error containing %q", f.Len(), tt.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", msg, tt.want)
			}
			if !strings.HasPrefix(msg, "safetensors: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q is not one line starting with \"safetensors: \"", msg)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %q does not match ErrFormat", msg)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	good := Tensor{Name: "a", DType: F32, Shape: []int{2}, Data: seq(8)}
	with := func(mod func(*Tensor)) []Tensor {
		t := good
		mod(&t)
		return []Tensor{t}
	}
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"empty name", with(func(t *Tensor) { t.Name = "" }), nil, "tensor with an empty name"},
		{"reserved name", with(func(t *Tensor) { t.Name = "__metadata__" }), nil, `tensor name "__metadata__" is reserved`},
		{"invalid UTF-8 name", with(func(t *Tensor) { t.Name = "a\xffb" }), nil, `tensor name "a\xffb" is not valid UTF-8`},
		{"duplicate name", []Tensor{good, good}, nil, `duplicate tensor name "a"`},
		{"unknown dtype", with(func(t *Tensor) { t.DType = "F128" }), nil, `tensor "a": unknown dtype "F128"`},
		{"empty dtype", with(func(t *Tensor) { t.DType = "" }), nil, `tensor "a": unknown dtype ""`},
		{"negative dimension", with(func(t *Tensor) { t.Shape = []int{-2, -1} }), nil, `tensor "a": shape [-2 -1] has a negative dimension`},
		{"too little data", with(func(t *Tensor) { t.Data = seq(7) }), nil, `tensor "a": shape [2] of F32 needs 8 bytes but the tensor has 7`},
		{"too much data", with(func(t *Tensor) { t.Shape = []int{} }), nil, `tensor "a": shape [] of F32 needs 4 bytes but the tensor has 8`},
		{"overflowing shape", with(func(t *Tensor) { t.Shape = []int{1 << 40, 1 << 40} }), nil, `tensor "a": shape [1099511627776 1099511627776] has too many elements`},
		{"invalid UTF-8 metadata", []Tensor{good}, map[string]string{"k": "\xff"}, `metadata entry "k" is not valid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tt.tensors, tt.meta)
			if err == nil {
				t.Fatalf("Write succeeded, want error containing %q", tt.want)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error = %q\nwant one line containing %q", msg, tt.want)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not match ErrFormat", err)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

// failWriter fails after accepting n bytes.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteIOError(t *testing.T) {
	tensors := []Tensor{FromFloat32("w", []int{4}, []float32{1, 2, 3, 4})}
	for _, n := range []int{0, 8, 20, 79} { // the file is 80 bytes
		err := Write(&failWriter{n: n}, tensors, nil)
		if !errors.Is(err, errDiskFull) || errors.Is(err, ErrFormat) {
			t.Errorf("failing after %d bytes: error = %v, want the writer's error and not ErrFormat", n, err)
		}
	}
}

func TestWriteFileReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	tensors := []Tensor{
		FromFloat32("w", []int{2, 2}, []float32{1, -2, 3.5, 0}),
		FromInt64("ids", []int{3}, []int64{-1, 0, 1 << 40}),
		FromFloat64("s", nil, []float64{3.25}),
	}
	meta := map[string]string{"format": "pt"}
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(f.Metadata(), meta) {
		t.Errorf("metadata = %v", f.Metadata())
	}
	for _, want := range tensors {
		got, ok := f.Tensor(want.Name)
		if !ok || !sameTensor(got, want) {
			t.Errorf("tensor %q = %+v, want %+v", want.Name, got, want)
		}
	}
	before, _ := os.ReadFile(path)

	// A rejected write leaves the old file and no temporary file.
	bad := append(slices.Clone(tensors), Tensor{Name: "bad", DType: F32, Shape: []int{3}, Data: seq(4)})
	err = WriteFile(path, bad, meta)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "bad"`) {
		t.Fatalf("WriteFile with a bad tensor: error = %v, want one naming the path and the tensor", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a failed WriteFile changed the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after a failed write, want 1", len(entries))
	}

	// Errors of ReadFile name the file.
	if _, err := ReadFile(filepath.Join(dir, "missing.safetensors")); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("ReadFile of a missing file: error = %v", err)
	}
	trunc := filepath.Join(dir, "trunc.safetensors")
	if err := os.WriteFile(trunc, before[:len(before)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(trunc)
	if err == nil || !strings.Contains(err.Error(), trunc) || !strings.Contains(err.Error(), "truncated file?") || !errors.Is(err, ErrFormat) {
		t.Errorf("ReadFile of a truncated file: error = %v", err)
	}
}
