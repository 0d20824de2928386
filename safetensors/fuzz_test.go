package safetensors

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead checks that Read never panics, that it fails only with ErrFormat,
// and that whatever it accepts round-trips through Write and Read to identical
// tensors and metadata (and that rewriting is then a fixed point).
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	_ = Write(&buf, []Tensor{
		FromFloat32("a", []int{2, 2}, []float32{1, 2, 3, 4}),
		{Name: "b", DType: BF16, Shape: []int{1}, Data: []byte{0x80, 0x3f}},
		{Name: "z", DType: U8, Shape: []int{0}},
		{Name: "s", DType: BOOL, Shape: []int{}, Data: []byte{1}},
	}, map[string]string{"format": "pt"})
	f.Add(buf.Bytes())
	f.Add(rawFile(`{}`, nil))
	f.Add(rawFile(`{"__metadata__":null,"x":{"dtype":"I8","shape":[3],"data_offsets":[0,3]}}`, []byte{1, 2, 3}))
	f.Add(rawFile(`{"x":{"dtype":"F16","shape":[0,2],"data_offsets":[0,0]},"y":{"shape":[1],"dtype":"U16","data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Add(rawFile(`{"a\u0000b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, []byte{0, 0, 0x80, 0x7f}))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, nil))
	f.Add([]byte{1, 2, 3})
	for _, name := range []string{"gau_alpha_tiny_pt.safetensors", "gau_alpha_tiny_pt_tied_bf16.safetensors"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Read error does not match ErrFormat: %v", err)
			}
			return
		}
		for _, tn := range file.Tensors() {
			// Conversions must not panic either; errors are fine.
			_, _ = tn.Float32s()
			_, _ = tn.Float64s()
			_, _ = tn.Int64s()
		}
		var out bytes.Buffer
		if err := Write(&out, file.Tensors(), file.Metadata()); err != nil {
			t.Fatalf("Write rejected what Read accepted: %v", err)
		}
		again, err := Read(out.Bytes())
		if err != nil {
			t.Fatalf("Read rejected what Write produced: %v", err)
		}
		m1, m2 := file.Metadata(), again.Metadata()
		if !maps.Equal(m1, m2) || (m1 == nil) != (m2 == nil) {
			t.Fatalf("metadata changed from %q to %q", m1, m2)
		}
		if file.Len() != again.Len() {
			t.Fatalf("tensor count changed from %d to %d", file.Len(), again.Len())
		}
		for _, want := range file.Tensors() {
			got, ok := again.Tensor(want.Name)
			if !ok || !sameTensor(got, want) {
				t.Fatalf("tensor %q changed from %+v to %+v", want.Name, want, got)
			}
		}
		var out2 bytes.Buffer
		if err := Write(&out2, again.Tensors(), again.Metadata()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatal("writing is not a fixed point")
		}
	})
}
