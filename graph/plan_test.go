package graph

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The plan of a graph with gradients: every computed value that is not an
// output is released exactly once, after its last reader; leaves and
// outputs never are; Gorgonia's gradient sums are recognised and may run
// in place.
func TestPlanLiveness(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	b := NewBuilder()
	x := b.Input("x", tensor.Float64, tensor.Shape{6, 4}, randDense(rng, 6, 4))
	w := b.Input("w", tensor.Float64, tensor.Shape{4, 4}, randDense(rng, 4, 4))
	h := b.Swish(b.Linear(x, w))
	y := b.Add(b.Norm(h), h) // h has two readers: its gradient is a Gorgonia sum
	cost := b.CrossEntropy(b.Linear(y, w), b.Input("t", tensor.Int, tensor.Shape{6}, intDense(0, 1, 2, 3, -1, 1)))
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	grads, err := G.Grad(cost, x, w)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(b.G, append(G.Nodes{cost}, grads...)...)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[*G.Node]int{}
	for i, s := range p.Steps {
		pos[s.Node] = i
	}
	released := map[*G.Node]int{}
	adds := 0
	for i, s := range p.Steps {
		for _, a := range s.Args {
			if j, ok := pos[a]; ok && j >= i {
				t.Fatalf("step %d (%v) reads %v, computed later", i, s.Node.Op(), a)
			}
		}
		if IsGorgoniaAdd(s.Node) {
			adds++
			if len(s.InPlace) == 0 && len(s.Release) > 0 {
				t.Errorf("gradient sum %v releases %v but may not write over it", s.Node, s.Release)
			}
		}
		for _, r := range s.Release {
			if _, ok := pos[r]; !ok {
				t.Errorf("step %d releases the leaf %v", i, r)
			}
			if p.IsOutput(r) {
				t.Errorf("step %d releases the output %v", i, r)
			}
			released[r]++
			for _, s2 := range p.Steps[i+1:] {
				for _, a := range s2.Args {
					if a == r {
						t.Errorf("%v is released at step %d but read later by %v", r, i, s2.Node.Op())
					}
				}
			}
		}
	}
	if adds == 0 {
		t.Error("no Gorgonia gradient sum recognised")
	}
	for _, s := range p.Steps {
		if n := released[s.Node]; p.IsOutput(s.Node) && n != 0 || !p.IsOutput(s.Node) && n != 1 {
			t.Errorf("%v released %d times (output: %v)", s.Node.Op(), n, p.IsOutput(s.Node))
		}
	}
	if len(p.Leaves) != 4 {
		t.Errorf("%d leaves, want x, w, t and the constant 1: %v", len(p.Leaves), p.Leaves)
	}
}

// IsGorgoniaAdd recognises Gorgonia's additions by their op, not by name:
// other elementwise binary ops of the same shapes, and this package's own
// AddOp, are not gradient sums.
func TestIsGorgoniaAddIsStructural(t *testing.T) {
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("x"))
	y := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 3), G.WithName("y"))
	v := G.NewVector(g, tensor.Float32, G.WithShape(3), G.WithName("v"))
	must := func(n *G.Node, err error) *G.Node {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		name string
		n    *G.Node
		want bool
	}{
		{"G.Add", must(G.Add(x, y)), true},
		{"G.Sub", must(G.Sub(x, y)), false},
		{"G.HadamardProd", must(G.HadamardProd(x, y)), false},
		// A broadcast addition is G.Add's op over two broadcast operands
		// of one shape: the same elementwise sum, run the same way.
		{"G.BroadcastAdd", must(G.BroadcastAdd(x, v, nil, []byte{0})), true},
		{"AddOp", must(G.ApplyOp(AddOp{}, x, y)), false},
	} {
		if got := IsGorgoniaAdd(c.n); got != c.want {
			t.Errorf("%s: IsGorgoniaAdd = %v, want %v", c.name, got, c.want)
		}
	}
}
