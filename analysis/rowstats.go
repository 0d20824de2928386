package analysis

import (
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/kernels/cpu"
)

// rowStats returns, for every query row of the attention a, the entropy of
// its attention distribution, H_i = -Σ_j p_ij ln p_ij, and the share of its
// attention mass on keys within distance band (|i-j| <= band), given the
// forward output out (whose last column holds the row log-sum-exp).
// Dropout is ignored (the analyses look at the distribution itself). It
// reads the kernel's logits block by block (cpu.Attention.LogitBlocks), so
// it never holds an L×L matrix. Padding rows get NaN.
func rowStats[T cpu.Float](a *cpu.Attention[T], out []T, band int) (entropy, mass []float64, err error) {
	if a.Gated {
		return nil, nil, fmt.Errorf("attention stats: need the ungated forward output (Gated is set)")
	}
	B, L, E, OW := a.B, a.L, a.E, a.OutWidth()
	if len(out) < B*L*OW {
		return nil, nil, fmt.Errorf("attention stats: output has %d elements, want %d", len(out), B*L*OW)
	}
	entropy = make([]float64, B*L)
	mass = make([]float64, B*L)
	// Each block's rows belong to one goroutine: the sums need no lock.
	err = a.LogitBlocks(func(lb *cpu.LogitBlock[T]) error {
		for r := 0; r < lb.I1-lb.I0; r++ {
			row := lb.B*L + lb.I0 + r
			lse := float64(out[row*OW+E])
			for c := 0; c < lb.J1-lb.J0; c++ {
				v, ok := lb.At(r, c)
				if !ok {
					continue
				}
				logp := float64(v) - lse
				pr := math.Exp(logp)
				entropy[row] -= pr * logp
				if d := lb.I0 + r - (lb.J0 + c); d <= band && -d <= band {
					mass[row] += pr
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for i := range entropy {
		if a.Mask != nil && a.Mask[i] == 0 {
			entropy[i], mass[i] = math.NaN(), math.NaN()
		}
	}
	return entropy, mass, nil
}

// layerRows returns, from layer l of the probe's last run, every query
// row's attention entropy and its mass within each half-width of widths
// (mass[k][row]). A row whose statistics are not finite is an error naming
// the layer and the row.
func (p *Probe) layerRows(l int, widths []int) (entropy []float64, mass [][]float64, err error) {
	a, out, err := p.Attention(l)
	if err != nil {
		return nil, nil, err
	}
	for k, w := range widths {
		h, m, err := rowStats(a, out, w)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %d: %w", l, err)
		}
		if k == 0 {
			entropy = h
		}
		mass = append(mass, m)
	}
	if len(widths) == 0 {
		if entropy, _, err = rowStats(a, out, 0); err != nil {
			return nil, nil, fmt.Errorf("layer %d: %w", l, err)
		}
	}
	for i := range entropy {
		if a.Mask != nil && a.Mask[i] == 0 {
			continue
		}
		if !finite(entropy[i]) {
			return nil, nil, fmt.Errorf("layer %d: the attention row of query %d is not finite (entropy %v)", l, i, entropy[i])
		}
		for k := range mass {
			if !finite(mass[k][i]) {
				return nil, nil, fmt.Errorf("layer %d: the attention row of query %d is not finite (mass within ±%d: %v)", l, i, widths[k], mass[k][i])
			}
		}
	}
	return entropy, mass, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
