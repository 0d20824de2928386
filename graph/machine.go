package graph

import (
	"fmt"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/kernels/cpu"
)

// Machine executes the part of a Gorgonia graph that its outputs depend on,
// in topological order, on the CPU.
//
// Unlike Gorgonia's TapeMachine it plans buffer lifetimes: each op writes
// into a buffer taken from a pool keyed by dtype and shape, and a value goes
// back to the pool right after its last reader has run. The pool persists
// across runs, so a training step in steady state allocates no tensors, and
// a long evaluation holds only the live activations (memory linear in the
// sequence length for a layer-by-layer model).
//
// It executes a Plan (NewPlan), the same one the device executor of package
// gpu/graphexec runs. The values of the requested outputs stay valid until
// the next Run.
type Machine struct {
	// BF16 rounds both operands of every float32 MatMulOp to bfloat16
	// before the product, which accumulates in float32 (gemm.SgemmBF16),
	// and the operands of the attention ops' products likewise
	// (cpu.Attention.BF16): the arithmetic of the device executor's
	// -precision bf16 GEMMs and of its materialised attention with
	// bfloat16 products, as a CPU reference for testing that path. The
	// summation order differs from the device's, within float32 rounding.
	BF16 bool
	// FloatAttention keeps the attention ops float32 under BF16 (only the
	// MatMulOps round): the reference of the device's fused attention
	// path, whose training graphs compute the attention in float32.
	FloatAttention bool
	// Profile, when set, receives the wall time of every step of each Run.
	Profile *OpProfile
	// Unfused runs every step of the plan as its own op. By default the
	// machine runs some chains of elementwise steps as one kernel with the
	// same arithmetic (see fuseGatedSwishGrad). It is read at the first
	// Run.
	Unfused bool

	plan *Plan
	// keys and shapes are each step's output buffer key and shape,
	// computed once (a node's Shape() allocates a copy).
	keys   []bufKey
	shapes []tensor.Shape
	ops    []stepOp        // each step's op, its interfaces asserted once
	run    []runStep       // what each step does (schedule); set at the first Run
	index  map[*G.Node]int // each step's node's index
	extra  []G.Value       // a fused step's extra outputs' buffers
	ins    []G.Value       // the current step's argument values
	// vals holds each step's computed value (nil: none now), by step
	// index: a map of them grew now and then as entries came and went,
	// which allocated.
	vals []G.Value
	pool map[bufKey][]G.Value
	// work is the attention kernels' scratch memory, shared by every
	// attention op and its backward (the plan runs them one at a time).
	work cpu.Workspace
}

var _ Executor = (*Machine)(nil)

// NewMachine plans the execution of everything outputs depend on.
func NewMachine(g *G.ExprGraph, outputs ...*G.Node) (*Machine, error) {
	p, err := NewPlan(g, outputs...)
	if err != nil {
		return nil, err
	}
	m := &Machine{
		plan:   p,
		keys:   make([]bufKey, len(p.Steps)),
		shapes: make([]tensor.Shape, len(p.Steps)),
		pool:   make(map[bufKey][]G.Value),
	}
	m.ops = make([]stepOp, len(p.Steps))
	m.vals = make([]G.Value, len(p.Steps))
	m.index = make(map[*G.Node]int, len(p.Steps))
	m.extra = make([]G.Value, 0, 4)
	for i, st := range p.Steps {
		m.index[st.Node] = i
		m.ops[i] = newStepOp(st.Node.Op())
		m.shapes[i] = st.Node.Shape()
		m.keys[i] = poolKey(st.Node.Dtype(), m.shapes[i])
		if n := len(st.Args); n > cap(m.ins) {
			m.ins = make([]G.Value, 0, n)
		}
	}
	return m, nil
}

// Plan returns the machine's execution plan.
func (m *Machine) Plan() *Plan { return m.plan }

// bufKey identifies interchangeable buffers: same dtype and shape (up to
// four dimensions are distinguished, which covers every tensor here).
type bufKey struct {
	dt   tensor.Dtype
	n    int
	dims [4]int
}

