//go:build gpu || gpuemu

package graphexec

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/gpu"
	"github.com/infoscale/gaualpha/graph"
)

// Machine executes the part of a Gorgonia graph that its outputs depend on
// on a GPU: graph.Machine's plan (graph.NewPlan), with each op run by the
// kernels of package gpu. Values are float32 device buffers (ints: int64).
//
// Leaves: float32 tensors (the weights) are bound to the Resident set and
// stay on the device; float32 scalar constants (Gorgonia's gradient seed)
// are uploaded once; Int inputs are read from their nodes' bound host
// tensors and uploaded, all in one copy, at the start of every Run.
//
// Buffers: like graph.Machine, each op writes into a buffer from a pool
// (keyed by size in bytes; device memory is untyped), a value returns to the
// pool right after its last reader, an elementwise op writes over an
// argument that dies there, and the pool persists across runs, so a
// steady-state run allocates no device memory. All work is queued on the
// device's one stream, so a buffer can be reused by the next op without
// waiting. Output values stay valid until the next Run.
//
// Errors the kernels detect (an id or target out of range, an attention
// row with no key) are raised in device memory; Float, Download and Check
// report them.
type Machine struct {
	dev  *gpu.Device
	res  *Resident
	plan *graph.Plan
	prog []instr

	vals   map[*G.Node]gpu.DevicePtr // live computed values
	leaves map[*G.Node]gpu.DevicePtr
	pool   map[int][]gpu.DevicePtr // free buffers by size in bytes
	size   map[gpu.DevicePtr]int

	ints    []*G.Node // Int leaves, in upload order
	intOff  []int     // their element offsets in intDev
	intHost []int64
	intDev  gpu.DevicePtr

	owned []gpu.DevicePtr // constants, the int buffer, cross-entropy sums
	xent  map[*G.Node]gpu.DevicePtr
	stats Stats

	// bf16: the GEMMs and the materialised attention's products read
	// bfloat16 inputs (Resident.BF16); bf16Attn: so does the fused
	// attention forward (Resident.BF16 and a graph without gradients: the
	// fused backward has no bfloat16 form).
	bf16, bf16Attn bool
	// scratch: pooled buffers an op's kernel call took for itself, given
	// back when the call returns.
	scratch []gpu.DevicePtr
	// attention: the path chosen for each attention op, in plan order.
	attention []AttentionChoice
	// paths: the measured choices of the attention ops, by key
	// (attention_measure.go).
	paths map[string]*pathSet
	// train: the graph computes gradients.
	train bool
	// stride: the row stride (float32 elements) of the values whose rows
	// are padded on the device (strides.go); the others are dense.
	stride map[*G.Node]int
	// outputs: the nodes New was asked for (read from the host).
	outputs map[*G.Node]bool

	// Poison fills every buffer an op is about to write (fresh or from the
	// pool) with NaN first, so that an element a kernel fails to write
	// shows up as NaN in the results. For tests; it costs a memset per op.
	Poison bool
}

var _ graph.Executor = (*Machine)(nil)

// nanBits is a float32 quiet NaN.
const nanBits = 0x7fc00000

// Stats counts a machine's device memory.
type Stats struct {
	// Allocs is the number of pool buffers allocated so far, Bytes their
	// total size: both stop growing once runs reach a steady state.
	Allocs int
	Bytes  int64
	// Runs is the number of completed runs.
	Runs int
}

// instr is one step with its kernel call.
type instr struct {
	step *graph.Step
	run  func(m *Machine, out gpu.DevicePtr, args []gpu.DevicePtr) error
}

