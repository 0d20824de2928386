//go:build gpu || gpuemu

package graphexec

import (
	"fmt"
	"reflect"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/graph"
)

type runFn = func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error

// step is one plan step being compiled, with its argument shapes.
type step struct {
	m *Machine
	s *graph.Step
}

func (c step) shape(i int) tensor.Shape { return c.s.Args[i].Shape() }
func (c step) size(i int) int           { return max(1, c.shape(i).TotalSize()) }

// mat returns the rows and columns of a matrix argument.
func (c step) mat(i int) (rows, cols int, err error) {
	sh := c.shape(i)
	if len(sh) != 2 {
		return 0, 0, fmt.Errorf("argument %d has shape %v, want a matrix", i, sh)
	}
	return sh[0], sh[1], nil
}

// nargs checks the number of arguments.
func (c step) nargs(n int) error {
	if len(c.s.Args) != n {
		return fmt.Errorf("%d arguments, want %d", len(c.s.Args), n)
	}
	return nil
}

// compileFn maps one step of an op to its kernel calls, checking dtypes and
// shapes once, when the machine is built.
type compileFn func(c step) (runFn, error)

// kernels is the device implementation of each op of package graph, by
// the op's type. (Gorgonia's gradient sums, Step.GradSum, run as AddOp.)
var kernels = map[reflect.Type]compileFn{
	reflect.TypeFor[graph.MatMulOp]():           compileMatMul,
	reflect.TypeFor[graph.SwishOp]():            compileSwish,
	reflect.TypeFor[graph.SwishGradOp]():        compileSwishGrad,
	reflect.TypeFor[graph.NormOp]():             compileNorm,
	reflect.TypeFor[graph.NormGradOp]():         compileNormGrad,
	reflect.TypeFor[graph.AddOp]():              compileAdd,
	reflect.TypeFor[graph.DropoutOp]():          compileDropout,
	reflect.TypeFor[graph.GateOp]():             compileGate,
	reflect.TypeFor[graph.GateGradOp]():         compileGateGrad,
	reflect.TypeFor[graph.AttentionOp]():        compileAttentionFwd,
	reflect.TypeFor[graph.AttentionGradOp]():    compileAttentionGrad,
	reflect.TypeFor[graph.UnpackOp]():           compileUnpack,
	reflect.TypeFor[graph.GatherOp]():           compileGather,
	reflect.TypeFor[graph.ScatterOp]():          compileScatter,
	reflect.TypeFor[graph.CrossEntropyOp]():     compileCrossEntropy,
	reflect.TypeFor[graph.CrossEntropyGradOp](): compileCrossEntropyGrad,
}

// compile maps one step to its kernels through the kernels table.
func (m *Machine) compile(s *graph.Step) (runFn, error) {
	for _, a := range s.Args {
		if dt := a.Dtype(); dt != tensor.Float32 && dt != tensor.Int {
			return nil, fmt.Errorf("argument %v has dtype %v; the device runs float32", a, dt)
		}
	}
	if s.Node.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("result dtype %v; the device runs float32", s.Node.Dtype())
	}
	c := step{m: m, s: s}
	if s.GradSum {
		return compileAdd(c)
	}
	f, ok := kernels[reflect.TypeOf(s.Node.Op())]
	if !ok {
		return nil, fmt.Errorf("op %T has no device implementation", s.Node.Op())
	}
	return f(c)
}

func compileMatMul(c step) (runFn, error) {
	op := c.s.Node.Op().(graph.MatMulOp)
	if err := c.nargs(2); err != nil {
		return nil, err
	}
	ra, ca, err := c.mat(0)
	if err != nil {
		return nil, err
	}
	rb, cb, err := c.mat(1)
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
		return nil, fmt.Errorf("inner dimensions differ: %v × %v", c.shape(0), c.shape(1))
	}
	if c.m.bf16 {
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
}

func compileSwish(c step) (runFn, error) {
	n := c.size(0)
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.Swish(out, a[0], n)
	}, nil
}

func compileSwishGrad(c step) (runFn, error) {
	if err := c.nargs(2); err != nil {
		return nil, err
	}
	n := c.size(0)
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.SwishGrad(out, a[0], a[1], n)
	}, nil
}

// normRows returns the rows and width of a Norm input (normalised over
// its last dimension).
func normRows(c step) (rows, n int, err error) {
	sh := c.shape(0)
	if len(sh) == 0 || sh[len(sh)-1] == 0 {
		return 0, 0, fmt.Errorf("input shape %v has no last dimension", sh)
	}
	n = sh[len(sh)-1]
	return sh.TotalSize() / n, n, nil
}