func poolKey(dt tensor.Dtype, s tensor.Shape) bufKey {
	k := bufKey{dt: dt, n: len(s)}
	copy(k.dims[:], s)
	if len(s) > 4 {
		k.dims[3] = s[3:].TotalSize()
	}
	return k
}

func (m *Machine) take(k bufKey) G.Value {
	if free := m.pool[k]; len(free) > 0 {
		v := free[len(free)-1]
		m.pool[k] = free[:len(free)-1]
		return v
	}
	return nil
}

func (m *Machine) give(v G.Value) {
	if v == nil {
		return
	}
	k := poolKey(v.Dtype(), v.Shape())
	if _, scalar := v.(G.Scalar); scalar {
		k = poolKey(v.Dtype(), tensor.ScalarShape())
	}
	m.pool[k] = append(m.pool[k], v)
}

// value returns the current value of a node: an op node's computed value,
// or the bound value of an input or constant.
func (m *Machine) value(n *G.Node) (G.Value, error) {
	if i, ok := m.index[n]; ok && m.vals[i] != nil {
		return m.vals[i], nil
	}
	if v := n.Value(); v != nil {
		return v, nil
	}
	return nil, fmt.Errorf("machine: input %q has no value bound", n.Name())
}

// Run executes the program once.
func (m *Machine) Run() error {
	// The previous run's outputs return to the pool.
	for i, v := range m.vals {
		if v != nil {
			m.give(v)
			m.vals[i] = nil
		}
	}
	if m.run == nil {
		m.run = schedule(m.plan, !m.Unfused, m)
	}
	ins := m.ins
	var t0, tStep time.Time
	if m.Profile != nil {
		if len(m.Profile.Time) < len(m.plan.Steps) {
			m.Profile.Time = make([]time.Duration, len(m.plan.Steps))
			m.Profile.Names = make([]string, len(m.plan.Steps))
			for i, st := range m.plan.Steps {
				switch rs := m.run[i]; {
				case rs.skip:
				case rs.fused != nil:
					m.Profile.Names[i] = rs.fused.name
				case st.GradSum:
					m.Profile.Names[i] = "Add (gradient sum)"
				default:
					m.Profile.Names[i] = st.Node.Op().String()
				}
			}
		}
		t0 = time.Now()
	}
	for si, in := range m.plan.Steps {
		rs := &m.run[si]
		if rs.skip {
			continue // computed by a fused kernel at a later step
		}
		if m.Profile != nil {
			tStep = time.Now()
		}
		ins = ins[:0]
		for _, a := range rs.args {
			v, err := m.value(a)
			if err != nil {
				return err
			}
			ins = append(ins, v)
		}
		op := &m.ops[si]
		// An elementwise op writes over an input that dies here.
		var buf G.Value
		var reused *G.Node
		for _, a := range rs.inPlace {
			if v := m.valOf(a); v != nil && sameKind(v, in.Node.Dtype(), m.shapes[si]) {
				buf, reused = v, a
				break
			}
		}
		if buf == nil {
			buf = m.take(m.keys[si])
		}
		var v G.Value
		var err error
		if rs.fused != nil {
			extra := m.extra[:0]
			for _, e := range rs.fused.extra {
				ei := m.index[e]
				b := m.take(m.keys[ei])
				if b == nil {
					b = newTensor(e.Dtype(), m.shapes[ei])
				}
				extra = append(extra, b)
			}
			v, err = rs.fused.run(buf, extra, ins)
			for i, e := range rs.fused.extra {
				m.vals[m.index[e]] = extra[i]
			}
		} else {
			v, err = m.exec(op, in.GradSum, buf, ins)
		}
		if err != nil {
			return fmt.Errorf("%v: %w", op, err)
		}
		if v != buf && buf != nil && reused == nil {
			m.give(buf)
		}
		if reused != nil {
			if v != buf {
				m.give(buf) // the op did not take it: the input dies as usual
			}
			m.vals[m.index[reused]] = nil
		}
		if reused == nil && viewOfInput(v, ins) {
			return fmt.Errorf("machine: op %v returned a view of its input, which Machine does not support", op)
		}
		m.vals[si] = v
		for _, r := range rs.release {
			ri := m.index[r]
			m.give(m.vals[ri])
			m.vals[ri] = nil
		}
		if m.Profile != nil {
			m.Profile.Time[si] += time.Since(tStep)
		}
	}
	if m.Profile != nil {
		m.Profile.Runs++
		m.Profile.Total += time.Since(t0)
	}
	return nil
}

