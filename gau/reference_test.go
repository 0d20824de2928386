package gau

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/graph"
)

// The vectors were computed by scripts/torch_reference.py, an independent
// float64 PyTorch implementation of the spec's formulas (see
// docs/reference-vectors.md).
const vectorsPath = "../testdata/reference/gau_vectors.json"

type refTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

type refCase struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Config struct {
		Hidden       int     `json:"hidden_size"`
		Inter        int     `json:"intermediate_size"`
		Key          int     `json:"attention_key_size"`
		Vocab        int     `json:"vocab_size"`
		Layers       int     `json:"num_hidden_layers"`
		Norm         string  `json:"normalization"`
		Base         float64 `json:"softmax_plus_base"`
		TrainLen     int     `json:"train_length"`
		CosScale     float64 `json:"cosscale"`
		RopeBase     float64 `json:"rope_base"`
		Method       string  `json:"method"`
		Window       int     `json:"window"`
		ReRoPEWindow int     `json:"rerope_window"`
		ALiBiSlope   float64 `json:"alibi_slope"`
		BetaFast     float64 `json:"yarn_beta_fast"`
		BetaSlow     float64 `json:"yarn_beta_slow"`
	} `json:"config"`
	Batch     int                  `json:"batch"`
	SeqLen    int                  `json:"seq_len"`
	ValidLen  []int                `json:"valid_len"`
	PosIDs    [][]int              `json:"position_ids"`
	Weights   map[string]refTensor `json:"weights"`
	Input     refTensor            `json:"input"`
	Cotangent refTensor            `json:"cotangent"`
	Output    refTensor            `json:"output"`
	Loss      float64              `json:"loss"`
	Grads     map[string]refTensor `json:"grads"`
	InputIDs  [][]int              `json:"input_ids"`
	MLMPos    [][2]int             `json:"mlm_positions"`
	MLMTarget []int                `json:"mlm_targets"`
	HiddenOut refTensor            `json:"hidden"`
	Logits    refTensor            `json:"logits"`
}

func loadVectors(t *testing.T) []refCase {
	t.Helper()
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 30 {
		t.Fatalf("only %d reference cases", len(f.Cases))
	}
	return f.Cases
}

func (c *refCase) config() Config {
	cfg := baseConfig()
	k := c.Config
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize, cfg.NumLayers = k.Vocab, k.Hidden, k.Inter, k.Key, k.Layers
	cfg.Normalization, cfg.SoftmaxPlusBase, cfg.TrainLength, cfg.CosScale = k.Norm, k.Base, k.TrainLen, k.CosScale
	cfg.RopeBase, cfg.Method, cfg.Window, cfg.ReRoPEWindow, cfg.ALiBiSlope = k.RopeBase, k.Method, k.Window, k.ReRoPEWindow, k.ALiBiSlope
	cfg.YaRNBetaFast, cfg.YaRNBetaSlow = k.BetaFast, k.BetaSlow
	return cfg
}

func (c *refCase) params(t *testing.T, cfg Config) *Params {
	p := ZeroParams(cfg, tensor.Float64)
	for _, n := range p.Named() {
		w, ok := c.Weights[n.Name]
		if !ok {
			continue // layer cases carry one layer only
		}
		if !n.T.Shape().Eq(tensor.Shape(w.Shape)) {
			t.Fatalf("%s: shape %v, reference %v", n.Name, n.T.Shape(), w.Shape)
		}
		copy(n.T.Data().([]float64), w.Data)
	}
	return p
}

func (c *refCase) batchInputs() (mask, pos []int) {
	B, L := c.Batch, c.SeqLen
	mask = make([]int, B*L)
	pos = make([]int, B*L)
	for b := 0; b < B; b++ {
		for i := 0; i < L; i++ {
			if i < c.ValidLen[b] {
				mask[b*L+i] = 1
			}
			pos[b*L+i] = i
			if c.PosIDs != nil {
				pos[b*L+i] = c.PosIDs[b][i]
			}
		}
	}
	return mask, pos
}

func compare(t *testing.T, what string, got []float64, want refTensor, tol float64) {
	t.Helper()
	if len(got) != len(want.Data) {
		t.Fatalf("%s: %d values, reference has %d", what, len(got), len(want.Data))
	}
	worst, at := 0.0, 0
	for i, w := range want.Data {
		if d := math.Abs(got[i]-w) / math.Max(1, math.Abs(w)); d > worst {
			worst, at = d, i
		}
	}
	if worst > tol {
		t.Errorf("%s: differs from the PyTorch reference by %.3g at %d (got %v, want %v)", what, worst, at, got[at], want.Data[at])
	}
}

