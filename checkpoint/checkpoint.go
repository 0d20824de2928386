// Package checkpoint reads and writes checkpoint directories: config.json,
// vocab.txt and model.safetensors in Hugging Face's conventions (a PyTorch
// GAU-α loads the weights), and, for a resumable training run, the AdamW
// moments (optimizer.safetensors) and the trainer's state
// (trainer_state.json). Writes are atomic: a crash at any moment leaves
// the previous checkpoint whole.
package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/internal/atomicfile"
	"github.com/infoscale/gaualpha/layers"
	"github.com/infoscale/gaualpha/optim"
	"github.com/infoscale/gaualpha/safetensors"
	"github.com/infoscale/gaualpha/tokenizer"
)

// Files of a checkpoint directory. config.json, vocab.txt and
// model.safetensors follow Hugging Face conventions (a PyTorch GAU-α loads
// the weights); the optimizer moments and the trainer state make the
// directory resumable.
const (
	ConfigFile    = "config.json"
	VocabFile     = "vocab.txt"
	ModelFile     = "model.safetensors"
	OptimizerFile = "optimizer.safetensors"
	StateFile     = "trainer_state.json"
)

// State is the trainer's progress, saved as trainer_state.json. All the
// randomness of a run derives from (Seed, step), so Step and Seed are the
// whole random-number state. Options holds the trainer's hyper-parameters
// as the trainer wrote them (package train decodes them).
type State struct {
	Step        int             `json:"step"`
	Seed        uint64          `json:"seed"`
	BestValLoss *float64        `json:"best_val_loss,omitempty"`
	BestStep    int             `json:"best_step,omitempty"`
	Elapsed     float64         `json:"elapsed_seconds"`
	Options     json.RawMessage `json:"options"`
	Corpus      string          `json:"corpus,omitempty"`
}

// Checkpoint is a loaded checkpoint directory.
type Checkpoint struct {
	Config layers.Config
	Vocab  *tokenizer.Vocab
	Params *layers.Params
	Opt    *optim.AdamW // nil when the directory has no optimizer state
	State  *State       // nil when the directory has no trainer state
	// Notes lists tensors of the weights file that were not used (for
	// example the layers beyond num_hidden_layers of a deeper published
	// model).
	Notes []string
}