// New plans the execution of everything outputs depend on, binds the
// graph's float32 tensor leaves to res (uploading those not yet resident)
// and uploads its constants. It fails on an op, a dtype or a leaf the
// device cannot run.
func New(res *Resident, g *G.ExprGraph, outputs ...*G.Node) (*Machine, error) {
	plan, err := graph.NewPlan(g, outputs...)
	if err != nil {
		return nil, err
	}
	m := &Machine{
		dev: res.dev, res: res, plan: plan,
		vals:    make(map[*G.Node]gpu.DevicePtr),
		leaves:  make(map[*G.Node]gpu.DevicePtr),
		pool:    make(map[int][]gpu.DevicePtr),
		size:    make(map[gpu.DevicePtr]int),
		xent:    make(map[*G.Node]gpu.DevicePtr),
		paths:   make(map[string]*pathSet),
		stride:  make(map[*G.Node]int),
		outputs: make(map[*G.Node]bool),
	}
	for _, n := range outputs {
		m.outputs[n] = true
	}
	if err := m.bindLeaves(); err != nil {
		m.Close()
		return nil, err
	}
	m.bf16, m.bf16Attn = res.BF16, res.BF16
	for _, s := range plan.Steps {
		if isGradient(s.Node.Op()) {
			m.bf16Attn, m.train = false, true
		}
	}
	m.planStrides()
	for i := range plan.Steps {
		s := &plan.Steps[i]
		run, err := m.compile(s)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("graphexec: %v: %w", s.Node.Op(), err)
		}
		m.prog = append(m.prog, instr{step: s, run: run})
	}
	return m, nil
}

// Plan returns the execution plan (the one graph.Machine would run).
func (m *Machine) Plan() *graph.Plan { return m.plan }

// Stats returns the machine's allocation counts.
func (m *Machine) Stats() Stats { return m.stats }

func (m *Machine) bindLeaves() error {
	nInts := 0
	for _, n := range m.plan.Leaves {
		switch v := n.Value().(type) {
		case nil:
			return fmt.Errorf("graphexec: input %q has no value bound", n.Name())
		case *tensor.Dense:
			switch v.Dtype() {
			case tensor.Float32:
				p, err := m.res.Bind(v)
				if err != nil {
					return err
				}
				m.leaves[n] = p
			case tensor.Int:
				m.ints = append(m.ints, n)
				m.intOff = append(m.intOff, nInts)
				nInts += v.Shape().TotalSize()
			default:
				return fmt.Errorf("graphexec: input %q has dtype %v; the device runs float32 (and Int inputs)", n.Name(), v.Dtype())
			}
		case *G.F32:
			p, err := gpu.AllocCopy(m.dev, []float32{float32(*v)})
			if err != nil {
				return err
			}
			m.owned = append(m.owned, p)
			m.leaves[n] = p
		default:
			return fmt.Errorf("graphexec: input %q holds a %T; the device runs float32 tensors and scalars", n.Name(), v)
		}
	}
	m.intHost = make([]int64, nInts)
	if nInts > 0 {
		p, err := m.dev.Alloc(8 * nInts)
		if err != nil {
			return err
		}
		m.owned = append(m.owned, p)
		m.intDev = p
		for i, n := range m.ints {
			m.leaves[n] = p.Add(8 * m.intOff[i])
		}
	}
	return nil
}

// hostInts returns the bound host values of an Int leaf.
func hostInts(n *G.Node) ([]int, error) {
	d, ok := n.Value().(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("graphexec: %q is not an Int input", n.Name())
	}
	x, ok := d.Data().([]int)
	if !ok {
		return nil, fmt.Errorf("graphexec: %q has dtype %v, want Int", n.Name(), d.Dtype())
	}
	return x, nil
}

// uploadInts packs the Int inputs' current host values and uploads them.
func (m *Machine) uploadInts() error {
	for i, n := range m.ints {
		x, err := hostInts(n)
		if err != nil {
			return err
		}
		want := n.Shape().TotalSize()
		if len(x) != want {
			return fmt.Errorf("graphexec: input %q has %d values, its node %d", n.Name(), len(x), want)
		}
		dst := m.intHost[m.intOff[i] : m.intOff[i]+want]
		for j, v := range x {
			dst[j] = int64(v)
		}
	}
	return gpu.Upload(m.dev, m.intDev, m.intHost)
}