// The layer matches the float64 reference to 1e-8 in float64 (outputs,
// the loss ⟨H', r⟩ and every gradient), and in float32, the graph the
// benchmarks time, to float32's accuracy: 2e-4 relative to
// max(1, |reference|), padding rows of the output left out (unused, and
// defined differently).
func TestLayerMatchesPyTorchReference(t *testing.T) {
	for _, dt := range []struct {
		dtype tensor.Dtype
		tol   float64
	}{{tensor.Float64, 1e-8}, {tensor.Float32, 2e-4}} {
		n := 0
		for _, c := range loadVectors(t) {
			if c.Kind != "layer" {
				continue
			}
			n++
			t.Run(dt.dtype.String()+"/"+c.Name, func(t *testing.T) {
				cfg := c.config()
				cfg.NumLayers = 1
				p := c.params(t, cfg)
				if dt.dtype == tensor.Float32 {
					p32 := ZeroParams(cfg, tensor.Float32)
					for i, nm := range p32.Named() {
						copy(nm.T.Data().([]float32), float32s(p.Named()[i].T.Data().([]float64)))
					}
					p = p32
				}
				pol, err := cfg.Policy("")
				if err != nil {
					t.Fatal(err)
				}
				B, L, h := c.Batch, c.SeqLen, cfg.HiddenSize
				mask, pos := c.batchInputs()
				dense := func(v []float64) *tensor.Dense {
					if dt.dtype == tensor.Float32 {
						return tensor.New(tensor.WithShape(B*L, h), tensor.WithBacking(float32s(v)))
					}
					return tensor.New(tensor.WithShape(B*L, h), tensor.WithBacking(append([]float64(nil), v...)))
				}
				lg, err := BuildLayer(cfg, pol, p.Layers[0], B, L, mask, pos, dense(c.Input.Data), dense(c.Cotangent.Data))
				if err != nil {
					t.Fatal(err)
				}
				mach, err := graph.NewMachine(lg.Graph, lg.Outputs()...)
				if err != nil {
					t.Fatal(err)
				}
				if err := mach.Run(); err != nil {
					t.Fatal(err)
				}
				value := func(v G.Value) []float64 {
					if x, ok := v.Data().([]float32); ok {
						y := make([]float64, len(x))
						for i, e := range x {
							y[i] = float64(e)
						}
						return y
					}
					return v.Data().([]float64)
				}
				out := value(mach.Value(lg.Out))
				if dt.dtype == tensor.Float64 {
					compare(t, "output", out, c.Output, 1e-8)
					// The reference's loss is ⟨H', r⟩.
					loss := 0.0
					for i, v := range out {
						loss += v * c.Cotangent.Data[i]
					}
					if math.Abs(loss-c.Loss) > 1e-8*math.Max(1, math.Abs(c.Loss)) {
						t.Errorf("loss %v, reference %v", loss, c.Loss)
					}
				} else {
					for i := range out {
						if mask[i/h] == 0 {
							out[i] = c.Output.Data[i]
						}
					}
					compare(t, "output (valid rows)", out, c.Output, dt.tol)
				}
				compare(t, "grad input", value(mach.Value(lg.Grads[0])), c.Grads["input"], dt.tol)
				for i, n := range p.Named()[2:6] {
					compare(t, "grad "+n.Name, value(mach.Value(lg.Grads[i+1])), c.Grads[n.Name], dt.tol)
				}
			})
		}
		if n < 20 {
			t.Fatalf("only %d layer cases", n)
		}
	}
}

// float32s rounds x to float32.
func float32s(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

func TestModelMatchesPyTorchReference(t *testing.T) {
	n := 0
	for _, c := range loadVectors(t) {
		if c.Kind != "model" {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			cfg := c.config()
			p := c.params(t, cfg)
			pol, err := cfg.Policy("")
			if err != nil {
				t.Fatal(err)
			}
			B, L, M := c.Batch, c.SeqLen, len(c.MLMPos)
			m, err := Build(cfg, p, Options{Shape: Shape{B: B, L: L, M: M}, Policy: pol, Loss: true, Grad: true, KeepLayerInputs: true})
			if err != nil {
				t.Fatal(err)
			}
			mask, pos := c.batchInputs()
			bt := &Batch{Mask: mask, Pos: pos, Targets: c.MLMTarget}
			for _, row := range c.InputIDs {
				bt.IDs = append(bt.IDs, row...)
			}
			for _, bp := range c.MLMPos {
				bt.Select = append(bt.Select, bp[0]*L+bp[1])
			}
			mach := cpuMachine(t, m)
			if err := m.Run(mach, bt); err != nil {
				t.Fatal(err)
			}
			compare(t, "hidden", mach.Value(m.Hidden).Data().([]float64), c.HiddenOut, 1e-8)
			compare(t, "logits", mach.Value(m.Logits).Data().([]float64), c.Logits, 1e-8)
			loss, _ := mach.Float(m.Loss)
			if math.Abs(loss-c.Loss) > 1e-8*math.Max(1, math.Abs(c.Loss)) {
				t.Errorf("loss %v, reference %v", loss, c.Loss)
			}
			for i, nm := range p.Named() {
				compare(t, "grad "+nm.Name, mach.Value(m.Grads[i]).Data().([]float64), c.Grads[nm.Name], 1e-8)
			}
			// The inference graph (gated attention, in-place ops) gives the
			// same logits and loss.
			inf, err := Build(cfg, p, Options{Shape: Shape{B: B, L: L, M: M}, Policy: pol, Loss: true})
			if err != nil {
				t.Fatal(err)
			}
			infMach := cpuMachine(t, inf)
			if err := inf.Run(infMach, bt); err != nil {
				t.Fatal(err)
			}
			compare(t, "inference logits", infMach.Value(inf.Logits).Data().([]float64), c.Logits, 1e-8)
		})
	}
	if n < 8 {
		t.Fatalf("only %d model cases", n)
	}
}
