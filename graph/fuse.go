package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/kernels/cpu"
)

// runStep is what Machine does at one step of its plan: run the step's op,
// run a fused kernel in place of several steps, or nothing (the step is
// part of a later fused kernel). Its arguments and the values it releases
// are the plan's, except around fusions, whose inputs must live until the
// fused kernel runs.
type runStep struct {
	skip    bool
	fused   *fusion
	args    []*G.Node
	release []*G.Node
	inPlace []*G.Node
}

// fusion is a chain of steps run as one kernel at its last step.
type fusion struct {
	name string
	args []*G.Node
	// inPlace are the arguments the output may be written over when they
	// die at the fused step.
	inPlace []*G.Node
	run     func(buf G.Value, ins []G.Value) (G.Value, error)
}

// schedule returns Machine's steps for plan p: with fusions, or the plan's
// steps one by one (unfused).
func schedule(p *Plan, fuse bool) []runStep {
	run := make([]runStep, len(p.Steps))
	for i, s := range p.Steps {
		run[i].args = s.Args
	}
	if fuse {
		fuseGatedSwishGrad(p, run)
	}
	// Liveness of the effective arguments: a computed value dies after its
	// last reader (outputs never do).
	index := make(map[*G.Node]int, len(p.Steps))
	for i, s := range p.Steps {
		index[s.Node] = i
	}
	last := make(map[*G.Node]int)
	for i := range run {
		if run[i].skip {
			continue
		}
		for _, a := range run[i].args {
			if _, computed := index[a]; computed {
				last[a] = i
			}
		}
	}
	for i := range run {
		r := &run[i]
		if r.skip {
			continue
		}
		elementwise := IsElementwise(p.Steps[i].Node.Op()) || p.Steps[i].GradSum
		node := p.Steps[i].Node
		for j, a := range r.args {
			if _, computed := index[a]; !computed || last[a] != i || p.IsOutput(a) || dup(r.args[:j], a) {
				continue
			}
			r.release = append(r.release, a)
			sameKind := a.Dtype() == node.Dtype() && a.Shape().Eq(node.Shape())
			switch {
			case r.fused != nil:
				if sameKind && contains(r.fused.inPlace, a) {
					r.inPlace = append(r.inPlace, a)
				}
			case elementwise && sameKind:
				r.inPlace = append(r.inPlace, a)
			}
		}
	}
	return run
}

func contains(ns []*G.Node, n *G.Node) bool {
	for _, m := range ns {
		if m == n {
			return true
		}
	}
	return false
}

// readers counts the steps reading each node (a node read twice by one
// step counts twice).
func readers(p *Plan) map[*G.Node]int {
	n := make(map[*G.Node]int)
	for _, s := range p.Steps {
		for _, a := range s.Args {
			n[a]++
		}
	}
	return n
}

