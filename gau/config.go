// Package gau defines the GAU-α masked language model: its configuration
// (a Hugging Face style config.json), its parameters (with the published
// checkpoints' tensor names and PyTorch layouts) and its computation graph,
// built from the ops of package graph. model.go reads top to bottom as the
// model.
package gau

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/infoscale/gaualpha/attn"
)

// Config is the model configuration, stored as config.json in checkpoints.
// Field names follow the Hugging Face GAU-α config so that a published
// config.json loads; the fields after TrainLength are this project's.
type Config struct {
	ModelType             string  `json:"model_type"`
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	IntermediateSize      int     `json:"intermediate_size"`
	KeySize               int     `json:"attention_key_size"`
	NumLayers             int     `json:"num_hidden_layers"`
	TypeVocabSize         int     `json:"type_vocab_size"`
	HiddenDropout         float64 `json:"hidden_dropout_prob"`
	AttentionDropout      float64 `json:"attention_probs_dropout_prob"`
	HiddenAct             string  `json:"hidden_act"`
	UseBias               bool    `json:"use_bias"`
	Normalization         string  `json:"normalization"`
	AttentionScale        bool    `json:"attention_scale"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	InitializerRange      float64 `json:"initializer_range"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	PadTokenID            int     `json:"pad_token_id"`

	// TrainLength is n0, the sequence length the model is trained at:
	// InfoScale's reference length and the baselines' window.
	TrainLength int `json:"train_length"`
	// CosScale > 0 trains and evaluates cosine attention with logit s·cos.
	CosScale        float64 `json:"cosscale"`
	SoftmaxPlusBase float64 `json:"softmax_plus_base"`
	RopeBase        float64 `json:"rope_base"`
	// Method is the positional method the model was trained (or
	// fine-tuned) with; evaluation defaults to it.
	Method       string  `json:"method"`
	Window       int     `json:"window,omitempty"`
	ReRoPEWindow int     `json:"rerope_window,omitempty"`
	Sinks        int     `json:"sinks,omitempty"`
	ALiBiSlope   float64 `json:"alibi_slope,omitempty"`
	YaRNBetaFast float64 `json:"yarn_beta_fast,omitempty"`
	YaRNBetaSlow float64 `json:"yarn_beta_slow,omitempty"`
	// TargetLength is the length PI, NTK and YaRN were fine-tuned for and
	// PoSE's training positions cover (0: none).
	TargetLength int `json:"target_length,omitempty"`
}

// PaperConfig is the paper's model: GAU-α's first 6 layers, 768/1536/128,
// a 12000-character vocabulary, trained at length 64.
func PaperConfig() Config {
	c := baseConfig()
	c.VocabSize = 12000
	c.HiddenSize, c.IntermediateSize, c.KeySize, c.NumLayers = 768, 1536, 128, 6
	return c
}

// DefaultConfig is the small model `cmd/train` trains by default on two CPU
// cores (its vocabulary size is set from the corpus).
func DefaultConfig() Config {
	c := baseConfig()
	c.HiddenSize, c.IntermediateSize, c.KeySize, c.NumLayers = 128, 256, 64, 3
	return c
}

func baseConfig() Config {
	return Config{
		ModelType:             "gau_alpha",
		TypeVocabSize:         2,
		HiddenDropout:         0.1,
		AttentionDropout:      0.1,
		HiddenAct:             "swish",
		Normalization:         "softmax",
		AttentionScale:        true,
		LayerNormEps:          1e-12,
		InitializerRange:      0.02,
		MaxPositionEmbeddings: 512,
		TrainLength:           64,
		SoftmaxPlusBase:       attn.DefaultSoftmaxPlusBase,
		RopeBase:              attn.DefaultRopeBase,
		Method:                "rope",
	}
}