func compileNorm(c step) (runFn, error) {
	rows, n, err := normRows(c)
	if err != nil {
		return nil, err
	}
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.Norm(out, a[0], rows, n)
	}, nil
}

func compileNormGrad(c step) (runFn, error) {
	rows, n, err := normRows(c)
	if err != nil {
		return nil, err
	}
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.NormGrad(out, a[0], a[1], rows, n)
	}, nil
}

func compileAdd(c step) (runFn, error) {
	if err := c.nargs(2); err != nil {
		return nil, err
	}
	if !c.shape(0).Eq(c.shape(1)) {
		return nil, fmt.Errorf("inputs differ: %v vs %v", c.shape(0), c.shape(1))
	}
	n := c.size(0)
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.Add(out, a[0], a[1], n)
	}, nil
}

func compileDropout(c step) (runFn, error) {
	op := c.s.Node.Op().(graph.DropoutOp)
	key, err := c.m.intLeaf(c.s, 1, "dropout key")
	if err != nil {
		return nil, err
	}
	n := c.size(0)
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		k, err := keyOf(key)
		if err != nil {
			return err
		}
		return m.dev.Dropout(out, a[0], n, op.P, k, op.Site)
	}, nil
}

func compileGate(c step) (runFn, error) {
	op := c.s.Node.Op().(graph.GateOp)
	rows, xw, err := c.mat(0)
	if err != nil {
		return nil, err
	}
	ro, ow, err := c.mat(1)
	if err != nil {
		return nil, err
	}
	if ro != rows || xw < op.E || ow < op.E {
		return nil, fmt.Errorf("shapes %v and %v do not fit", c.shape(0), c.shape(1))
	}
	ow = c.m.rowStride(c.s.Args[1], ow)
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.Gate(out, a[0], a[1], rows, op.E, xw, ow)
	}, nil
}

// compileGateGrad: inputs the other operand, dy, the operand itself
// (shape only).
func compileGateGrad(c step) (runFn, error) {
	op := c.s.Node.Op().(graph.GateGradOp)
	if err := c.nargs(3); err != nil {
		return nil, err
	}
	rows, sw, err := c.mat(2)
	if err != nil {
		return nil, err
	}
	_, otw, err := c.mat(0)
	if err != nil {
		return nil, err
	}
	otw = c.m.rowStride(c.s.Args[0], otw)
	sw = c.m.rowStride(c.s.Node, sw)
	if op.WRT == 0 { // dX = dy ⊙ O
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.GateGradX(out, a[0], a[1], rows, op.E, sw, otw)
		}, nil
	}
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error { // dO = dy ⊙ u
		return m.dev.GateGradO(out, a[0], a[1], rows, op.E, otw, sw)
	}, nil
}

func compileAttentionFwd(c step) (runFn, error) {
	return c.m.compileAttention(c.s, c.s.Node.Op().(graph.AttentionOp), false)
}

func compileAttentionGrad(c step) (runFn, error) {
	if err := c.nargs(8); err != nil {
		return nil, err
	}
	return c.m.compileAttention(c.s, c.s.Node.Op().(graph.AttentionGradOp).Fwd, true)
}

func compileUnpack(c step) (runFn, error) {
	op := c.s.Node.Op().(graph.UnpackOp)
	rows, w, err := c.mat(0)
	if err != nil {
		return nil, err
	}
	if op.Row+op.Rows > rows || op.Cols > w {
		return nil, fmt.Errorf("input %v too small", c.shape(0))
	}
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.Unpack(out, a[0], op.Row, op.Rows, op.Cols, w)
	}, nil
}

func compileGather(c step) (runFn, error) {
	vr, n, err := c.mat(0)
	if err != nil {
		return nil, err
	}
	nids := c.shape(1).TotalSize()
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.Gather(out, a[0], a[1], nids, n, vr)
	}, nil
}

func compileScatter(c step) (runFn, error) {
	if err := c.nargs(3); err != nil {
		return nil, err
	}
	vr, n, err := c.mat(0)
	if err != nil {
		return nil, err
	}
	nids := c.shape(1).TotalSize()
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.ScatterAdd(out, a[2], a[1], nids, n, vr)
	}, nil
}

