package analysis

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/study"
)

// EntropyLengths returns the lengths of the entropy analysis of m, sorted
// and without repeats: lengths, or n0, 2n0, ..., 64n0 when nil.
func EntropyLengths(m Model, lengths []int) []int {
	ls := slices.Clone(lengths)
	if len(ls) == 0 {
		for f := 1; f <= 64; f *= 2 {
			ls = append(ls, f*m.Config.TrainLength)
		}
	}
	slices.Sort(ls)
	return slices.Compact(ls)
}

// Norms parses a comma-separated list of normalisation names of m (see
// NormPolicy), case-insensitive, each once, in order; errors name -norm.
func Norms(m Model, list string) ([]string, error) {
	var ns []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" && !slices.Contains(ns, n) {
			if _, err := NormPolicy(m, n); err != nil {
				return nil, fmt.Errorf("-norm: %w", err)
			}
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("-norm: no normalisation given")
	}
	return ns, nil
}

// NormPolicy returns the model's attention policy under a normalisation
// name: an attn.Norm name, or eval.NormPlusN0 (softmax_plus with base n0,
// the model's training length: factor ln(n)/ln(n0)), or
// eval.NormInfoVisible for a masking method.
func NormPolicy(m Model, norm string) (attn.Policy, error) {
	pol, ok, err := eval.NormPolicy(m.Config, norm)
	if err == nil && !ok {
		err = fmt.Errorf("normalisation %s does not apply to %s, which keeps every pair", norm, m.Config.Method)
	}
	return pol, err
}

// Entropy runs m under each normalisation at each length on every document
// (no token masked, every row a query) and returns the attention entropy
// per layer and pooled over layers (entropy.csv), and per document pooled
// over layers (entropy_docs.csv). progress receives a line per
// normalisation and length.
func Entropy(be backend.Backend, m Model, docs [][]int, norms []string, lengths []int, progress io.Writer) ([]study.EntropyRow, []study.EntropyDocRow, error) {
	var rows []study.EntropyRow
	var perDoc []study.EntropyDocRow
	nl := m.Config.NumLayers
	for _, norm := range norms {
		pol, err := NormPolicy(m, norm)
		if err != nil {
			return nil, nil, err
		}
		for _, L := range lengths {
			fmt.Fprintf(progress, "entropy: %s, length %d\n", norm, L)
			acc, docRows, err := entropyAt(be, m, pol, docs, L)
			if err != nil {
				return nil, nil, fmt.Errorf("%s at length %d: %w", norm, L, err)
			}
			for d, one := range docRows {
				perDoc = append(perDoc, study.EntropyDocRow{Norm: norm, Length: L, Doc: d, Mean: one.mean, Rows: one.n})
			}
			for l, a := range acc {
				layer := study.Layer(l)
				if l == nl {
					layer = study.AllLayers
				}
				rows = append(rows, study.EntropyRow{Norm: norm, Layer: layer, Length: L, Mean: a.mean, Std: a.std(), Rows: a.n, LnN: math.Log(float64(L))})
			}
		}
	}
	return rows, perDoc, nil
}

// entropyAt accumulates the row entropies of every layer (then all layers)
// and of every document at one length.
func entropyAt(be backend.Backend, m Model, pol attn.Policy, docs [][]int, L int) (acc, perDoc []moments, err error) {
	p, err := NewProbe(be, m, pol, L)
	if err != nil {
		return nil, nil, err
	}
	defer p.Close()
	nl := p.Layers()
	acc = make([]moments, nl+1)
	for d, doc := range docs {
		if err := p.Run(doc); err != nil {
			return nil, nil, fmt.Errorf("document %d: %w", d, err)
		}
		var one moments
		for l := range nl {
			h, _, err := p.layerRows(l, nil)
			if err != nil {
				return nil, nil, fmt.Errorf("document %d: %w", d, err)
			}
			for _, x := range h {
				acc[l].add(x)
				acc[nl].add(x)
				one.add(x)
			}
		}
		perDoc = append(perDoc, one)
	}
	for l := range nl {
		if acc[l].n == 0 {
			return nil, nil, fmt.Errorf("layer %d has no attention rows", l)
		}
	}
	return acc, perDoc, nil
}

// EntropyTable renders the means pooled over layers as a Markdown table.
func EntropyTable(rows []study.EntropyRow, norms []string, lengths []int) string {
	var sb strings.Builder
	sb.WriteString("Mean attention entropy per row (nats), all layers:\n\n| n | ln n |")
	for _, n := range norms {
		fmt.Fprintf(&sb, " %s |", n)
	}
	sb.WriteString("\n|---:|---:|")
	for range norms {
		sb.WriteString("---:|")
	}
	sb.WriteString("\n")
	for _, L := range lengths {
		fmt.Fprintf(&sb, "| %d | %.3f |", L, math.Log(float64(L)))
		for _, n := range norms {
			for _, s := range rows {
				if s.Norm == n && s.Layer == study.AllLayers && s.Length == L {
					fmt.Fprintf(&sb, " %.3f |", s.Mean)
				}
			}
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\n")
	return sb.String()
}
