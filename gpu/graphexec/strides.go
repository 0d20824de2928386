//go:build gpu || gpuemu

package graphexec

import (
	G "gorgonia.org/gorgonia"

	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/graph"
)

// Padded rows. The attention's output [B·L, E+1] (O and the log-sum-exp)
// and its gradient have rows of E+1 float32: at E = 1536 every row but one
// in 16 starts off 16-byte alignment, and cuBLAS takes its slower kernels
// for the products that read or write them (P·V, dV, dP). Where the machine
// alone reads such a value, it lays it out with rows of
// gpu.OutStrideFor(E) = E+1 rounded up to 8 elements: the padding is never
// read or written, and every op that touches the value takes the stride.
//
// An attention forward's output is padded when it is not an output of the
// machine and every reader takes a stride: the gate (GateOp), the gate's
// gradients (GateGradOp: the one with respect to X reads O, the one with
// respect to O only its shape) and the attention backward
// (AttentionGradOp's forward output); and when each such backward's
// gradient of the output (dO) is made by GateGradOp with respect to O (not
// a sum of gradients), is not an output, and is read by attention
// backwards only. Then dO is padded too: the backward reads out and dout
// with one stride. Values that do not qualify (other graphs) stay dense.

// planStrides fills m.stride from the plan.
func (m *Machine) planStrides() {
	type use struct {
		s   *graph.Step
		arg int
	}
	readers := map[*G.Node][]use{}
	producer := map[*G.Node]*graph.Step{}
	for i := range m.plan.Steps {
		s := &m.plan.Steps[i]
		producer[s.Node] = s
		for j, a := range s.Args {
			readers[a] = append(readers[a], use{s, j})
		}
	}
	for i := range m.plan.Steps {
		s := &m.plan.Steps[i]
		op, ok := s.Node.Op().(graph.AttentionOp)
		if !ok || op.Gated || s.GradSum || m.outputs[s.Node] || len(s.Node.Shape()) != 2 {
			continue
		}
		ow := gpu.OutStrideFor(op.E)
		if ow == op.E+1 {
			continue
		}
		var douts []*G.Node
		good := true
		for _, u := range readers[s.Node] {
			if u.s.GradSum {
				good = false
				continue
			}
			switch o := u.s.Node.Op().(type) {
			case graph.GateOp:
				good = good && u.arg == 1
			case graph.GateGradOp:
				good = good && (o.WRT == 0 && u.arg == 0 || o.WRT == 1 && u.arg == 2)
			case graph.AttentionGradOp:
				good = good && u.arg == 6 && len(u.s.Args) == 8
				if good {
					douts = append(douts, u.s.Args[7])
				}
			default:
				good = false
			}
		}
		for _, g := range douts {
			p := producer[g]
			if p == nil || p.GradSum || m.outputs[g] {
				good = false
				continue
			}
			if gg, ok := p.Node.Op().(graph.GateGradOp); !ok || gg.WRT != 1 {
				good = false
			}
			for _, u := range readers[g] {
				if _, ok := u.s.Node.Op().(graph.AttentionGradOp); !ok || u.arg != 7 || u.s.GradSum {
					good = false
				}
			}
		}
		if good {
			m.stride[s.Node] = ow
			for _, g := range douts {
				m.stride[g] = ow
			}
		}
	}
}

// rowStride returns the device row stride of matrix value n: its padded
// stride, else width (its columns).
func (m *Machine) rowStride(n *G.Node, width int) int {
	if s, ok := m.stride[n]; ok {
		return s
	}
	return width
}

// bytes is the size of n's device buffer: bytesOf, or its rows times the
// padded stride.
func (m *Machine) bytes(n *G.Node) int {
	if s, ok := m.stride[n]; ok {
		return 4 * n.Shape()[0] * s
	}
	return bytesOf(n)
}
