package eval

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/passkey"
	"github.com/infoscale/gaualpha/tokenizer"
)

// The distance classes of the passkey probe.
const (
	// Near keys are asked at a distance inside the training length: uniform
	// in [span, n0 − span], the distances training gives the skill at
	// (span = passkey.Probe.Span, the marker and the digits).
	Near = "near"
	// Far keys are asked beyond the training length: uniform in
	// [n0 + span, L − span], so farther than any window of n0 tokens.
	Far = "far"
)

// PasskeyOptions configure a passkey evaluation.
type PasskeyOptions struct {
	// Lengths are the sequence lengths; a length that leaves no room for
	// a class's distances has no keys of that class.
	Lengths []int
	// N0 is the training length the classes refer to (0: the config's).
	N0 int
	// Near and Far are the keys per document, length and class.
	Near, Far int
	// Seed draws the keys and their places: the same for every variant,
	// so that variants are compared on the same samples.
	Seed uint64
	// MaxTokens bounds the tokens of one forward pass (default 16384).
	MaxTokens int
	// Backend runs the forward passes (nil: the CPU in float32).
	Backend backend.Backend
	// Progress receives one line per finished (variant, length).
	Progress io.Writer
}

// PasskeyResult is the probe's score of one variant at one length on the
// keys of one class in one document.
type PasskeyResult struct {
	Variant string
	Length  int
	Class   string
	Doc     int
	Score   passkey.Score
}

// passkeySample is one probe sequence: a filler with a key stated and
// asked, the masked positions and their targets.
type passkeySample struct {
	doc, class  int
	ids         []int
	pos, target []int
}

// passkeySamples draws the samples of one length: for each document, Near
// keys at near distances then Far keys at far ones, each from a generator
// seeded by (seed, length, document, class, key), so that a sample does not
// depend on the other lengths, documents or counts.
func passkeySamples(p *passkey.Probe, docs [][]int, L, n0 int, o PasskeyOptions) ([]passkeySample, error) {
	span := p.Span()
	type class struct{ lo, hi, n int }
	classes := []class{{span, n0 - span, o.Near}, {n0 + span, L - span, o.Far}}
	var out []passkeySample
	for di, d := range docs {
		filler := Tile(d, L)
		for ci, c := range classes {
			lo, hi := c.lo, min(c.hi, L-span)
			if hi < lo {
				continue
			}
			for k := range c.n {
				rng := rand.New(rand.NewPCG(o.Seed^uint64(L)<<32, uint64(di)<<24|uint64(ci)<<20|uint64(k)))
				dist := lo + rng.IntN(hi-lo+1)
				seq, pos, tgt, err := p.EvalSample(filler, dist, rng)
				if err != nil {
					return nil, err
				}
				out = append(out, passkeySample{doc: di, class: ci, ids: seq, pos: pos, target: tgt})
			}
		}
	}
	return out, nil
}