// fuseGatedSwishGrad finds, in a training graph's backward pass, the
// gradient of each layer's swish output X = [u | v | z]: X has two
// readers, the gate and the attention, so its gradient is
//
//	gx  = GateGradX(A, dY, X)           dY ⊙ O in the u columns, 0 elsewhere
//	dxa = Unpack(AttentionGrad(...))    the attention's dX, 0 in the u columns
//	sum = gx + dxa                      (Gorgonia's gradient sum)
//	dpre = SwishGrad(pre, sum)
//
// four passes over [B·L, 2e+d] matrices, three of them written. It runs
// them as cpu.GatedSwishGrad at the SwishGrad step: one pass, gx, dxa and
// sum never stored, dpre the same up to the sign of its zeros, and so the
// products that read it (the model's only readers of dpre) the same bits.
func fuseGatedSwishGrad(p *Plan, run []runStep) {
	index := make(map[*G.Node]int, len(p.Steps))
	for i, s := range p.Steps {
		index[s.Node] = i
	}
	nread := readers(p)
	single := func(n *G.Node) (int, bool) {
		i, ok := index[n]
		return i, ok && nread[n] == 1 && !p.IsOutput(n) && !run[i].skip && run[i].fused == nil
	}
	for si, s := range p.Steps {
		if _, ok := s.Node.Op().(SwishGradOp); !ok || len(s.Args) != 2 {
			continue
		}
		pre, sum := s.Args[0], s.Args[1]
		gi, ok := single(sum)
		if !ok || len(p.Steps[gi].Args) != 2 {
			continue
		}
		if _, add := p.Steps[gi].Node.Op().(AddOp); !add && !p.Steps[gi].GradSum {
			continue
		}
		// The two terms, in either order.
		xi, ui := -1, -1
		for _, t := range p.Steps[gi].Args {
			i, ok := single(t)
			if !ok {
				continue
			}
			switch op := p.Steps[i].Node.Op().(type) {
			case GateGradOp:
				if op.WRT == 0 {
					xi = i
				}
			case UnpackOp:
				if op.Row == 0 && !op.Vector {
					ui = i
				}
			}
		}
		if xi < 0 || ui < 0 || xi == ui {
			continue
		}
		gate := p.Steps[xi].Node.Op().(GateGradOp)
		unpack := p.Steps[ui].Node.Op().(UnpackOp)
		o, dy := p.Steps[xi].Args[0], p.Steps[xi].Args[1]
		packed := p.Steps[ui].Args[0]
		shape := s.Node.Shape()
		if len(shape) != 2 || !pre.Shape().Eq(shape) || !sum.Shape().Eq(shape) ||
			unpack.Rows != shape[0] || unpack.Cols != shape[1] ||
			len(o.Shape()) != 2 || o.Shape()[0] != shape[0] || o.Shape()[1] < gate.E ||
			!dy.Shape().Eq(tensor.Shape{shape[0], gate.E}) ||
			len(packed.Shape()) != 2 || packed.Shape()[1] != shape[1] || packed.Shape()[0] < shape[0] {
			continue
		}
		e, xw, ow := gate.E, shape[1], o.Shape()[1]
		run[xi].skip, run[ui].skip, run[gi].skip = true, true, true
		f := &fusion{
			name:    fmt.Sprintf("GatedSwishGrad(E=%d) [GateGrad(wrt=0), Unpack, Add, SwishGrad]", e),
			args:    []*G.Node{pre, o, dy, packed},
			inPlace: []*G.Node{pre},
			run: func(buf G.Value, ins []G.Value) (G.Value, error) {
				return gatedSwishGrad(buf, ins, e, xw, ow, shape)
			},
		}
		run[si].fused = f
		run[si].args = f.args
	}
}

// gatedSwishGrad runs cpu.GatedSwishGrad on (pre, o, dy, packed) into buf.
func gatedSwishGrad(buf G.Value, ins []G.Value, e, xw, ow int, shape tensor.Shape) (G.Value, error) {
	var t [4]*tensor.Dense
	for i := range t {
		d, err := dense(fusedName, i, ins[i])
		if err != nil {
			return nil, err
		}
		t[i] = d
	}
	rows := shape[0]
	out := outTensorElementwise(buf, t[0].Dtype(), shape, ins...)
	switch t[0].Dtype() {
	case tensor.Float32:
		cpu.GatedSwishGrad(data[float32](out), data[float32](t[0]), data[float32](t[1]), data[float32](t[2])[:rows*e], data[float32](t[3]), e, xw, ow)
	case tensor.Float64:
		cpu.GatedSwishGrad(data[float64](out), data[float64](t[0]), data[float64](t[1]), data[float64](t[2])[:rows*e], data[float64](t[3]), e, xw, ow)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", fusedName, t[0].Dtype())
	}
	return out, nil
}

// fusedName names the fused kernels in errors.
type fusedKernel string

func (f fusedKernel) String() string { return string(f) }

const fusedName = fusedKernel("GatedSwishGrad")