func bytesOf(n *G.Node) int {
	size := 1
	if len(n.Shape()) > 0 {
		size = n.Shape().TotalSize()
	}
	if n.Dtype() == tensor.Int {
		return 8 * size
	}
	return 4 * size
}

// take returns a free buffer of the given size, allocating one if none is.
func (m *Machine) take(bytes int) (gpu.DevicePtr, error) {
	bytes = max(bytes, 4)
	var p gpu.DevicePtr
	if free := m.pool[bytes]; len(free) > 0 {
		p = free[len(free)-1]
		m.pool[bytes] = free[:len(free)-1]
	} else {
		var err error
		if p, err = m.dev.Alloc(bytes); err != nil {
			return 0, fmt.Errorf("graphexec: allocating %d bytes: %w", bytes, err)
		}
		m.size[p] = bytes
		m.stats.Allocs++
		m.stats.Bytes += int64(bytes)
	}
	if m.Poison {
		if err := m.dev.Fill32(p, nanBits, bytes/4); err != nil {
			return 0, err
		}
	}
	return p, nil
}

// isGradient reports whether op is one of the backward ops (so the graph
// computes gradients).
func isGradient(op G.Op) bool {
	switch op.(type) {
	case graph.AttentionGradOp, graph.SwishGradOp, graph.NormGradOp, graph.GateGradOp,
		graph.CrossEntropyGradOp, graph.ScatterOp:
		return true
	}
	return false
}

// bf16Copy returns a pooled buffer holding the n float32 values at x
// rounded to bfloat16, a scratch buffer of the op being run (given back
// when its call returns).
func (m *Machine) bf16Copy(x gpu.DevicePtr, n int) (gpu.DevicePtr, error) {
	p, err := m.take(2 * n)
	if err != nil {
		return 0, err
	}
	m.scratch = append(m.scratch, p)
	return p, m.dev.ToBF16(p, x, n)
}

func (m *Machine) give(p gpu.DevicePtr) {
	if p == 0 {
		return
	}
	b := m.size[p]
	m.pool[b] = append(m.pool[b], p)
}

func (m *Machine) arg(n *G.Node) (gpu.DevicePtr, error) {
	if p, ok := m.vals[n]; ok {
		return p, nil
	}
	if p, ok := m.leaves[n]; ok {
		return p, nil
	}
	return 0, fmt.Errorf("graphexec: no value for %v", n)
}

// Run uploads the Int inputs and queues every step of the plan on the
// device. It does not wait for the device: Float, Download and Check do.
func (m *Machine) Run() error {
	for n, p := range m.vals {
		m.give(p)
		delete(m.vals, n)
	}
	if err := m.uploadInts(); err != nil {
		return err
	}
	args := make([]gpu.DevicePtr, 0, 8)
	for _, in := range m.prog {
		s := in.step
		args = args[:0]
		for _, a := range s.Args {
			p, err := m.arg(a)
			if err != nil {
				return err
			}
			args = append(args, p)
		}
		var out gpu.DevicePtr
		var reused *G.Node
		for _, a := range s.InPlace {
			if p, ok := m.vals[a]; ok {
				out, reused = p, a
				break
			}
		}
		if reused != nil && m.size[out] < m.bytes(s.Node) { // a padded result needs more than a dense argument's buffer
			out, reused = 0, nil
		}
		if reused == nil {
			var err error
			if out, err = m.take(m.bytes(s.Node)); err != nil {
				return err
			}
		} else {
			delete(m.vals, reused)
		}
		err := in.run(m, out, args)
		for _, p := range m.scratch { // one stream: the next user runs after this op
			m.give(p)
		}
		m.scratch = m.scratch[:0]
		if err != nil {
			m.give(out)
			return fmt.Errorf("graphexec: %v: %w", s.Node.Op(), err)
		}
		m.vals[s.Node] = out
		for _, r := range s.Release {
			if p, ok := m.vals[r]; ok {
				m.give(p)
				delete(m.vals, r)
			}
		}
	}
	m.stats.Runs++
	return nil
}

