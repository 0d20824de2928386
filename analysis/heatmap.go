package analysis

import (
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/backend"
	"github.com/infoscale/gaualpha/study"
)

// qkMatrix returns the L×L matrix of dot products, row-major, with q_i·k_j
// at row i, column j (M[i·L+j]); q and k are [L, D].
func qkMatrix(q, k []float32, L, D int) []float64 {
	m := make([]float64, L*L)
	for i := 0; i < L; i++ {
		qi := q[i*D : (i+1)*D]
		for j := 0; j < L; j++ {
			kj := k[j*D : (j+1)*D]
			var s float64
			for c := range qi {
				s += float64(qi[c]) * float64(kj[c])
			}
			m[i*L+j] = s
		}
	}
	return m
}

// normalisePair maps the values of a and b, in place, to [0, 1] by their
// common minimum and maximum, which it returns. If all values are equal
// they become 0.
func normalisePair(a, b []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, m := range [][]float64{a, b} {
		for _, v := range m {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, m := range [][]float64{a, b} {
		for i, v := range m {
			if hi > lo {
				m[i] = (v - lo) / (hi - lo)
			} else {
				m[i] = 0
			}
		}
	}
	return lo, hi
}

// matrixStats summarises one q·k matrix (raw values).
type matrixStats struct {
	Min, Max, Mean, Std float64
	// Diag is the mean of the diagonal (i = j), Near of 1 <= |i-j| <= 16,
	// Far of |i-j| >= L/4.
	Diag, Near, Far float64
}

func statsOf(m []float64, L int) matrixStats {
	var all, diag, near, far moments
	s := matrixStats{Min: math.Inf(1), Max: math.Inf(-1)}
	for i := 0; i < L; i++ {
		for j := 0; j < L; j++ {
			v := m[i*L+j]
			s.Min, s.Max = math.Min(s.Min, v), math.Max(s.Max, v)
			all.add(v)
			switch d := abs(i - j); {
			case d == 0:
				diag.add(v)
			case d <= 16:
				near.add(v)
			}
			if 4*abs(i-j) >= L {
				far.add(v)
			}
		}
	}
	s.Mean, s.Std, s.Diag, s.Near, s.Far = all.mean, all.std(), diag.mean, near.mean, far.mean
	if near.n == 0 {
		s.Near = math.NaN()
	}
	if far.n == 0 {
		s.Far = math.NaN()
	}
	return s
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Heatmap is one model's q·k matrices of one layer on one document, before
// and after the rotation, normalised together to [0, 1].
type Heatmap struct {
	Model     Model
	L, Layer  int
	Pre, Post []float64 // L×L, row i = query, column j = key
	statsPre  matrixStats
	statsPost matrixStats
	lo, hi    float64
}

// HeatmapOf runs m on doc at length L under its own attention policy and
// returns layer l's q·k matrices before and after the rotation.
func HeatmapOf(be backend.Backend, m Model, doc []int, L, l int) (*Heatmap, error) {
	pol, err := m.Config.Policy("")
	if err != nil {
		return nil, err
	}
	p, err := NewProbe(be, m, pol, L)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	if err := p.Run(doc); err != nil {
		return nil, err
	}
	a, err := p.Layer(l)
	if err != nil {
		return nil, err
	}
	q, k, qr, kr, err := a.Vectors()
	if err != nil {
		return nil, fmt.Errorf("layer %d: %w", l, err)
	}
	D := m.Config.KeySize
	hm := &Heatmap{Model: m, L: L, Layer: l, Pre: qkMatrix(q, k, L, D), Post: qkMatrix(qr, kr, L, D)}
	hm.statsPre, hm.statsPost = statsOf(hm.Pre, L), statsOf(hm.Post, L)
	hm.lo, hm.hi = normalisePair(hm.Pre, hm.Post)
	return hm, nil
}

// Rows returns the rows of heatmap.csv: summary statistics of the raw
// matrices before and after the rotation.
func (m *Heatmap) Rows() []study.HeatmapRow {
	var rows []study.HeatmapRow
	for _, x := range []struct {
		name string
		s    matrixStats
	}{{"before", m.statsPre}, {"after", m.statsPost}} {
		rows = append(rows, study.HeatmapRow{Model: m.Model.Dir, CosScale: m.Model.Config.CosScale, Layer: m.Layer, Length: m.L, Rope: x.name,
			Min: x.s.Min, Max: x.s.Max, Mean: x.s.Mean, Std: x.s.Std, Diag: x.s.Diag, Near: x.s.Near, Far: x.s.Far, NormLo: m.lo, NormHi: m.hi})
	}
	return rows
}
