package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The files under testdata were written by scripts/make_pt_safetensors.py
// with PyTorch, imitating safetensors.torch.save_file; the JSON beside them
// holds values computed in torch.

type ptSummary struct {
	Config struct {
		VocabSize        int `json:"vocab_size"`
		HiddenSize       int `json:"hidden_size"`
		IntermediateSize int `json:"intermediate_size"`
		AttentionKeySize int `json:"attention_key_size"`
		NumHiddenLayers  int `json:"num_hidden_layers"`
	} `json:"config"`
	Metadata map[string]string `json:"metadata"`
	Files    map[string]struct {
		Tensors map[string]struct {
			DType  DType     `json:"dtype"`
			Shape  []int     `json:"shape"`
			Sum    float64   `json:"sum"`
			First5 []float64 `json:"first5"`
		} `json:"tensors"`
	} `json:"files"`
}

const (
	ptF32File  = "gau_alpha_tiny_pt.safetensors"
	ptBF16File = "gau_alpha_tiny_pt_tied_bf16.safetensors"
	ptDecoder  = "cls.predictions.decoder.weight"
	ptWordEmb  = "gau_alpha.embeddings.word_embeddings.weight"
)

func loadPTSummary(t *testing.T) ptSummary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "gau_alpha_tiny_pt.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s ptSummary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// ptExpectedNames lists the GAU-alpha state-dict names with their PyTorch
// shapes for the tiny config, derived here from the layout rules rather than
// from the JSON.
func ptExpectedNames(s ptSummary, withDecoder bool) map[string][]int {
	c := s.Config
	v, h, e, d := c.VocabSize, c.HiddenSize, c.IntermediateSize, c.AttentionKeySize
	want := map[string][]int{
		ptWordEmb: {v, h},
		"gau_alpha.embeddings.token_type_embeddings.weight": {2, h},
	}
	for i := range c.NumHiddenLayers {
		pre := fmt.Sprintf("gau_alpha.encoder.layer.%d.gau.", i)
		want[pre+"i_dense.weight"] = []int{2*e + d, h}
		want[pre+"o_dense.weight"] = []int{h, e}
		want[pre+"q_scaleoffset.weight"] = []int{d}
		want[pre+"k_scaleoffset.weight"] = []int{d}
	}
	if withDecoder {
		want[ptDecoder] = []int{v, h}
	}
	return want
}

func TestPyTorchFiles(t *testing.T) {
	s := loadPTSummary(t)
	if s.Config.VocabSize != 50 || s.Config.HiddenSize != 16 || s.Config.IntermediateSize != 24 || s.Config.AttentionKeySize != 8 || s.Config.NumHiddenLayers != 2 {
		t.Fatalf("unexpected config in the JSON: %+v", s.Config)
	}
	tests := []struct {
		file        string
		dtype       DType
		withDecoder bool
	}{
		{ptF32File, F32, true},
		{ptBF16File, BF16, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			f, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Metadata(); !maps.Equal(got, map[string]string{"format": "pt"}) {
				t.Errorf("metadata = %q, want format=pt", got)
			}
			wantNames := ptExpectedNames(s, tt.withDecoder)
			names := f.Names()
			if got, want := slices.Sorted(slices.Values(names)), slices.Sorted(maps.Keys(wantNames)); !slices.Equal(got, want) {
				t.Fatalf("names = %q\nwant    %q", got, want)
			}
			// One dtype per file, so the official writer orders by name.
			if !slices.IsSorted(names) {
				t.Errorf("data order %q is not by name", names)
			}
			expect := s.Files[tt.file].Tensors
			if len(expect) != len(names) {
				t.Fatalf("JSON describes %d tensors, file has %d", len(expect), len(names))
			}
			for _, name := range names {
				tn, _ := f.Tensor(name)
				want, ok := expect[name]
				if !ok {
					t.Errorf("%s: not described in the JSON", name)
					continue
				}
				if tn.DType != tt.dtype || want.DType != tt.dtype {
					t.Errorf("%s: dtype %s (JSON %s), want %s", name, tn.DType, want.DType, tt.dtype)
				}
				if !slices.Equal(tn.Shape, wantNames[name]) || !slices.Equal(tn.Shape, want.Shape) {
					t.Errorf("%s: shape %v (JSON %v), want %v", name, tn.Shape, want.Shape, wantNames[name])
				}
				vals, err := tn.Float64s()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				// The first values must match torch exactly (float64 of the
				// stored float32 or bfloat16 values).
				if !slices.Equal(vals[:len(want.First5)], want.First5) {
					t.Errorf("%s: first values %v, want %v", name, vals[:len(want.First5)], want.First5)
				}
				sum := 0.0
				for _, v := range vals {
					sum += v
				}
				// Only the summation order differs from torch.
				if math.Abs(sum-want.Sum) > 1e-12*(1+math.Abs(want.Sum)) {
					t.Errorf("%s: sum %.17g, want %.17g", name, sum, want.Sum)
				}
			}

			// The Go writer reproduces the file byte for byte.
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Write(&buf, f.Tensors(), f.Metadata()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), raw) {
				t.Errorf("Write of the read tensors differs from the PyTorch-side file (%d vs %d bytes)", buf.Len(), len(raw))
			}
		})
	}
}

func TestPyTorchTiedAndBF16Rounding(t *testing.T) {
	f32, err := ReadFile(filepath.Join("testdata", ptF32File))
	if err != nil {
		t.Fatal(err)
	}
	bf, err := ReadFile(filepath.Join("testdata", ptBF16File))
	if err != nil {
		t.Fatal(err)
	}
	// The decoder was saved as a clone of the tied word embeddings.
	emb, _ := f32.Tensor(ptWordEmb)
	dec, _ := f32.Tensor(ptDecoder)
	if !bytes.Equal(emb.Data, dec.Data) {
		t.Error("decoder weight differs from the tied word embeddings")
	}
	if _, ok := bf.Tensor(ptDecoder); ok {
		t.Errorf("%s present in the tied bf16 file", ptDecoder)
	}
	// torch's float32 -> bfloat16 rounding (to nearest even) matches ours.
	for _, name := range bf.Names() {
		b, _ := bf.Tensor(name)
		full, ok := f32.Tensor(name)
		if !ok {
			t.Fatalf("%s missing from the float32 file", name)
		}
		vals, err := full.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			got := binary.LittleEndian.Uint16(b.Data[2*i:])
			if want := Float32ToBFloat16(v); got != want {
				t.Fatalf("%s[%d]: torch stored bf16 %#04x for %v, Float32ToBFloat16 gives %#04x", name, i, got, v, want)
			}
		}
	}
	// Scale-offset weights are around 1 and the rest around 0 (std 0.02).
	for _, name := range f32.Names() {
		tn, _ := f32.Tensor(name)
		vals, _ := tn.Float64s()
		mean := 0.0
		for _, v := range vals {
			mean += v
		}
		mean /= float64(len(vals))
		want := 0.0
		if slices.Contains([]string{"q_scaleoffset.weight", "k_scaleoffset.weight"}, name[max(0, len(name)-20):]) {
			want = 1
		}
		if math.Abs(mean-want) > 0.03 {
			t.Errorf("%s: mean %v, want about %v", name, mean, want)
		}
	}
}
