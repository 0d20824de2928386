//go:build gpu || gpuemu

package graphexec

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/graph"
)

type runFn = func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error

// compile maps one step to its kernels, checking dtypes and shapes once.
func (m *Machine) compile(s *graph.Step) (runFn, error) {
	for _, a := range s.Args {
		if dt := a.Dtype(); dt != tensor.Float32 && dt != tensor.Int {
			return nil, fmt.Errorf("argument %v has dtype %v; the device runs float32", a, dt)
		}
	}
	if s.Node.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("result dtype %v; the device runs float32", s.Node.Dtype())
	}
	shape := func(i int) tensor.Shape { return s.Args[i].Shape() }
	size := func(i int) int { return max(1, shape(i).TotalSize()) }
	mat := func(i int) (rows, cols int, err error) {
		sh := shape(i)
		if len(sh) != 2 {
			return 0, 0, fmt.Errorf("argument %d has shape %v, want a matrix", i, sh)
		}
		return sh[0], sh[1], nil
	}
	nargs := func(n int) error {
		if len(s.Args) != n {
			return fmt.Errorf("%d arguments, want %d", len(s.Args), n)
		}
		return nil
	}
	if s.GradSum {
		n := size(0)
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.Add(out, a[0], a[1], n)
		}, nil
	}
	switch op := s.Node.Op().(type) {
	case graph.MatMulOp:
		if err := nargs(2); err != nil {
			return nil, err
		}
		ra, ca, err := mat(0)
		if err != nil {
			return nil, err
		}
		rb, cb, err := mat(1)
		if err != nil {
			return nil, err
		}
		mm, k := ra, ca
		if op.TA {
			mm, k = ca, ra
		}
		k2, n := rb, cb
		if op.TB {
			k2, n = cb, rb
		}
		if k != k2 {
			return nil, fmt.Errorf("inner dimensions differ: %v × %v", shape(0), shape(1))
		}
		if m.bf16 {
			na, nb := ra*ca, rb*cb
			return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
				ha, err := m.bf16Copy(a[0], na)
				if err != nil {
					return err
				}
				hb, err := m.bf16Copy(a[1], nb)
				if err != nil {
					return err
				}
				return m.dev.GemmBF16(op.TA, op.TB, mm, n, k, 1, ha, ca, hb, cb, 0, out, n)
			}, nil
		}
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.Sgemm(op.TA, op.TB, mm, n, k, 1, a[0], ca, a[1], cb, 0, out, n)
		}, nil

	case graph.SwishOp:
		n := size(0)
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.Swish(out, a[0], n)
		}, nil

	case graph.SwishGradOp:
		if err := nargs(2); err != nil {
			return nil, err
		}
		n := size(0)
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.SwishGrad(out, a[0], a[1], n)
		}, nil

	case graph.NormOp, graph.NormGradOp:
		sh := shape(0)
		if len(sh) == 0 || sh[len(sh)-1] == 0 {
			return nil, fmt.Errorf("input shape %v has no last dimension", sh)
		}
		n := sh[len(sh)-1]
		rows := sh.TotalSize() / n
		if _, grad := op.(graph.NormGradOp); grad {
			return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
				return m.dev.NormGrad(out, a[0], a[1], rows, n)
			}, nil
		}
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.Norm(out, a[0], rows, n)
		}, nil

	case graph.AddOp:
		if err := nargs(2); err != nil {
			return nil, err
		}
		if !shape(0).Eq(shape(1)) {
			return nil, fmt.Errorf("inputs differ: %v vs %v", shape(0), shape(1))
		}
		n := size(0)
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.Add(out, a[0], a[1], n)
		}, nil

	case graph.DropoutOp:
		key, err := m.intLeaf(s, 1, "dropout key")
		if err != nil {
			return nil, err
		}
		n := size(0)
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			k, err := keyOf(key)
			if err != nil {
				return err
			}
			return m.dev.Dropout(out, a[0], n, op.P, k, op.Site)
		}, nil

	case graph.GateOp:
		rows, xw, err := mat(0)
		if err != nil {
			return nil, err
		}
		ro, ow, err := mat(1)
		if err != nil {
			return nil, err
		}
		if ro != rows || xw < op.E || ow < op.E {
			return nil, fmt.Errorf("shapes %v and %v do not fit", shape(0), shape(1))
		}
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.Gate(out, a[0], a[1], rows, op.E, xw, ow)
		}, nil

	case graph.GateGradOp:
		// Inputs: the other operand, dy, the operand itself (shape only).
		if err := nargs(3); err != nil {
			return nil, err
		}
		rows, sw, err := mat(2)
		if err != nil {
			return nil, err
		}
		_, otw, err := mat(0)
		if err != nil {
			return nil, err
		}
		if op.WRT == 0 { // dX = dy ⊙ O
			return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
				return m.dev.GateGradX(out, a[0], a[1], rows, op.E, sw, otw)
			}, nil
		}
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error { // dO = dy ⊙ u
			return m.dev.GateGradO(out, a[0], a[1], rows, op.E, otw, sw)
		}, nil

	case graph.AttentionOp:
		return m.compileAttention(s, op, false)

	case graph.AttentionGradOp:
		if err := nargs(8); err != nil {
			return nil, err
		}
		return m.compileAttention(s, op.Fwd, true)

	case graph.UnpackOp:
		rows, w, err := mat(0)
		if err != nil {
			return nil, err
		}
		if op.Row+op.Rows > rows || op.Cols > w {
			return nil, fmt.Errorf("input %v too small", shape(0))
		}
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.Unpack(out, a[0], op.Row, op.Rows, op.Cols, w)
		}, nil

	case graph.GatherOp:
		vr, n, err := mat(0)
		if err != nil {
			return nil, err
		}
		nids := shape(1).TotalSize()
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.Gather(out, a[0], a[1], nids, n, vr)
		}, nil

	case graph.ScatterOp:
		if err := nargs(3); err != nil {
			return nil, err
		}
		vr, n, err := mat(0)
		if err != nil {
			return nil, err
		}
		nids := shape(1).TotalSize()
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.ScatterAdd(out, a[2], a[1], nids, n, vr)
		}, nil

	case graph.CrossEntropyOp:
		rows, v, err := mat(0)
		if err != nil {
			return nil, err
		}
		if shape(1).TotalSize() != rows {
			return nil, fmt.Errorf("%d logit rows for %d targets", rows, shape(1).TotalSize())
		}
		sums, err := m.dev.Alloc(16)
		if err != nil {
			return nil, err
		}
		m.owned = append(m.owned, sums)
		m.xent[s.Node] = sums
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.CrossEntropy(sums, out, a[0], a[1], rows, v)
		}, nil

	case graph.CrossEntropyGradOp:
		if err := nargs(3); err != nil {
			return nil, err
		}
		rows, v, err := mat(0)
		if err != nil {
			return nil, err
		}
		// The upstream gradient: a constant (the loss's own gradient, 1)
		// is passed as a kernel parameter, a computed scalar by pointer.
		if c, ok := s.Args[2].Value().(*G.F32); ok && !m.computed(s.Args[2]) {
			scale := float64(*c)
			return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
				return m.dev.CrossEntropyGrad(out, a[0], a[1], rows, v, scale, 0)
			}, nil
		}
		if bytesOf(s.Args[2]) != 4 {
			return nil, fmt.Errorf("upstream gradient %v is not a scalar", s.Args[2])
		}
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.CrossEntropyGrad(out, a[0], a[1], rows, v, 1, a[2])
		}, nil
	}
	return nil, fmt.Errorf("op %T has no device implementation", s.Node.Op())
}

