package graph

import (
	"fmt"
	"reflect"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Plan is how an executor runs the part of a graph that some outputs
// depend on: the op nodes in topological order with their arguments, when
// each computed value dies, and where a result may be written over a dying
// argument. Machine (the CPU) and the device executor of package
// gpu/graphexec both execute a Plan, so they run the same nodes in the same
// order with the same buffer lifetimes.
//
// A Plan holds no values; it is read-only once built.
type Plan struct {
	// Steps are the op nodes with inputs, children before parents.
	Steps []Step
	// Outputs are the requested output nodes; their values outlive a run.
	Outputs []*G.Node
	// Leaves are the nodes read by some step that are not computed by one:
	// inputs and Gorgonia's constants (ops without arguments), whose values
	// are bound to the node. In order of first use.
	Leaves []*G.Node

	isOut map[*G.Node]bool
}

// Step is one op node of a Plan.
type Step struct {
	// Node is the op node; Node.Op() is the op.
	Node *G.Node
	// Args are the node's arguments in the op's order.
	Args []*G.Node
	// Release lists the computed values (of earlier steps) whose last
	// reader is this step and that are not outputs, in argument order: an
	// executor frees (pools) them after the step, or gives one to the
	// step's result (InPlace).
	Release []*G.Node
	// InPlace lists the released arguments the step may write its result
	// over, in preference order: those of the node's dtype and shape, when
	// the op is elementwise or row-wise (see IsElementwise) or one of
	// Gorgonia's gradient sums (IsGorgoniaAdd).
	InPlace []*G.Node
	// GradSum marks one of Gorgonia's gradient sums (IsGorgoniaAdd),
	// which executors run as AddOp.
	GradSum bool
}

// NewPlan plans the execution of everything outputs depend on.
func NewPlan(g *G.ExprGraph, outputs ...*G.Node) (*Plan, error) {
	p := &Plan{Outputs: outputs, isOut: make(map[*G.Node]bool)}
	for _, o := range outputs {
		if o == nil {
			return nil, fmt.Errorf("machine: nil output node")
		}
		p.isOut[o] = true
	}
	// Post-order depth-first search from the outputs: children first.
	state := make(map[*G.Node]int) // 1 visiting, 2 done
	stepped := make(map[*G.Node]bool)
	leaf := make(map[*G.Node]bool)
	var visit func(n *G.Node) error
	visit = func(n *G.Node) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("machine: cycle through node %v", n)
		case 2:
			return nil
		}
		state[n] = 1
		if n.Op() != nil {
			var args []*G.Node
			it := g.From(n.ID())
			for it.Next() {
				c := it.Node().(*G.Node)
				args = append(args, c)
				if err := visit(c); err != nil {
					return err
				}
			}
			// Ops without inputs are Gorgonia's constants: leaves with a
			// bound value, like inputs.
			if len(args) > 0 {
				p.Steps = append(p.Steps, Step{Node: n, Args: args})
				stepped[n] = true
			}
		}
		state[n] = 2
		return nil
	}
	for _, o := range outputs {
		if err := visit(o); err != nil {
			return nil, err
		}
	}
	// Leaves, and liveness: the last step reading each computed value.
	last := make(map[*G.Node]int)
	for i, s := range p.Steps {
		for _, a := range s.Args {
			if stepped[a] {
				last[a] = i
			} else if !leaf[a] {
				leaf[a] = true
				p.Leaves = append(p.Leaves, a)
			}
		}
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		s.GradSum = IsGorgoniaAdd(s.Node)
		inPlace := IsElementwise(s.Node.Op()) || s.GradSum
		for j, a := range s.Args {
			if !stepped[a] || last[a] != i || p.isOut[a] || dup(s.Args[:j], a) {
				continue
			}
			s.Release = append(s.Release, a)
			if inPlace && a.Dtype() == s.Node.Dtype() && a.Shape().Eq(s.Node.Shape()) {
				s.InPlace = append(s.InPlace, a)
			}
		}
	}
	return p, nil
}

func dup(ns []*G.Node, n *G.Node) bool {
	for _, m := range ns {
		if m == n {
			return true
		}
	}
	return false
}

// IsOutput reports whether n is one of the plan's outputs.
func (p *Plan) IsOutput(n *G.Node) bool { return p.isOut[n] }

// IsElementwise reports whether op's output may overwrite a same-shaped
// input: every output element depends only on the same element (or row) of
// the inputs, so the op runs correctly in place. SwishOp, SwishGradOp,
// NormOp, NormGradOp, AddOp and DropoutOp are.
func IsElementwise(op G.Op) bool {
	_, ok := op.(elementwiseOp)
	return ok
}

// IsGorgoniaAdd reports whether n is an elementwise addition of Gorgonia's
// own, such as those G.Grad inserts to sum the gradients of a node with
// several readers: two float arguments of n's dtype and shape, and an op
// equal to the one G.Add builds for such arguments. Executors run them as AddOp, in
// place (Step.GradSum).
func IsGorgoniaAdd(n *G.Node) bool {
	op := n.Op()
	if op == nil {
		return false
	}
	if _, ours := op.(AddOp); ours {
		return false
	}
	g := n.Graph()
	if g == nil || !isFloat(n.Dtype()) || len(n.Shape()) == 0 {
		return false
	}
	var args []*G.Node
	it := g.From(n.ID())
	for it.Next() {
		args = append(args, it.Node().(*G.Node))
	}
	if len(args) != 2 {
		return false
	}
	for _, a := range args {
		if a.Dtype() != n.Dtype() || !a.Shape().Eq(n.Shape()) {
			return false
		}
	}
	ref, err := gorgoniaAddOp(n.Dtype(), n.Shape())
	return err == nil && reflect.DeepEqual(ref, op)
}

// gorgoniaAddOp returns the op G.Add builds for two tensors of one dtype
// and shape, from a scratch graph.
func gorgoniaAddOp(dt tensor.Dtype, s tensor.Shape) (G.Op, error) {
	g := G.NewGraph()
	mk := func(name string) *G.Node {
		return G.NewTensor(g, dt, len(s), G.WithShape(s.Clone()...), G.WithName(name))
	}
	sum, err := G.Add(mk("a"), mk("b"))
	if err != nil {
		return nil, err
	}
	return sum.Op(), nil
}