// Save writes a checkpoint directory atomically: a crash or kill at any
// moment leaves the previous checkpoint complete. opt and st may be nil
// (a weights-only checkpoint).
func Save(dir string, cfg layers.Config, v *tokenizer.Vocab, p *layers.Params, opt *optim.AdamW, st *State) error {
	cfgJSON, err := cfg.Marshal()
	if err != nil {
		return err
	}
	err = atomicfile.ReplaceDir(dir, func(tmp string) error {
		if err := os.WriteFile(filepath.Join(tmp, ConfigFile), cfgJSON, 0o644); err != nil {
			return err
		}
		if err := v.Save(filepath.Join(tmp, VocabFile)); err != nil {
			return err
		}
		if err := writeWeights(filepath.Join(tmp, ModelFile), p); err != nil {
			return err
		}
		if opt != nil {
			if err := writeOptimizer(filepath.Join(tmp, OptimizerFile), p, opt); err != nil {
				return err
			}
		}
		if st != nil {
			b, err := json.MarshalIndent(st, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(tmp, StateFile), append(b, '\n'), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("saving checkpoint %s: %w", dir, err)
	}
	return nil
}

func float32s(t *tensor.Dense) []float32 { return t.Data().([]float32) }

// weightTensors lists the model's tensors under their Hugging Face names,
// with the MLM decoder written as a copy of the word embeddings (it is tied
// to them), as PyTorch GAU-α checkpoints carry it.
func weightTensors(p *layers.Params) []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, n := range p.Named() {
		ts = append(ts, safetensors.FromFloat32(n.Name, n.T.Shape(), float32s(n.T)))
		if n.Name == layers.NameWordEmbeddings {
			ts = append(ts, safetensors.FromFloat32(layers.NameDecoder, n.T.Shape(), float32s(n.T)))
		}
	}
	return ts
}

func writeWeights(path string, p *layers.Params) error {
	if p.Dtype != tensor.Float32 {
		return fmt.Errorf("checkpoints hold float32 weights, model is %v", p.Dtype)
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, weightTensors(p), map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeOptimizer(path string, p *layers.Params, o *optim.AdamW) error {
	var ts []safetensors.Tensor
	for i, n := range p.Named() {
		ts = append(ts,
			safetensors.FromFloat32(n.Name+".exp_avg", n.T.Shape(), o.M[i]),
			safetensors.FromFloat32(n.Name+".exp_avg_sq", n.T.Shape(), o.V[i]))
	}
	meta := map[string]string{
		"step": strconv.Itoa(o.Step), "beta1": fmt.Sprint(o.Beta1), "beta2": fmt.Sprint(o.Beta2),
		"eps": fmt.Sprint(o.Eps), "weight_decay": fmt.Sprint(o.WeightDecay),
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, meta); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Load reads a checkpoint directory: config.json, vocab.txt and
// model.safetensors are required; the optimizer and trainer state are read
// when present.
func Load(dir string) (*Checkpoint, error) {
	if err := atomicfile.RecoverDir(dir); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("checkpoint %s: not a directory", dir)
	}
	cfg, err := layers.LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	v, err := tokenizer.Load(filepath.Join(dir, VocabFile))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if v.Size() != cfg.VocabSize {
		return nil, fmt.Errorf("checkpoint %s: vocab.txt has %d tokens, config.json says vocab_size %d", dir, v.Size(), cfg.VocabSize)
	}
	p, notes, err := LoadWeights(filepath.Join(dir, ModelFile), cfg)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Config: cfg, Vocab: v, Params: p, Notes: notes}
	optPath := filepath.Join(dir, OptimizerFile)
	if _, err := os.Stat(optPath); err == nil {
		if ck.Opt, err = loadOptimizer(optPath, p); err != nil {
			return nil, err
		}
	}
	statePath := filepath.Join(dir, StateFile)
	if b, err := os.ReadFile(statePath); err == nil {
		var st State
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", statePath, err)
		}
		ck.State = &st
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return ck, nil
}

var deepLayer = regexp.MustCompile(`^gau_alpha\.encoder\.layer\.(\d+)\.`)

// LoadWeights reads model weights for cfg from a safetensors file written
// here or exported from PyTorch (F32, F64, F16 or BF16; converted to
// float32). The MLM decoder may be absent (it is tied to the word
// embeddings); when present it must equal them. Layers beyond
// num_hidden_layers are skipped, which is how the paper takes the first 6
// layers of the 24-layer GAU-α; they and any other unknown tensors are
// returned as notes.
func LoadWeights(path string, cfg layers.Config) (*layers.Params, []string, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("weights %s: %w", path, err)
	}
	p := layers.ZeroParams(cfg, tensor.Float32)
	used := map[string]bool{}
	for _, n := range p.Named() {
		t, ok := f.Tensor(n.Name)
		if !ok {
			return nil, nil, fmt.Errorf("weights %s: missing tensor %s", path, n.Name)
		}
		if err := fill(n.T, t); err != nil {
			return nil, nil, fmt.Errorf("weights %s: %w", path, err)
		}
		used[n.Name] = true
	}
	if t, ok := f.Tensor(layers.NameDecoder); ok {
		dec := tensor.New(tensor.WithShape(p.WordEmb.Shape()...), tensor.Of(tensor.Float32))
		if err := fill(dec, t); err != nil {
			return nil, nil, fmt.Errorf("weights %s: %w", path, err)
		}
		if !slices.Equal(float32s(dec), float32s(p.WordEmb)) {
			return nil, nil, fmt.Errorf("weights %s: %s differs from %s; GAU-α ties them and untied heads are not supported", path, layers.NameDecoder, layers.NameWordEmbeddings)
		}
		used[layers.NameDecoder] = true
	}
	var notes []string
	skipped := 0
	for _, name := range f.Names() {
		if used[name] {
			continue
		}
		if m := deepLayer.FindStringSubmatch(name); m != nil {
			if i, _ := strconv.Atoi(m[1]); i >= cfg.NumLayers {
				skipped++
				continue
			}
		}
		notes = append(notes, "unused tensor "+name)
	}
	if skipped > 0 {
		notes = append(notes, fmt.Sprintf("skipped %d tensors of layers beyond num_hidden_layers = %d", skipped, cfg.NumLayers))
	}
	return p, notes, nil
}

// fill copies a file tensor into dst after checking its shape.
func fill(dst *tensor.Dense, t safetensors.Tensor) error {
	if !slices.Equal(t.Shape, []int(dst.Shape())) {
		return fmt.Errorf("tensor %s has shape %v, the config expects %v", t.Name, t.Shape, dst.Shape())
	}
	v, err := t.Float32s()
	if err != nil {
		return fmt.Errorf("tensor %s: %w", t.Name, err)
	}
	copy(float32s(dst), v)
	return nil
}

func loadOptimizer(path string, p *layers.Params) (*optim.AdamW, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("optimizer %s: %w", path, err)
	}
	meta := f.Metadata()
	num := func(k string) (float64, error) {
		x, err := strconv.ParseFloat(meta[k], 64)
		if err != nil {
			return 0, fmt.Errorf("optimizer %s: metadata %q: %w", path, k, err)
		}
		return x, nil
	}
	var vals [5]float64
	for i, k := range []string{"step", "beta1", "beta2", "eps", "weight_decay"} {
		if vals[i], err = num(k); err != nil {
			return nil, err
		}
	}
	named := p.Named()
	sizes := make([]int, len(named))
	for i, n := range named {
		sizes[i] = n.T.Shape().TotalSize()
	}
	o := optim.NewAdamW(sizes, p.DecayMask(), vals[4])
	o.Step, o.Beta1, o.Beta2, o.Eps = int(vals[0]), vals[1], vals[2], vals[3]
	for i, n := range named {
		for _, part := range []struct {
			suffix string
			dst    []float32
		}{{".exp_avg", o.M[i]}, {".exp_avg_sq", o.V[i]}} {
			t, ok := f.Tensor(n.Name + part.suffix)
			if !ok {
				return nil, fmt.Errorf("optimizer %s: missing tensor %s", path, n.Name+part.suffix)
			}
			v, err := t.Float32s()
			if err != nil || len(v) != len(part.dst) {
				return nil, fmt.Errorf("optimizer %s: tensor %s does not fit the model", path, n.Name+part.suffix)
			}
			copy(part.dst, v)
		}
	}
	return o, nil
}