// Validate reports the first impossible value in c.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("config: "+format, args...)
	}
	switch {
	case c.VocabSize < 5:
		return bad("vocab_size %d must be at least 5 (the special tokens)", c.VocabSize)
	case c.HiddenSize < 1:
		return bad("hidden_size %d must be positive", c.HiddenSize)
	case c.IntermediateSize < 1:
		return bad("intermediate_size %d must be positive", c.IntermediateSize)
	case c.KeySize < 2 || c.KeySize%2 != 0:
		return bad("attention_key_size %d must be even and at least 2 (RoPE rotates pairs)", c.KeySize)
	case c.NumLayers < 1:
		return bad("num_hidden_layers %d must be at least 1", c.NumLayers)
	case c.TypeVocabSize < 1:
		return bad("type_vocab_size %d must be at least 1", c.TypeVocabSize)
	case !(c.HiddenDropout >= 0 && c.HiddenDropout < 1):
		return bad("hidden_dropout_prob %v must be in [0, 1)", c.HiddenDropout)
	case !(c.AttentionDropout >= 0 && c.AttentionDropout < 1):
		return bad("attention_probs_dropout_prob %v must be in [0, 1)", c.AttentionDropout)
	case c.HiddenAct != "" && c.HiddenAct != "swish" && c.HiddenAct != "silu":
		return bad("hidden_act %q is not supported (GAU-α uses swish)", c.HiddenAct)
	case c.UseBias:
		return bad("use_bias is not supported (GAU-α has no biases)")
	case c.LayerNormEps != 0 && c.LayerNormEps != 1e-12:
		return bad("layer_norm_eps %v is not supported (GAU-α's Norm uses 1e-12)", c.LayerNormEps)
	case c.TrainLength < 1:
		return bad("train_length (n0) %d must be at least 1", c.TrainLength)
	case c.PadTokenID != 0:
		return bad("pad_token_id %d must be 0", c.PadTokenID)
	case !(c.InitializerRange >= 0) || math.IsInf(c.InitializerRange, 0):
		return bad("initializer_range %v must be a finite number >= 0", c.InitializerRange)
	}
	if _, err := attn.ParseNorm(c.Normalization); err != nil {
		return bad("normalization: %v", err)
	}
	pol, err := c.Policy("")
	if err != nil {
		return err
	}
	if err := pol.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Policy returns the attention policy of the model, with the normalisation
// norm instead of the trained one when norm is not empty.
func (c Config) Policy(norm string) (attn.Policy, error) {
	if norm == "" {
		norm = c.Normalization
	}
	n, err := attn.ParseNorm(norm)
	if err != nil {
		return attn.Policy{}, fmt.Errorf("config: %w", err)
	}
	method := c.Method
	if method == "" {
		method = "rope"
	}
	m, err := attn.ParseMethod(method)
	if err != nil {
		return attn.Policy{}, fmt.Errorf("config: %w", err)
	}
	p := attn.Policy{
		Norm: n, Base: c.SoftmaxPlusBase, TrainLen: c.TrainLength, KeySize: c.KeySize,
		CosScale: c.CosScale, Method: m, RopeBase: c.RopeBase, Window: c.Window,
		ReRoPEWindow: c.ReRoPEWindow, Sinks: c.Sinks, ALiBiSlope: c.ALiBiSlope,
		YaRNBetaFast: c.YaRNBetaFast, YaRNBetaSlow: c.YaRNBetaSlow,
		TargetLen: c.TargetLength,
	}
	return p.WithDefaults(), nil
}

// DecodeConfig decodes a config.json without validating it. Unknown fields
// are ignored (published configs carry fields this project does not use);
// missing ones take the defaults of GAU-α.
func DecodeConfig(r io.Reader, name string) (Config, error) {
	c := baseConfig()
	c.Method = ""
	dec := json.NewDecoder(r)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	if c.Method == "" {
		c.Method = "rope"
	}
	if c.LayerNormEps == 0 {
		c.LayerNormEps = 1e-12
	}
	return c, nil
}

// ReadConfig decodes and validates a config.json.
func ReadConfig(r io.Reader, name string) (Config, error) {
	c, err := DecodeConfig(r, name)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// OpenConfig reads a config.json file without validating it (see
// DecodeConfig); callers complete it (the vocabulary size of a new model)
// and validate.
func OpenConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	return DecodeConfig(f, path)
}

// LoadConfig reads and validates a config.json file.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, err
	}
	defer f.Close()
	return ReadConfig(f, path)
}

// Marshal returns c as indented JSON.
func (c Config) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