func compileCrossEntropy(c step) (runFn, error) {
	rows, v, err := c.mat(0)
	if err != nil {
		return nil, err
	}
	if c.shape(1).TotalSize() != rows {
		return nil, fmt.Errorf("%d logit rows for %d targets", rows, c.shape(1).TotalSize())
	}
	sums, err := c.m.dev.Alloc(16)
	if err != nil {
		return nil, err
	}
	c.m.owned = append(c.m.owned, sums)
	c.m.xent[c.s.Node] = sums
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.CrossEntropy(sums, out, a[0], a[1], rows, v)
	}, nil
}

// compileCrossEntropyGrad: the upstream gradient, a constant (the loss's
// own gradient, 1), is passed as a kernel parameter, a computed scalar by
// pointer.
func compileCrossEntropyGrad(c step) (runFn, error) {
	if err := c.nargs(3); err != nil {
		return nil, err
	}
	rows, v, err := c.mat(0)
	if err != nil {
		return nil, err
	}
	if k, ok := c.s.Args[2].Value().(*G.F32); ok && !c.m.computed(c.s.Args[2]) {
		scale := float64(*k)
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			return m.dev.CrossEntropyGrad(out, a[0], a[1], rows, v, scale, 0)
		}, nil
	}
	if bytesOf(c.s.Args[2]) != 4 {
		return nil, fmt.Errorf("upstream gradient %v is not a scalar", c.s.Args[2])
	}
	return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
		return m.dev.CrossEntropyGrad(out, a[0], a[1], rows, v, 1, a[2])
	}, nil
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
// AttentionGradOp (grad true) to the fused kernels or to the materialised
// path, as attentionPath chooses (Machine.AttentionChoices records it).
// Inputs: X, γq, γk, mask, positions, key (and for the gradient the
// forward output and its gradient).
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
	// The row stride of out (and dout): padded where the machine pads the
	// value (strides.go), always for the gated forward's own buffer.
	stride := m.stride[s.Node]
	switch {
	case grad:
		if stride = m.stride[s.Args[6]]; stride != m.stride[s.Args[7]] {
			return nil, fmt.Errorf("the forward output has row stride %d, its gradient %d", stride, m.stride[s.Args[7]])
		}
	case op.Gated:
		stride = gpu.OutStrideFor(op.E)
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
		at := &gpu.Attention{B: op.B, L: op.L, E: op.E, D: op.D, Policy: pol, Dropout: op.Dropout, Key: k, Site: op.Site, OutStride: stride}
		in := gpu.AttentionInputs{X: a[0], GammaQ: a[1], GammaK: a[2], Mask: a[3], Pos: a[4],
			Valid: gpu.ValidCounts(hm, op.B, op.L)}
		return at, in, nil
	}
	req := pathRequest{op: op, grad: grad, bf16: m.bf16, fusedBF16: m.bf16Attn, mode: m.res.Attention, budget: m.res.attentionBudget(), outStride: stride}
	choice, err := attentionPath(req)
	if err != nil {
		return nil, err
	}
	choice.Op = fmt.Sprint(s.Node.Op())
	if (req.mode == AttentionAuto || req.mode == "") && m.res.measurer() != nil {
		return m.compileMeasured(s, op, grad, setup, req, choice)
	}
	m.attention = append(m.attention, choice)
	if choice.Path == AttentionMaterialized {
		return compileAttentionMat(op, grad, setup, choice)
	}
	return m.compileAttentionFused(op, grad, setup)
}