// Ptr returns the device buffer of an output's value from the last Run
// (float32, or for the loss a float32 scalar), valid until the next Run.
func (m *Machine) Ptr(n *G.Node) (gpu.DevicePtr, bool) {
	p, ok := m.vals[n]
	return p, ok
}

// Check waits for the queued work and reports the errors the kernels
// raised (gpu.Device.CheckErrors).
func (m *Machine) Check() error {
	if err := m.dev.Synchronize(); err != nil {
		return err
	}
	return m.dev.CheckErrors()
}

// Download copies the float32 value of an output from the last Run into
// dst (len(dst) = its size), then reports kernel-raised errors.
func (m *Machine) Download(n *G.Node, dst []float32) error {
	p, ok := m.vals[n]
	if !ok {
		return fmt.Errorf("graphexec: no value for %v (not an output, or no Run yet)", n)
	}
	if _, padded := m.stride[n]; padded {
		return fmt.Errorf("graphexec: %v has padded rows on the device (not an output)", n)
	}
	if want := bytesOf(n) / 4; len(dst) != want || n.Dtype() != tensor.Float32 {
		return fmt.Errorf("graphexec: %v holds %d %v values, got room for %d float32", n, want, n.Dtype(), len(dst))
	}
	if err := gpu.Download(m.dev, dst, p); err != nil {
		return err
	}
	return m.dev.CheckErrors()
}

// Float32s downloads the float32 value of an output from the last Run into
// dst (grown when too short) and returns it, then reports kernel-raised
// errors (graph.Executor).
func (m *Machine) Float32s(n *G.Node, dst []float32) ([]float32, error) {
	k := bytesOf(n) / 4
	if cap(dst) < k {
		dst = make([]float32, k)
	}
	dst = dst[:k]
	return dst, m.Download(n, dst)
}

// Float returns a scalar output as float64, then reports kernel-raised
// errors. For a cross-entropy node it is the float32 rounding of the
// float64 mean, as graph.CrossEntropyOp returns on the CPU.
func (m *Machine) Float(n *G.Node) (float64, error) {
	v, err := m.FloatUnchecked(n)
	if err != nil {
		return 0, err
	}
	return v, m.dev.CheckErrors()
}

// FloatUnchecked is Float without the check of the kernels' error flags
// (the caller checks them with Check or gpu.Device.CheckErrors): a
// training step looks at a non-finite loss before the errors that NaN
// inputs can make kernels raise.
func (m *Machine) FloatUnchecked(n *G.Node) (float64, error) {
	if _, ran := m.vals[n]; !ran {
		return 0, fmt.Errorf("graphexec: no value for %v (not an output, or no Run yet)", n)
	}
	if x, ok := m.xent[n]; ok {
		var out [2]float64
		if err := gpu.Download(m.dev, out[:], x); err != nil {
			return 0, err
		}
		return float64(float32(out[0])), nil
	}
	if bytesOf(n) != 4 || n.Dtype() != tensor.Float32 {
		return 0, fmt.Errorf("graphexec: %v is not a float32 scalar", n)
	}
	var v [1]float32
	if err := gpu.Download(m.dev, v[:], m.vals[n]); err != nil {
		return 0, err
	}
	return float64(v[0]), nil
}

// Close frees the machine's device memory (not the resident weights).
func (m *Machine) Close() error {
	if m.dev == nil {
		return nil
	}
	var errs []error
	errs = append(errs, m.dev.Synchronize())
	for n, p := range m.vals {
		m.give(p)
		delete(m.vals, n)
	}
	for _, free := range m.pool {
		for _, p := range free {
			errs = append(errs, m.dev.Free(p))
		}
	}
	for _, p := range m.owned {
		errs = append(errs, m.dev.Free(p))
	}
	m.pool, m.owned, m.size = map[int][]gpu.DevicePtr{}, nil, map[gpu.DevicePtr]int{}
	m.dev = nil
	return errors.Join(errs...)
}
