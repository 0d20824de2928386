package checkpoint

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/optim"
	"github.com/infoscale/gaualpha/safetensors"
	"github.com/infoscale/gaualpha/tokenizer"
)

func TestCheckpointRoundTrip(t *testing.T) {
	cfg, v := tiny(t)
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	sizes := []int{}
	for _, n := range p.Named() {
		sizes = append(sizes, n.T.Shape().TotalSize())
	}
	opt := optim.NewAdamW(sizes, p.DecayMask(), 0.01)
	opt.Step = 7
	opt.M[3][2], opt.V[4][1] = 0.25, 0.125
	best := 1.5
	st := &State{Step: 7, Seed: 42, BestValLoss: &best, Options: json.RawMessage(`{"steps":10}`)}
	dir := filepath.Join(t.TempDir(), "ck")
	if err := Save(dir, cfg, v, p, opt, st); err != nil {
		t.Fatal(err)
	}
	ck, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Config != cfg {
		t.Errorf("config changed:\n%+v\n%+v", ck.Config, cfg)
	}
	if !slices.Equal(ck.Vocab.Tokens(), v.Tokens()) {
		t.Error("vocabulary changed")
	}
	for i, n := range p.Named() {
		if !slices.Equal(n.T.Data().([]float32), ck.Params.Named()[i].T.Data().([]float32)) {
			t.Errorf("%s changed", n.Name)
		}
	}
	if ck.Opt.Step != 7 || ck.Opt.M[3][2] != 0.25 || ck.Opt.V[4][1] != 0.125 {
		t.Error("optimizer state changed")
	}
	if ck.State.Step != 7 || *ck.State.BestValLoss != 1.5 {
		t.Errorf("trainer state changed: %+v", ck.State)
	}
	// The weights file carries the decoder under its Hugging Face name.
	f, err := safetensors.ReadFile(filepath.Join(dir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Tensor(gau.NameDecoder); !ok {
		t.Errorf("%s missing from the weights file", gau.NameDecoder)
	}
	if f.Metadata()["format"] != "pt" {
		t.Errorf("metadata %v, want format pt", f.Metadata())
	}
}

// Files exported from PyTorch (scripts/make_pt_safetensors.py writes them
// the way safetensors.torch.save_file does) load, in float32 and in bf16
// without the tied decoder; values match the sums torch computed.
func TestLoadPyTorchExport(t *testing.T) {
	var ref struct {
		Files map[string]struct {
			Tensors map[string]struct {
				Sum    float64   `json:"sum"`
				First5 []float64 `json:"first5"`
			} `json:"tensors"`
		} `json:"files"`
	}
	raw, err := os.ReadFile("../safetensors/testdata/gau_alpha_tiny_pt.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers = 50, 16, 24, 8, 2
	for _, name := range []string{"gau_alpha_tiny_pt.safetensors", "gau_alpha_tiny_pt_tied_bf16.safetensors"} {
		p, notes, err := loadWeights(filepath.Join("../safetensors/testdata", name), cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(notes) != 0 {
			t.Errorf("%s: unexpected notes %v", name, notes)
		}
		for _, n := range p.Named() {
			want := ref.Files[name].Tensors[n.Name]
			var sum float64
			for _, x := range n.T.Data().([]float32) {
				sum += float64(x)
			}
			if math.Abs(sum-want.Sum) > 1e-4*math.Max(1, math.Abs(want.Sum)) {
				t.Errorf("%s %s: sum %v, torch %v", name, n.Name, sum, want.Sum)
			}
			for i, w := range want.First5 {
				if got := float64(n.T.Data().([]float32)[i]); math.Abs(got-w) > 1e-7 {
					t.Errorf("%s %s[%d] = %v, torch %v", name, n.Name, i, got, w)
				}
			}
		}
	}
	// A shallower config takes the first layers and reports the rest.
	cfg.NumLayers = 1
	_, notes, err := loadWeights("../safetensors/testdata/gau_alpha_tiny_pt.safetensors", cfg)
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "skipped 4 tensors") {
		t.Errorf("1-layer load: notes %v, err %v", notes, err)
	}
}

func TestLoadRejectsBadWeights(t *testing.T) {
	cfg, v := tiny(t)
	p := gau.InitParams(cfg, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
	dir := filepath.Join(t.TempDir(), "ck")
	if err := Save(dir, cfg, v, p, nil, nil); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, ModelFile)
	good, _ := os.ReadFile(model)
	cases := []struct {
		name   string
		mutate func() error
		want   string
	}{
		{"truncated", func() error { return os.WriteFile(model, good[:len(good)/2], 0o644) }, "truncated"},
		{"corrupt header", func() error {
			b := slices.Clone(good)
			copy(b[8:], "{{{{")
			return os.WriteFile(model, b, 0o644)
		}, "safetensors"},
		{"empty", func() error { return os.WriteFile(model, nil, 0o644) }, "safetensors"},
		{"missing", func() error { return os.Remove(model) }, "no model.safetensors"},
		{"untied decoder", func() error {
			var ts []safetensors.Tensor
			for _, x := range weightTensors(p) {
				if x.Name == gau.NameDecoder {
					x.Data = slices.Clone(x.Data)
					x.Data[0] ^= 1
				}
				ts = append(ts, x)
			}
			return safetensors.WriteFile(model, ts, nil)
		}, "differs from"},
		{"wrong shape", func() error {
			cfg2 := cfg
			cfg2.HiddenSize++
			p2 := gau.InitParams(cfg2, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
			return safetensors.WriteFile(model, weightTensors(p2), nil)
		}, "has shape"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.mutate(); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
	// A vocabulary that does not fit the config.
	os.WriteFile(model, good, 0o644)
	os.WriteFile(filepath.Join(dir, VocabFile), []byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "vocab_size") {
		t.Errorf("mismatched vocab: got %v", err)
	}
}

// tiny returns a small model configuration and its character vocabulary.
func tiny(t *testing.T) (gau.Config, *tokenizer.Vocab) {
	t.Helper()
	v, err := tokenizer.Build(slices.Values([]string{"the quick brown fox jumps over the lazy dog"}), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg := gau.DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers, cfg.TrainLength = v.Size(), 16, 24, 8, 2, 16
	return cfg, v
}

// loadWeights reads model weights for cfg from the safetensors file at path
// (decodeWeights on its content).
func loadWeights(path string, cfg gau.Config) (*gau.Params, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("weights: %w", err)
	}
	return decodeWeights(data, path, cfg)
}