// Passkey scores the retrieval probe (package passkey) of every variant at
// every length on the documents (tokenised, no special tokens; each is
// tiled or cut to the length as filler): per document and class, the
// digits and keys right. A key is asked with all its digits masked in one
// forward pass; a digit is right when the argmax over the whole vocabulary
// is its token.
func Passkey(ctx context.Context, cfg gau.Config, p *gau.Params, v *tokenizer.Vocab, docs [][]int, variants []Variant, o PasskeyOptions) (out []PasskeyResult, err error) {
	if len(docs) == 0 {
		return nil, fmt.Errorf("passkey: no documents")
	}
	for i, d := range docs {
		if len(d) == 0 {
			return nil, fmt.Errorf("passkey: document %d has no tokens", i)
		}
	}
	if o.Near < 0 || o.Far < 0 || o.Near+o.Far == 0 {
		return nil, fmt.Errorf("passkey: %d near and %d far keys per document: want at least one", o.Near, o.Far)
	}
	probe, err := passkey.New(v)
	if err != nil {
		return nil, err
	}
	n0 := o.N0
	if n0 <= 0 {
		n0 = cfg.TrainLength
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = 16384
	}
	for _, L := range o.Lengths {
		if L < 2*probe.Span() {
			return nil, fmt.Errorf("passkey: length %d is shorter than a statement and a question (%d tokens)", L, 2*probe.Span())
		}
		if need := EstimateBytes(cfg, 1, L); need > 8<<30 {
			return nil, fmt.Errorf("passkey: length %d needs about %.1f GiB per sequence, over the memory budget of 8 GiB", L, float64(need)/(1<<30))
		}
	}
	be := o.Backend
	if be == nil {
		be = backend.Default()
	}
	defer func() {
		if derr := be.Drop(p.Tensors()...); err == nil && derr != nil {
			out, err = nil, derr
		}
	}()
	className := []string{Near, Far}
	for _, L := range o.Lengths {
		samples, err := passkeySamples(probe, docs, L, n0, o)
		if err != nil {
			return nil, err
		}
		for _, va := range variants {
			if err := va.Policy.Validate(); err != nil {
				return nil, fmt.Errorf("passkey: variant %s: %w", va.Name, err)
			}
			t0 := time.Now()
			scores := make([][2]passkey.Score, len(docs))
			if err := runPasskey(ctx, be, cfg, p, va, L, samples, o.MaxTokens, scores); err != nil {
				return nil, fmt.Errorf("passkey: %s at length %d: %w", va.Name, L, err)
			}
			var all passkey.Score
			for d := range docs {
				for c, s := range scores[d] {
					if s.Keys == 0 {
						continue
					}
					out = append(out, PasskeyResult{Variant: va.Name, Length: L, Class: className[c], Doc: d, Score: s})
					all.Digits, all.DigitsRight = all.Digits+s.Digits, all.DigitsRight+s.DigitsRight
					all.Keys, all.KeysRight = all.Keys+s.Keys, all.KeysRight+s.KeysRight
				}
			}
			if o.Progress != nil && all.Keys > 0 {
				fmt.Fprintf(o.Progress, "passkey %-14s L=%-6d digits %.3f  keys %.3f  (%d keys, %.1fs)\n", va.Name, L, all.DigitAccuracy(), all.KeyAccuracy(), all.Keys, time.Since(t0).Seconds())
			}
		}
	}
	return out, nil
}

// runPasskey scores the samples of one length under one variant into
// scores[doc][class], in batches of at most maxTokens tokens.
func runPasskey(ctx context.Context, be backend.Backend, cfg gau.Config, p *gau.Params, va Variant, L int, samples []passkeySample, maxTokens int, scores [][2]passkey.Score) (err error) {
	B := max(1, min(len(samples), maxTokens/L))
	var m *runner
	mB := 0
	defer func() {
		if m != nil {
			if cerr := m.close(); err == nil {
				err = cerr
			}
		}
	}()
	pred := make([]int, passkey.Digits)
	for start := 0; start < len(samples); start += B {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := samples[start:min(start+B, len(samples))]
		K := len(batch[0].pos)
		if m == nil || len(batch) != mB {
			if m != nil {
				if err := m.close(); err != nil {
					return err
				}
				m = nil
			}
			r, err := newRunner(be, cfg, p, gau.Options{Shape: gau.Shape{B: len(batch), L: L, M: len(batch) * K}, Policy: va.Policy})
			if err != nil {
				return err
			}
			m, mB = r, len(batch)
		}
		bt := &gau.Batch{}
		for b, s := range batch {
			bt.IDs = append(bt.IDs, s.ids...)
			for _, q := range s.pos {
				bt.Select = append(bt.Select, b*L+q)
			}
		}
		logits, err := m.run(bt)
		if err != nil {
			return err
		}
		V := cfg.VocabSize
		for b, s := range batch {
			for i := range s.pos {
				r := b*K + i
				pred[i] = argmax(logits[r*V : (r+1)*V])
			}
			scores[s.doc][s.class].Add(pred[:len(s.target)], s.target)
		}
	}
	return nil
}