// stepOp is a step's op with the interfaces the executor calls it
// through, asserted when the machine is built (a type assertion to an
// interface at run time may allocate the runtime's cache of them).
type stepOp struct {
	op   G.Op
	mm   MatMulOp
	isMM bool
	wd   workDoer
	rd   roundedDoer
	pd   G.UsePreallocDoer
}

func newStepOp(op G.Op) stepOp {
	s := stepOp{op: op}
	s.mm, s.isMM = op.(MatMulOp)
	s.wd, _ = op.(workDoer)
	s.rd, _ = op.(roundedDoer)
	s.pd, _ = op.(G.UsePreallocDoer)
	return s
}

func (s *stepOp) String() string { return s.op.String() }

// exec runs one op, writing into buf when the op supports it.
func (m *Machine) exec(op *stepOp, gradSum bool, buf G.Value, ins []G.Value) (G.Value, error) {
	if gradSum {
		return AddOp{}.UsePreallocDo(buf, ins...)
	}
	if m.BF16 {
		if op.isMM {
			return op.mm.doBF16(buf, ins...)
		}
		if op.rd != nil && !m.FloatAttention {
			return op.rd.doRounded(&m.work, buf, ins)
		}
	}
	if op.wd != nil {
		return op.wd.doWith(&m.work, buf, ins)
	}
	if op.pd != nil && buf != nil {
		return op.pd.UsePreallocDo(buf, ins...)
	}
	return op.op.Do(ins...)
}

// sameKind reports whether value v can hold a result of dtype dt and shape s.
func sameKind(v G.Value, dt tensor.Dtype, s tensor.Shape) bool {
	d, ok := v.(*tensor.Dense)
	return ok && d.Dtype() == dt && d.Shape().Eq(s)
}

func viewOfInput(v G.Value, ins []G.Value) bool {
	d, ok := v.(*tensor.Dense)
	return ok && aliases(d, ins)
}

// Value returns the value computed for an output node in the last Run.
func (m *Machine) Value(n *G.Node) G.Value { return m.valOf(n) }

// valOf is the current value of a computed node, nil for none (or a leaf).
func (m *Machine) valOf(n *G.Node) G.Value {
	if i, ok := m.index[n]; ok {
		return m.vals[i]
	}
	return nil
}

// Float returns a scalar output as float64.
func (m *Machine) Float(n *G.Node) (float64, error) {
	v := m.valOf(n)
	if v == nil {
		return 0, fmt.Errorf("machine: no value for %v", n)
	}
	return scalarOf(n.Op(), 0, v)
}

// Float32s returns the data of a float32 output (the machine's own buffer,
// valid until the next Run; dst is not used).
func (m *Machine) Float32s(n *G.Node, dst []float32) ([]float32, error) {
	v := m.valOf(n)
	if v == nil {
		return nil, fmt.Errorf("machine: no value for %v", n)
	}
	d, ok := v.(*tensor.Dense)
	if !ok || d.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("machine: %v holds %v, not float32", n, v.Dtype())
	}
	return data[float32](d), nil
}

// Close releases nothing: the machine's memory belongs to the garbage
// collector. It makes Machine an Executor.
func (m *Machine) Close() error { return nil }

// workDoer is an op whose kernel takes scratch memory from the executor.
type workDoer interface {
	doWith(w *cpu.Workspace, buf G.Value, ins []G.Value) (G.Value, error)
}

// roundedDoer is a workDoer with a variant whose products read bfloat16
// operands (Machine.BF16).
type roundedDoer interface {
	doRounded(w *cpu.Workspace, buf G.Value, ins []G.Value) (G.Value, error)
}