// compileMeasured compiles an attention op whose path is measured at its
// first run (attention_measure.go): its run on the fused path and, where a
// group of sequences fits the budget, on the materialised one, and the
// pathSet of its key, shared with the machine's other attention ops of the
// key.
func (m *Machine) compileMeasured(s *graph.Step, op graph.AttentionOp, grad bool, setup attnSetup, req pathRequest, rule AttentionChoice) (runFn, error) {
	// The materialised path of this op, and of the key: in a training
	// graph the backward's (its workspace is the larger) decides whether
	// the path is eligible and names the key, so that the forward and
	// backward ops of a layer share one key.
	forced := func(grad bool) (AttentionChoice, error) {
		r := req
		r.mode, r.grad = AttentionMaterialized, grad
		c, err := attentionPath(r)
		if int64(c.Workspace) > req.budget { // not even one sequence fits
			c.Path = ""
		}
		return c, err
	}
	mat, err := forced(grad)
	if err != nil {
		return nil, err
	}
	matKey, err := forced(m.train)
	if err != nil {
		return nil, err
	}
	if matKey.Path == "" {
		mat.Path = ""
	}
	key := attentionKey(m.dev.Info(), op, m.train, m.bf16, m.bf16Attn, matKey.Group)
	ps := m.paths[key]
	if ps == nil {
		ps = &pathSet{key: key, rule: rule, eligibleMat: mat.Path != ""}
		m.paths[key] = ps
	}
	runs := map[AttentionPath]runFn{}
	if runs[AttentionFused], err = m.compileAttentionFused(op, grad, setup); err != nil {
		return nil, err
	}
	if mat.Path != "" {
		if runs[AttentionMaterialized], err = compileAttentionMat(op, grad, setup, mat); err != nil {
			return nil, err
		}
	}
	if grad && ps.bwd == nil {
		ps.bwd, ps.bwdSize = runs, m.bytes(s.Node)
	}
	entry := rule
	entry.Path = AttentionAuto
	entry.Reason = "measured at the first run (" + rule.Path.String() + " by the rule: " + rule.Reason + ")"
	ps.entries = append(ps.entries, pathEntry{index: len(m.attention), mat: mat})
	m.attention = append(m.attention, entry)
	return measuredRun(ps, grad, runs), nil
}

// attnSetup makes the gpu.Attention and its inputs of one call from the
// op's arguments.
type attnSetup = func(*Machine, []gpu.DevicePtr) (*gpu.Attention, gpu.AttentionInputs, error)

// compileAttentionFused runs an attention op on the fused kernels
// (gpu.Device.AttentionForward, AttentionBackward).
func (m *Machine) compileAttentionFused(op graph.AttentionOp, grad bool, setup attnSetup) (runFn, error) {
	rows, W := op.B*op.L, 2*op.E+op.D
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
			tmp, err := m.take(4 * rows * gpu.OutStrideFor(op.E))
			if err != nil {
				return err
			}
			defer m.give(tmp) // one stream: the next user runs after the gate
			if err := m.dev.AttentionForward(at, in, tmp); err != nil {
				return err
			}
			return m.dev.Gate(out, a[0], tmp, rows, op.E, W, gpu.OutStrideFor(op.E))
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

// compileAttentionMat runs an attention op on the materialised path, its
// workspace a scratch buffer of the call. Under -precision bf16 its
// products read bfloat16 operands (gpu.Attention.MatBF16: q̃, k̃, P, V, and
// in the backward dO and dS), in the forward and the backward alike: the
// rounding graph.Machine.BF16 gives the CPU attention
// (cpu.Attention.BF16). The fused path's backward has no bfloat16 form, so
// there a training graph's attention stays float32.
func compileAttentionMat(op graph.AttentionOp, grad bool, setup attnSetup, c AttentionChoice) (runFn, error) {
	rows, W := op.B*op.L, 2*op.E+op.D
	mat := func(m *Machine, a []gpu.DevicePtr) (*gpu.Attention, gpu.AttentionInputs, gpu.DevicePtr, error) {
		at, in, err := setup(m, a)
		if err != nil {
			return nil, in, 0, err
		}
		at.MatBF16, at.Group = m.bf16, c.Group
		ws, err := m.take(c.Workspace)
		if err != nil {
			return nil, in, 0, err
		}
		m.scratch = append(m.scratch, ws)
		return at, in, ws, nil
	}
	switch {
	case grad:
		if op.Gated {
			return nil, fmt.Errorf("gated attention has no gradient")
		}
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			at, in, ws, err := mat(m, a)
			if err != nil {
				return err
			}
			return m.dev.AttentionBackwardMat(at, in, a[6], a[7], out, ws)
		}, nil
	case op.Gated:
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			at, in, ws, err := mat(m, a)
			if err != nil {
				return err
			}
			tmp, err := m.take(4 * rows * gpu.OutStrideFor(op.E))
			if err != nil {
				return err
			}
			m.scratch = append(m.scratch, tmp)
			if err := m.dev.AttentionForwardMat(at, in, tmp, ws); err != nil {
				return err
			}
			return m.dev.Gate(out, a[0], tmp, rows, op.E, W, gpu.OutStrideFor(op.E))
		}, nil
	default:
		return func(m *Machine, out gpu.DevicePtr, a []gpu.DevicePtr) error {
			at, in, ws, err := mat(m, a)
			if err != nil {
				return err
			}
			return m.dev.AttentionForwardMat(at, in, out, ws)
		}, nil
	}
}
