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

// fusion is a group of steps run as one kernel at one of them.
type fusion struct {
	name string
	args []*G.Node
	// inPlace are the arguments the output may be written over when they
	// die at the fused step.
	inPlace []*G.Node
	// extra are the nodes of skipped steps whose values the kernel also
	// writes (into buffers the executor gives it, in this order).
	extra []*G.Node
	run   func(buf G.Value, extra, ins []G.Value) (G.Value, error)
}

// schedule returns Machine's steps for plan p: with fusions, or the plan's
// steps one by one (unfused). The fused kernels read m's settings
// (bfloat16 attention) when they run.
func schedule(p *Plan, fuse bool, m *Machine) []runStep {
	run := make([]runStep, len(p.Steps))
	for i, s := range p.Steps {
		run[i].args = s.Args
	}
	if fuse {
		uUnread := fuseGatedSwishGrad(p, run)
		fuseAttentionGate(p, run, m)
		fuseAttentionGrad(p, run, m, uUnread)
		fuseDropoutAddNorm(p, run)
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
// It returns the packed attention gradients it reads, each with the fused
// kernel reading it: that kernel never reads their u columns (the first
// e, where dxa is 0).
func fuseGatedSwishGrad(p *Plan, run []runStep) map[*G.Node]*fusion {
	uUnread := make(map[*G.Node]*fusion)
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
			run: func(buf G.Value, _, ins []G.Value) (G.Value, error) {
				return gatedSwishGrad(buf, ins, e, xw, ow, shape)
			},
		}
		run[si].fused = f
		run[si].args = f.args
		uUnread[packed] = f
	}
	return uUnread
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

// fuseAttentionGate runs each training layer's gate, Y = u ⊙ O (GateOp on
// X and the attention's output), inside the attention forward at the
// attention's step, while O's rows are in cache: the attention kernel
// writes Y beside its output (cpu.Attention.GateOut), with Gate's bits.
func fuseAttentionGate(p *Plan, run []runStep, m *Machine) {
	index := make(map[*G.Node]int, len(p.Steps))
	for i, s := range p.Steps {
		index[s.Node] = i
	}
	for gi, s := range p.Steps {
		gate, ok := s.Node.Op().(GateOp)
		if !ok || len(s.Args) != 2 || run[gi].skip || run[gi].fused != nil {
			continue
		}
		ai, ok := index[s.Args[1]]
		if !ok || ai > gi || run[ai].skip || run[ai].fused != nil {
			continue
		}
		att, ok := p.Steps[ai].Node.Op().(AttentionOp)
		if !ok || att.Gated || att.E != gate.E || p.Steps[ai].Args[0] != s.Args[0] {
			continue
		}
		run[gi].skip = true
		run[ai].fused = &fusion{
			name:  fmt.Sprintf("Attention+Gate(E=%d)", att.E),
			args:  p.Steps[ai].Args,
			extra: []*G.Node{s.Node},
			run: func(buf G.Value, extra, ins []G.Value) (G.Value, error) {
				// The machine's precision as it is now (it may change
				// between runs).
				return att.runWithGate(&m.work, m.BF16 && !m.FloatAttention, buf, extra[0], ins)
			},
		}
	}
}

// fuseAttentionGrad changes two things in each training layer's attention
// backward (AttentionGradOp), where the graph allows:
//
//   - its input dO = GateGrad(wrt=1)(X, dY, O), the gradient through the
//     gate Y = u⊙O ([B·L, E+1], dY⊙u and a zero column), when the op is
//     its only reader: the kernel takes dY and forms dY⊙u row by row
//     (cpu.Attention.BackwardGated, GateGrad's bits), so the GateGrad step
//     and its matrix go;
//   - the u columns of its dX, which are zero, are not written when no
//     step reads them (uUnread: the fused GatedSwishGrad reads the v and
//     z columns only, the γ gradients' Unpacks their own rows).
func fuseAttentionGrad(p *Plan, run []runStep, m *Machine, uUnread map[*G.Node]*fusion) {
	index := make(map[*G.Node]int, len(p.Steps))
	for i, s := range p.Steps {
		index[s.Node] = i
	}
	nread := readers(p)
	for si, s := range p.Steps {
		op, ok := s.Node.Op().(AttentionGradOp)
		if !ok || len(s.Args) != 8 || run[si].skip || run[si].fused != nil {
			continue
		}
		var mode attGradMode
		args := append([]*G.Node(nil), s.Args...)
		if gi, ok := index[s.Args[7]]; ok && nread[s.Args[7]] == 1 && !p.IsOutput(s.Args[7]) && !run[gi].skip && run[gi].fused == nil {
			g, isGate := p.Steps[gi].Node.Op().(GateGradOp)
			ga := p.Steps[gi].Args
			if isGate && g.WRT == 1 && g.E == op.Fwd.E && len(ga) == 3 && ga[0] == s.Args[0] && ga[2] == s.Args[6] &&
				ga[1].Shape().Eq(tensor.Shape{op.Fwd.B * op.Fwd.L, op.Fwd.E}) {
				mode.gated = true
				run[gi].skip = true
				args[7] = ga[1]
			}
		}
		if f := uUnread[s.Node]; f != nil && !p.IsOutput(s.Node) {
			mode.skipU = uReadersOnly(p, run, s.Node, f, op.Fwd.B*op.Fwd.L)
		}
		if !mode.gated && !mode.skipU {
			continue
		}
		name := "AttentionGrad"
		if mode.gated {
			name += "+GateGrad(wrt=1)"
		}
		name += op.String()[len("AttentionGrad"):]
		if mode.skipU {
			name += " [dX's u columns unwritten]"
		}
		run[si].fused = &fusion{
			name: name,
			args: args,
			run: func(buf G.Value, _, ins []G.Value) (G.Value, error) {
				return op.runFused(&m.work, m.BF16 && !m.FloatAttention, buf, ins, mode)
			},
		}
		run[si].args = args
	}
}

// uReadersOnly reports whether the steps that read packed, an attention
// gradient whose first rows rows are dX, are the fused kernel f (which
// does not read dX's u columns) and Unpacks of the γ rows below dX.
func uReadersOnly(p *Plan, run []runStep, packed *G.Node, f *fusion, rows int) bool {
	for i := range run {
		if run[i].skip || !contains(run[i].args, packed) {
			continue
		}
		if run[i].fused == f {
			continue
		}
		if u, ok := p.Steps[i].Node.Op().(UnpackOp); ok && run[i].fused == nil && u.Row >= rows {
			continue
		}
		return false
	}
	return true
}

// fuseDropoutAddNorm runs each layer's residual connection, s = h +
// Dropout(y) and Norm(s), as cpu.DropoutAddNorm at the Norm step: one pass
// writing s (the backward's NormGrad reads it, so it is an extra output)
// and Norm(s), with the three ops' bits.
func fuseDropoutAddNorm(p *Plan, run []runStep) {
	index := make(map[*G.Node]int, len(p.Steps))
	for i, s := range p.Steps {
		index[s.Node] = i
	}
	nread := readers(p)
	for ni, s := range p.Steps {
		if _, ok := s.Node.Op().(NormOp); !ok || len(s.Args) != 1 || run[ni].skip || run[ni].fused != nil {
			continue
		}
		sum := s.Args[0]
		ai, ok := index[sum]
		if !ok || run[ai].skip || run[ai].fused != nil || len(p.Steps[ai].Args) != 2 || p.IsOutput(sum) {
			continue
		}
		if _, add := p.Steps[ai].Node.Op().(AddOp); !add {
			continue
		}
		h, dropped := p.Steps[ai].Args[0], p.Steps[ai].Args[1]
		di, ok := index[dropped]
		if !ok || nread[dropped] != 1 || p.IsOutput(dropped) || run[di].skip || run[di].fused != nil {
			continue
		}
		drop, ok := p.Steps[di].Node.Op().(DropoutOp)
		if !ok || len(p.Steps[di].Args) != 2 {
			continue
		}
		y, key := p.Steps[di].Args[0], p.Steps[di].Args[1]
		shape := s.Node.Shape()
		if len(shape) != 2 || !h.Shape().Eq(shape) || !y.Shape().Eq(shape) || !sum.Shape().Eq(shape) {
			continue
		}
		run[di].skip, run[ai].skip = true, true
		run[ni].fused = &fusion{
			name:  fmt.Sprintf("DropoutAddNorm [%v, Add, Norm]", drop),
			args:  []*G.Node{h, y, key},
			extra: []*G.Node{sum},
			run: func(buf G.Value, extra, ins []G.Value) (G.Value, error) {
				return dropoutAddNorm(drop, buf, extra[0], ins, shape)
			},
		}
		run[ni].args = run[ni].fused.args
	}
}

// dropoutAddNorm runs cpu.DropoutAddNorm on (h, y, key) into sumBuf (s)
// and buf (Norm(s)).
func dropoutAddNorm(drop DropoutOp, buf, sumBuf G.Value, ins []G.Value, shape tensor.Shape) (G.Value, error) {
	h, err := dense(drop, 0, ins[0])
	if err != nil {
		return nil, err
	}
	y, err := dense(drop, 1, ins[1])
	if err != nil {
		return nil, err
	}
	key, err := keyOf(drop, 2, ins[2])
	if err != nil {
		return nil, err
	}
	s, ok := sumBuf.(*tensor.Dense)
	if !ok || s.Dtype() != h.Dtype() || !s.Shape().Eq(shape) || overlaps(s, h) {
		return nil, fmt.Errorf("%v: no buffer for the residual sum", drop)
	}
	out := outTensor(buf, h.Dtype(), shape, h, y, s)
	n := shape[1]
	switch h.Dtype() {
	case tensor.Float32:
		cpu.DropoutAddNorm(data[float32](s), data[float32](out), data[float32](h), data[float32](y), n, drop.P, key, drop.Site)
	case tensor.Float64:
		cpu.DropoutAddNorm(data[float64](s), data[float64](out), data[float64](h), data[float64](y), n, drop.P, key, drop.Site)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", drop, h.Dtype())
	}
	return out, nil
}
