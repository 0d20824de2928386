package gau

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

func tinyConfig() Config {
	c := baseConfig()
	c.VocabSize, c.HiddenSize, c.IntermediateSize, c.KeySize, c.NumLayers = 23, 8, 10, 6, 2
	c.TrainLength = 6
	c.InitializerRange = 0.5
	return c
}

func tinyBatch(rng *rand.Rand, cfg Config, B, L, M int) *Batch {
	bt := &Batch{Key: 4242}
	for b := 0; b < B; b++ {
		n := L - b // later sequences are padded
		for i := 0; i < L; i++ {
			id, m := 0, 0
			if i < n {
				id, m = 5+rng.IntN(cfg.VocabSize-5), 1
			}
			bt.IDs = append(bt.IDs, id)
			bt.Mask = append(bt.Mask, m)
		}
	}
	for i := 0; i < M; i++ {
		bt.Select = append(bt.Select, rng.IntN(B*L-B))
		bt.Targets = append(bt.Targets, rng.IntN(cfg.VocabSize))
	}
	bt.Targets[M-1] = -1 // an ignored row
	return bt
}

// The whole tiny model, in training mode (dropout on), against central
// finite differences in float64, under each normalisation with CosScale off
// and on.
func TestModelGradientsFiniteDifferences(t *testing.T) {
	for _, norm := range []string{"softmax", "softmax_plus", "infoscale"} {
		for _, cos := range []float64{0, 5} {
			t.Run(fmt.Sprintf("%s/cos=%v", norm, cos), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(21, 22))
				cfg := tinyConfig()
				cfg.Normalization, cfg.CosScale = norm, cos
				cfg.HiddenDropout, cfg.AttentionDropout = 0.2, 0.2
				p := InitParams(cfg, tensor.Float64, rng)
				pol, err := cfg.Policy("")
				if err != nil {
					t.Fatal(err)
				}
				const B, L, M = 2, 9, 6
				m, err := Build(cfg, p, Options{Shape: Shape{B, L, M}, Policy: pol, Train: true, Loss: true, Grad: true})
				if err != nil {
					t.Fatal(err)
				}
				bt := tinyBatch(rng, cfg, B, L, M)
				mach := cpuMachine(t, m)
				if err := m.Run(mach, bt); err != nil {
					t.Fatal(err)
				}
				named := p.Named()
				analytic := make([][]float64, len(named))
				for i := range named {
					analytic[i] = append([]float64(nil), mach.Value(m.Grads[i]).Data().([]float64)...)
				}
				loss := func() float64 {
					if err := m.Run(mach, bt); err != nil {
						t.Fatal(err)
					}
					v, _ := mach.Float(m.Loss)
					return v
				}
				for i, n := range named {
					x := n.T.Data().([]float64)
					for s := 0; s < 12; s++ {
						j := rng.IntN(len(x))
						const h = 1e-6
						old := x[j]
						x[j] = old + h
						fp := loss()
						x[j] = old - h
						fm := loss()
						x[j] = old
						num := (fp - fm) / (2 * h)
						if d := math.Abs(num - analytic[i][j]); d > 1e-6*math.Max(1, math.Abs(num)) {
							t.Errorf("%s[%d]: analytic %.9g, numeric %.9g", n.Name, j, analytic[i][j], num)
						}
					}
				}
			})
		}
	}
}

// Dropout must actually act in training mode and vanish in evaluation mode.
func TestDropoutOnlyInTraining(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cfg := tinyConfig()
	p := InitParams(cfg, tensor.Float64, rng)
	pol, _ := cfg.Policy("")
	bt := tinyBatch(rng, cfg, 2, 7, 3)
	lossWith := func(train bool, key uint64) float64 {
		m, err := Build(cfg, p, Options{Shape: Shape{2, 7, 3}, Policy: pol, Train: train, Loss: true})
		if err != nil {
			t.Fatal(err)
		}
		bt.Key = key
		mach := cpuMachine(t, m)
		if err := m.Run(mach, bt); err != nil {
			t.Fatal(err)
		}
		v, _ := mach.Float(m.Loss)
		return v
	}
	if a, b := lossWith(false, 1), lossWith(false, 2); a != b {
		t.Errorf("evaluation loss depends on the dropout key: %v vs %v", a, b)
	}
	if a, b := lossWith(true, 1), lossWith(true, 2); a == b {
		t.Errorf("training loss does not depend on the dropout key (%v): dropout inactive", a)
	}
	if a, b := lossWith(true, 3), lossWith(true, 3); a != b {
		t.Errorf("same key, different training losses %v and %v", a, b)
	}
}

