package gau

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/graph"
)

// poolBytes replays two runs of m's plan the way graph.Machine allocates:
// a step writes over a dying argument when the plan allows it, else takes a
// free buffer of its dtype and shape from the pool, else allocates one; a
// released value, and at the next run every output, returns to the pool.
// It returns the bytes allocated in all.
func poolBytes(t *testing.T, m *Model) int64 {
	t.Helper()
	plan, err := graph.NewPlan(m.Graph, m.Outputs()...)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		dt    tensor.Dtype
		shape string
	}
	keyOf := func(n *G.Node) key { return key{n.Dtype(), fmt.Sprint(n.Shape())} }
	size := func(n *G.Node) int64 { return int64(n.Shape().TotalSize()) * int64(n.Dtype().Size()) }
	free := map[key]int{}
	held := map[*G.Node]bool{}
	var total int64
	for range 2 {
		for n := range held {
			free[keyOf(n)]++
		}
		clear(held)
		for _, st := range plan.Steps {
			var reused *G.Node
			if len(st.InPlace) > 0 {
				reused = st.InPlace[0]
				delete(held, reused)
			} else if k := keyOf(st.Node); free[k] > 0 {
				free[k]--
			} else {
				total += size(st.Node)
			}
			held[st.Node] = true
			for _, r := range st.Release {
				if r != reused {
					delete(held, r)
					free[keyOf(r)]++
				}
			}
		}
	}
	return total
}

func TestEstimateTrainingMatchesPlan(t *testing.T) {
	small := DefaultConfig()
	small.VocabSize = 500
	deep := DefaultConfig()
	deep.VocabSize, deep.NumLayers, deep.HiddenSize, deep.IntermediateSize, deep.KeySize = 300, 5, 48, 80, 16
	rerope := small
	rerope.Method, rerope.ReRoPEWindow = "rerope", 16
	cases := []struct {
		name string
		cfg  Config
		s    Shape
	}{
		{"default B2 L64", small, Shape{B: 2, L: 64, M: 20}},
		{"default B3 L200", small, Shape{B: 3, L: 200, M: 90}},
		{"deep B4 L96", deep, Shape{B: 4, L: 96, M: 60}},
		{"rerope B2 L128", rerope, Shape{B: 2, L: 128, M: 40}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := InitParams(c.cfg, tensor.Float32, rand.New(rand.NewPCG(1, 2)))
			pol, err := c.cfg.Policy("")
			if err != nil {
				t.Fatal(err)
			}
			tr, err := Build(c.cfg, p, Options{Shape: c.s, Policy: pol, Train: true, Loss: true, Grad: true})
			if err != nil {
				t.Fatal(err)
			}
			va, err := Build(c.cfg, p, Options{Shape: c.s, Policy: pol, Loss: true})
			if err != nil {
				t.Fatal(err)
			}
			noVal := EstimateTraining(c.cfg, c.s, 0, 0, 1)
			withVal := EstimateTraining(c.cfg, c.s, c.s.B, c.s.B, 1)
			h, V := int64(c.cfg.HiddenSize), int64(c.cfg.VocabSize)
			// The training pool holds the parameter gradients, which the
			// estimate counts under Weights (with the tied embedding's
			// second gradient): P + V·h floats of the 5P + V·h.
			P := int64(p.Count())
			gotTrain := noVal.Activations + 4*(P+V*h)
			gotVal := withVal.Activations - noVal.Activations
			for _, r := range []struct {
				what      string
				est, pool int64
			}{{"training graph", gotTrain, poolBytes(t, tr)}, {"validation graph", gotVal, poolBytes(t, va)}} {
				ratio := float64(r.est) / float64(r.pool)
				t.Logf("%s: estimate %d, simulated pool %d bytes (ratio %.3f)", r.what, r.est, r.pool, ratio)
				if ratio < 1 || ratio > 1.1 {
					t.Errorf("%s: estimate %d bytes is %.3f times the simulated pool %d (want 1 to 1.1)", r.what, r.est, ratio, r.pool)
				}
			}
		})
	}
}

func TestEstimateTrainingParts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.VocabSize = 1000
	s := Shape{B: 8, L: 128, M: 8 * 19}
	m := EstimateTraining(cfg, s, 8, 40, 2)
	// Weights: 5P + V·h float32, with P counted from the parameter shapes.
	var P int64
	for _, ps := range cfg.Shapes() {
		P += int64(ps.Shape.TotalSize())
	}
	if want := 4 * (5*P + int64(cfg.VocabSize*cfg.HiddenSize)); m.Weights != want {
		t.Errorf("weights %d, want %d", m.Weights, want)
	}
	if m.Total() != m.Weights+m.Activations+m.Workspace+m.Inputs || m.Host() != m.Weights+m.Inputs {
		t.Errorf("total %d or host %d is not the sum of its parts %+v", m.Total(), m.Host(), m)
	}
	// Doubling the length doubles everything that is per row.
	m2 := EstimateTraining(cfg, Shape{B: 8, L: 256, M: 2 * s.M}, 8, 40, 2)
	if m2.Weights != m.Weights {
		t.Errorf("weights depend on the length: %d vs %d", m2.Weights, m.Weights)
	}
	if r := float64(m2.Activations) / float64(m.Activations); r < 1.95 || r > 2 {
		t.Errorf("activations grow %.3f times for twice the length, want about 2", r)
	}
	// More threads, more workspace (one dq per thread).
	if m4 := EstimateTraining(cfg, s, 8, 40, 4); m4.Workspace <= m.Workspace {
		t.Errorf("workspace with 4 threads %d not above 2 threads' %d", m4.Workspace, m.Workspace)
	}
}

func TestEstimateTrainingSaturates(t *testing.T) {
	cfg := DefaultConfig()
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize = 1<<40, 1<<40, 1<<40
	m := EstimateTraining(cfg, Shape{B: 1 << 40, L: 1 << 40, M: 1 << 40}, 1<<40, 1<<40, 1<<20)
	if m.Total() != math.MaxInt64 || m.Weights != math.MaxInt64 {
		t.Errorf("absurd sizes: total %d, weights %d, want saturation at %d", m.Total(), m.Weights, int64(math.MaxInt64))
	}
}
