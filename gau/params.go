package gau

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"
)

// Hugging Face tensor names of the published GAU-α checkpoints.
const (
	NameWordEmbeddings = "gau_alpha.embeddings.word_embeddings.weight"
	NameTypeEmbeddings = "gau_alpha.embeddings.token_type_embeddings.weight"
	NameDecoder        = "cls.predictions.decoder.weight"
)

// LayerName returns the name of a tensor of layer i: "i_dense", "o_dense",
// "q_scaleoffset" or "k_scaleoffset".
func LayerName(i int, part string) string {
	return fmt.Sprintf("gau_alpha.encoder.layer.%d.gau.%s.weight", i, part)
}

// LayerParams are the weights of one GAU layer, in PyTorch layouts.
type LayerParams struct {
	IDense *tensor.Dense // [2e+d, h]
	ODense *tensor.Dense // [h, e]
	GammaQ *tensor.Dense // [d]
	GammaK *tensor.Dense // [d]
}

// Params are the model's weights. The MLM head's decoder is tied to
// WordEmb.
type Params struct {
	Dtype   tensor.Dtype
	WordEmb *tensor.Dense // [vocab, h]
	TypeEmb *tensor.Dense // [type_vocab, h]
	Layers  []LayerParams
}

// Named is a parameter with its checkpoint name.
type Named struct {
	Name string
	T    *tensor.Dense
}

// ParamShape is the name and shape of one parameter.
type ParamShape struct {
	Name  string
	Shape tensor.Shape
}

// Shapes returns the expected shape of every parameter, by name, in the
// fixed order of Named.
func (c Config) Shapes() []ParamShape {
	h, e, d := c.HiddenSize, c.IntermediateSize, c.KeySize
	out := []ParamShape{
		{NameWordEmbeddings, tensor.Shape{c.VocabSize, h}},
		{NameTypeEmbeddings, tensor.Shape{c.TypeVocabSize, h}},
	}
	for i := 0; i < c.NumLayers; i++ {
		out = append(out,
			ParamShape{LayerName(i, "i_dense"), tensor.Shape{2*e + d, h}},
			ParamShape{LayerName(i, "o_dense"), tensor.Shape{h, e}},
			ParamShape{LayerName(i, "q_scaleoffset"), tensor.Shape{d}},
			ParamShape{LayerName(i, "k_scaleoffset"), tensor.Shape{d}},
		)
	}
	return out
}

// Tensors returns the parameters' tensors in the order of Named.
func (p *Params) Tensors() []*tensor.Dense {
	named := p.Named()
	ts := make([]*tensor.Dense, len(named))
	for i, n := range named {
		ts[i] = n.T
	}
	return ts
}

// Named lists the parameters with their checkpoint names in a fixed order
// (the order of Config.Shapes).
func (p *Params) Named() []Named {
	out := []Named{{NameWordEmbeddings, p.WordEmb}, {NameTypeEmbeddings, p.TypeEmb}}
	for i, l := range p.Layers {
		out = append(out,
			Named{LayerName(i, "i_dense"), l.IDense},
			Named{LayerName(i, "o_dense"), l.ODense},
			Named{LayerName(i, "q_scaleoffset"), l.GammaQ},
			Named{LayerName(i, "k_scaleoffset"), l.GammaK},
		)
	}
	return out
}

// ZeroParams returns zero-valued parameters of the configured shapes.
func ZeroParams(c Config, dt tensor.Dtype) *Params {
	shapes := c.Shapes()
	mk := func(i int) *tensor.Dense {
		return tensor.New(tensor.WithShape(shapes[i].Shape...), tensor.Of(dt))
	}
	p := &Params{Dtype: dt, WordEmb: mk(0), TypeEmb: mk(1)}
	for i := 0; i < c.NumLayers; i++ {
		k := 2 + 4*i
		p.Layers = append(p.Layers, LayerParams{IDense: mk(k), ODense: mk(k + 1), GammaQ: mk(k + 2), GammaK: mk(k + 3)})
	}
	return p
}

// InitParams returns freshly initialised parameters: normal(0,
// initializer_range) for embeddings and dense weights, 1 for the
// ScaleOffset gammas (GAU-α's initialisation).
func InitParams(c Config, dt tensor.Dtype, rng *rand.Rand) *Params {
	p := ZeroParams(c, dt)
	for _, n := range p.Named() {
		gamma := n.T.Dims() == 1
		switch x := n.T.Data().(type) {
		case []float32:
			for i := range x {
				if gamma {
					x[i] = 1
				} else {
					x[i] = float32(rng.NormFloat64() * c.InitializerRange)
				}
			}
		case []float64:
			for i := range x {
				if gamma {
					x[i] = 1
				} else {
					x[i] = rng.NormFloat64() * c.InitializerRange
				}
			}
		}
	}
	return p
}

// Count returns the number of parameters.
func (p *Params) Count() int {
	n := 0
	for _, t := range p.Named() {
		n += t.T.Shape().TotalSize()
	}
	return n
}

// DecayMask returns which parameters (in Named order) weight decay applies
// to: every matrix (embeddings and dense weights), not the ScaleOffset
// gammas, as is usual for norm-like scales.
func (p *Params) DecayMask() []bool {
	var d []bool
	for _, n := range p.Named() {
		d = append(d, n.T.Dims() > 1)
	}
	return d
}