func TestConfigValidation(t *testing.T) {
	mod := func(f func(*Config)) Config { c := tinyConfig(); f(&c); return c }
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"odd key size", mod(func(c *Config) { c.KeySize = 7 }), "attention_key_size 7 must be even"},
		{"n0 zero", mod(func(c *Config) { c.TrainLength = 0 }), "train_length (n0) 0"},
		{"negative cosscale", mod(func(c *Config) { c.CosScale = -1 }), "CosScale -1"},
		{"unknown norm", mod(func(c *Config) { c.Normalization = "sparsemax" }), "unknown normalisation"},
		{"unknown method", mod(func(c *Config) { c.Method = "xpos" }), "unknown method"},
		{"tiny vocab", mod(func(c *Config) { c.VocabSize = 3 }), "vocab_size 3"},
		{"bias", mod(func(c *Config) { c.UseBias = true }), "use_bias"},
		{"dropout 1", mod(func(c *Config) { c.HiddenDropout = 1 }), "hidden_dropout_prob 1"},
	}
	for _, c := range cases {
		err := c.cfg.Validate()
		if err == nil || !contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	if err := tinyConfig().Validate(); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// A batch cut into pieces, each built with its RowOffset, drops what the
// whole batch drops: each piece's hidden states are the whole batch's rows
// (the data-parallel ranks' pieces of a global batch). Without the offset
// the second piece draws other masks.
func TestRowOffsetDropout(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := tinyConfig()
	cfg.HiddenDropout, cfg.AttentionDropout = 0.3, 0.3
	p := InitParams(cfg, tensor.Float32, rng)
	pol, _ := cfg.Policy("")
	const B, L = 4, 7
	whole := tinyBatch(rng, cfg, B, L, 1)
	hidden := func(bt *Batch, b, offset int) []float32 {
		m, err := Build(cfg, p, Options{Shape: Shape{b, L, 1}, Policy: pol, Train: true, RowOffset: offset, KeepLayerInputs: true})
		if err != nil {
			t.Fatal(err)
		}
		mach := cpuMachine(t, m)
		if err := m.Run(mach, bt); err != nil {
			t.Fatal(err)
		}
		return mach.Value(m.Hidden).Data().([]float32)
	}
	piece := func(lo, hi int) *Batch {
		return &Batch{IDs: whole.IDs[lo*L : hi*L], Mask: whole.Mask[lo*L : hi*L], Select: []int{0}, Key: whole.Key}
	}
	want := hidden(whole, B, 0)
	h := cfg.HiddenSize
	for _, cut := range [][2]int{{0, 1}, {1, 3}, {3, 4}, {2, 4}} {
		lo, hi := cut[0], cut[1]
		got := hidden(piece(lo, hi), hi-lo, lo)
		for i, v := range got {
			if w := want[lo*L*h+i]; v != w {
				t.Fatalf("sequences [%d, %d): hidden value %d is %v, the whole batch's %v", lo, hi, i, v, w)
			}
		}
	}
	got := hidden(piece(2, 4), 2, 0)
	differ := 0
	for i, v := range got {
		if math.Abs(float64(v-want[2*L*h+i])) > 1e-6 {
			differ++
		}
	}
	if differ == 0 {
		t.Error("without its offset, sequences [2, 4) drop what the whole batch drops: the test cannot tell")
	}
	if _, err := Build(cfg, p, Options{Shape: Shape{1, L, 1}, Policy: pol, RowOffset: -1}); err == nil {
		t.Error("a negative row offset was accepted")
	}
}