// computed reports whether n is computed by a step (not a leaf).
func (m *Machine) computed(n *G.Node) bool {
	_, leaf := m.leaves[n]
	return !leaf
}

// intLeaf returns argument i of s, which must be an Int input (its host
// value is read at run time).
func (m *Machine) intLeaf(s *graph.Step, i int, what string) (*G.Node, error) {
	if i >= len(s.Args) {
		return nil, fmt.Errorf("no %s argument", what)
	}
	n := s.Args[i]
	if m.computed(n) || n.Dtype() != tensor.Int {
		return nil, fmt.Errorf("the %s (%v) must be an Int input of the graph", what, n)
	}
	return n, nil
}

// keyOf reads a dropout stream key from an Int input of one element.
func keyOf(n *G.Node) (uint64, error) {
	k, err := hostInts(n)
	if err != nil {
		return 0, err
	}
	if len(k) != 1 {
		return 0, fmt.Errorf("graphexec: key input %q has %d elements, want 1", n.Name(), len(k))
	}
	return uint64(k[0]), nil
}

// compileAttention maps AttentionOp (grad false; the Gated variant too) or
// AttentionGradOp (grad true) to the fused kernels. Inputs: X, γq, γk,
// mask, positions, key (and for the gradient the forward output and its
// gradient).
func (m *Machine) compileAttention(s *graph.Step, op graph.AttentionOp, grad bool) (runFn, error) {
	if len(s.Args) < 6 {
		return nil, fmt.Errorf("%d arguments, want at least 6", len(s.Args))
	}
	rows, W := op.B*op.L, 2*op.E+op.D
	if x := s.Args[0].Shape(); !x.Eq(tensor.Shape{rows, W}) {
		return nil, fmt.Errorf("the attention input %v does not fit B·L = %d, 2E+D = %d", x, rows, W)
	}
	mask, err := m.intLeaf(s, 3, "attention mask")
	if err != nil {
		return nil, err
	}
	if _, err := m.intLeaf(s, 4, "positions"); err != nil {
		return nil, err
	}
	key, err := m.intLeaf(s, 5, "dropout key")
	if err != nil {
		return nil, err
	}
	if mask.Shape().TotalSize() != rows || s.Args[4].Shape().TotalSize() != rows {
		return nil, fmt.Errorf("mask %v and positions %v do not fit B·L = %d", mask.Shape(), s.Args[4].Shape(), rows)
	}
	pol := op.Policy
	if pol.KeySize == 0 {
		pol.KeySize = op.D
	}
	setup := func(m *Machine, a []gpu.DevicePtr) (*gpu.Attention, gpu.AttentionInputs, error) {
		k, err := keyOf(key)
		if err != nil {
			return nil, gpu.AttentionInputs{}, err
		}
		hm, err := hostInts(mask)
		if err != nil {
			return nil, gpu.AttentionInputs{}, err
		}
		at := &gpu.Attention{B: op.B, L: op.L, E: op.E, D: op.D, Policy: pol, Dropout: op.Dropout, Key: k, Site: op.Site}
		in := gpu.AttentionInputs{X: a[0], GammaQ: a[1], GammaK: a[2], Mask: a[3], Pos: a[4],
			Valid: gpu.ValidCounts(hm, op.B, op.L)}
		return at, in, nil
	}
	if m.bf16Attn { // (never with grad)
		// The forward reads a bfloat16 copy of X (the gate still reads
		// the float32 u).
		plain := setup
		setup = func(m *Machine, a []gpu.DevicePtr) (*gpu.Attention, gpu.AttentionInputs, error) {
			at, in, err := plain(m, a)
			if err != nil {
				return nil, in, err
			}
			hx, err := m.bf16Copy(a[0], rows*W)
			if err != nil {
				return nil, in, err
			}
			at.BF16, in.X = true, hx
			return at, in, nil
		}
	}
	switch {
	case grad:
		if op.Gated {
			return nil, fmt.Errorf("gated attention has no gradient")
		}
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			at, in, err := setup(m, a)
			if err != nil {
				return err
			}
			return m.dev.AttentionBackward(at, in, a[6], a[7], out)
		}, nil
	case op.Gated:
		// No fused gated kernel: the forward into a pooled [B·L, E+1]
		// buffer, then u ⊙ O by the gate kernel.
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			at, in, err := setup(m, a)
			if err != nil {
				return err
			}
			tmp, err := m.take(4 * rows * (op.E + 1))
			if err != nil {
				return err
			}
			defer m.give(tmp) // one stream: the next user runs after the gate
			if err := m.dev.AttentionForward(at, in, tmp); err != nil {
				return err
			}
			return m.dev.Gate(out, a[0], tmp, rows, op.E, W, op.E+1)
		}, nil
	default:
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			at, in, err := setup(m, a)
			if err != nil {
				return err
			}
			return m.dev.AttentionForward(at, in, out)
		}, nil
	}
}
