package eval

import (
	"fmt"
	"strings"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/gau"
)

// The normalisations that the baseline suite and the analyses compare
// beyond attn's three names.
const (
	// NormPlusN0 is softmax_plus with base n0, the model's training
	// length: factor ln(n)/ln(n0), 1 at n0.
	NormPlusN0 = "softmax_plus_n0"
	// NormInfoVisible is InfoScale with n the keys an interior row of a
	// masking method keeps (attn.Policy.VisibleKeys); it applies to those
	// methods only.
	NormInfoVisible = "infoscale_visible"
)

// NormPolicy returns cfg's attention policy under a normalisation name: an
// attn.Norm name, NormPlusN0 or NormInfoVisible. ok is false when the name
// does not apply (NormInfoVisible with a method that keeps every pair).
func NormPolicy(cfg gau.Config, name string) (pol attn.Policy, ok bool, err error) {
	base := name
	switch name {
	case NormPlusN0:
		base = "softmax_plus"
	case NormInfoVisible:
		base = "infoscale"
	}
	if _, err := attn.ParseNorm(base); err != nil {
		return attn.Policy{}, false, err
	}
	if pol, err = cfg.Policy(base); err != nil {
		return attn.Policy{}, false, err
	}
	switch name {
	case NormPlusN0:
		pol.Base = float64(cfg.TrainLength)
	case NormInfoVisible:
		if !pol.Masked() {
			return attn.Policy{}, false, nil
		}
		pol.VisibleKeys = true
	}
	if err := pol.Validate(); err != nil {
		return attn.Policy{}, false, fmt.Errorf("normalisation %s: %w", name, err)
	}
	return pol, true, nil
}

// NormVariants returns the evaluation variants of cfg for normalisation
// names (NormPolicy's), leaving out those that do not apply, and the name
// of each. A variant's name is the normalisation's, prefixed with the
// method unless it is plain RoPE.
func NormVariants(cfg gau.Config, norms []string) ([]Variant, []string, error) {
	var vs []Variant
	var names []string
	for _, n := range norms {
		n = strings.TrimSpace(n)
		pol, ok, err := NormPolicy(cfg, n)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		name := n
		if pol.Method != attn.RoPE {
			name = pol.Method.String() + "+" + n
		}
		vs = append(vs, Variant{Name: name, Policy: pol})
		names = append(names, n)
	}
	return vs, names, nil
}
