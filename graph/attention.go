package graph

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/infoscale/gaualpha/attn"
	"github.com/infoscale/gaualpha/kernels/cpu"
)

// AttentionOp is the fused GAU attention of one layer (see cpu.Attention):
// ScaleOffset, CosScale, the policy's rotation, logits, masks, the
// normalisation temperature, dropout and A·V, in one op.
//
// Inputs: X [B·L, 2E+D] (u | v | z), γq [D], γk [D], mask [B·L] (Int,
// nonzero = valid key), positions [B·L] (Int), dropout key [1] (Int).
// Output: [B·L, E+1], O in the first E columns and the row log-sum-exp in
// the last, which the backward reuses (it carries no gradient).
type AttentionOp struct {
	opBase
	B, L, E, D int
	Policy     attn.Policy
	Dropout    float64
	Site       uint64
	// Gated makes the op output u⊙O, [B·L, E], directly (inference: no
	// gate op, one buffer fewer); it has no gradient.
	Gated bool
}

func (o AttentionOp) Arity() int { return 6 }
func (o AttentionOp) Type() hm.Type {
	i := tt(1, tensor.Int)
	return fn(tt(2, tvA), tt(1, tvA), tt(1, tvA), i, i, i, tt(2, tvA))
}
func (o AttentionOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if err := o.checkShapes(in); err != nil {
		return nil, err
	}
	return o.outShape(), nil
}

// checkShapes checks the shapes of the op's six inputs (X, γq, γk, mask,
// positions, key) against B, L, E and D.
func (o AttentionOp) checkShapes(in []G.DimSizer) error {
	if len(in) != 6 {
		return fmt.Errorf("%v: %d inputs, want 6", o, len(in))
	}
	rows := o.B * o.L
	want := []tensor.Shape{{rows, 2*o.E + o.D}, {o.D}, {o.D}, {rows}, {rows}, {1}}
	names := []string{"X", "γq", "γk", "mask", "positions", "dropout key"}
	for i, ds := range in {
		s, ok := ds.(tensor.Shape)
		if !ok {
			continue // not yet known: Gorgonia checks again on apply
		}
		if !s.Eq(want[i]) && !(len(want[i]) == 1 && s.TotalSize() == want[i][0] && s.IsVectorLike()) {
			return fmt.Errorf("%v: %s has shape %v, want %v", o, names[i], s, want[i])
		}
	}
	return nil
}

func (o AttentionOp) outShape() tensor.Shape {
	if o.Gated {
		return tensor.Shape{o.B * o.L, o.E}
	}
	return tensor.Shape{o.B * o.L, o.E + 1}
}
func (o AttentionOp) String() string {
	return fmt.Sprintf("Attention(B=%d,L=%d,E=%d,D=%d,p=%v,site=%d,gated=%v,%+v)", o.B, o.L, o.E, o.D, o.Dropout, o.Site, o.Gated, o.Policy)
}
func (o AttentionOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o AttentionOp) Hashcode() uint32                  { return hashOf(o) }
func (o AttentionOp) DiffWRT(int) []bool                { return []bool{true, true, true, false, false, false} }
func (o AttentionOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }

// kernel builds the kernel arguments from the op's inputs.
// The kernel is returned by value: the kernels copy it into their
// workspace, so that it need not be allocated per call.
func attentionKernel[T float32 | float64, O fmt.Stringer](o O, a *AttentionOp, in []G.Value, work *cpu.Workspace, bf16 bool) (cpu.Attention[T], error) {
	var t [3]*tensor.Dense
	for i := range t {
		d, err := dense(o, i, in[i])
		if err != nil {
			return cpu.Attention[T]{}, err
		}
		t[i] = d
	}
	mask, err := ints(o, 3, in[3])
	if err != nil {
		return cpu.Attention[T]{}, err
	}
	pos, err := ints(o, 4, in[4])
	if err != nil {
		return cpu.Attention[T]{}, err
	}
	key, err := keyOf(o, 5, in[5])
	if err != nil {
		return cpu.Attention[T]{}, err
	}
	rows := a.B * a.L
	if !t[0].Shape().Eq(tensor.Shape{rows, 2*a.E + a.D}) || len(mask) != rows || len(pos) != rows {
		return cpu.Attention[T]{}, fmt.Errorf("%v: X %v, mask %d, positions %d do not fit B·L = %d", o, t[0].Shape(), len(mask), len(pos), rows)
	}
	return cpu.Attention[T]{
		B: a.B, L: a.L, E: a.E, D: a.D,
		X: data[T](t[0]), GammaQ: data[T](t[1]), GammaK: data[T](t[2]),
		Mask: mask, Pos: pos, Policy: a.Policy,
		Dropout: a.Dropout, Key: key, Site: a.Site, Work: work, Gated: a.Gated, BF16: bf16,
	}, nil
}

func (o AttentionOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return o.doWith(nil, p, in)
}

// doWith runs the forward kernel with scratch memory from work (the
// executor's; nil: a pooled one).
func (o AttentionOp) doWith(work *cpu.Workspace, p G.Value, in []G.Value) (G.Value, error) {
	return o.run(work, false, p, in)
}

// doRounded is doWith with the products' operands rounded to bfloat16
// (cpu.Attention.BF16; Machine.BF16).
func (o AttentionOp) doRounded(work *cpu.Workspace, p G.Value, in []G.Value) (G.Value, error) {
	return o.run(work, true, p, in)
}

func (o AttentionOp) run(work *cpu.Workspace, bf16 bool, p G.Value, in []G.Value) (G.Value, error) {
	x, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	out := outTensor(p, x.Dtype(), o.outShape(), in...)
	switch x.Dtype() {
	case tensor.Float32:
		err = runAttention[float32](o, &o, in, data[float32](out), work, bf16, nil)
	case tensor.Float64:
		err = runAttention[float64](o, &o, in, data[float64](out), work, bf16, nil)
	default:
		err = fmt.Errorf("%v: unsupported dtype %v", o, x.Dtype())
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func runAttention[T float32 | float64, O fmt.Stringer](o O, a *AttentionOp, in []G.Value, out []T, work *cpu.Workspace, bf16 bool, gate []T) error {
	k, err := attentionKernel[T](o, a, in, work, bf16)
	if err != nil {
		return err
	}
	k.GateOut = gate
	return k.Forward(out)
}

// runWithGate is run that also writes the gate u⊙O (GateOp{E}'s result
// on X and this op's output) into gate: the CPU executor's fusion of a
// training graph's attention and gate.
func (o AttentionOp) runWithGate(work *cpu.Workspace, bf16 bool, p, gate G.Value, in []G.Value) (G.Value, error) {
	x, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	g, ok := gate.(*tensor.Dense)
	if !ok || g.Dtype() != x.Dtype() || !g.Shape().Eq(tensor.Shape{o.B * o.L, o.E}) || o.Gated {
		return nil, fmt.Errorf("%v: no gate buffer of shape (%d, %d)", o, o.B*o.L, o.E)
	}
	out := outTensor(p, x.Dtype(), o.outShape(), in...)
	switch x.Dtype() {
	case tensor.Float32:
		err = runAttention(o, &o, in, data[float32](out), work, bf16, data[float32](g))
	case tensor.Float64:
		err = runAttention(o, &o, in, data[float64](out), work, bf16, data[float64](g))
	default:
		err = fmt.Errorf("%v: unsupported dtype %v", o, x.Dtype())
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SymDiff applies the attention backward op, whose packed output holds dX
// and the two γ gradients, and unpacks it.
func (o AttentionOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	if o.Gated {
		return nil, fmt.Errorf("%v: gated attention has no gradient (train with the ungated op and GateOp)", o)
	}
	children := append(append(G.Nodes{}, in...), out, grad)
	packed, err := G.ApplyOp(AttentionGradOp{o}, children...)
	if err != nil {
		return nil, err
	}
	rows, w := o.B*o.L, 2*o.E+o.D
	dx, err := G.ApplyOp(UnpackOp{Row: 0, Rows: rows, Cols: w}, packed)
	if err != nil {
		return nil, err
	}
	dgq, err := G.ApplyOp(UnpackOp{Row: rows, Rows: 1, Cols: o.D, Vector: true}, packed)
	if err != nil {
		return nil, err
	}
	dgk, err := G.ApplyOp(UnpackOp{Row: rows + 1, Rows: 1, Cols: o.D, Vector: true}, packed)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dgq, dgk, nil, nil, nil}, nil
}

// AttentionGradOp is the backward of AttentionOp. Inputs: the six forward
// inputs, the forward output and its gradient. Output: [B·L+2, 2E+D], dX in
// the first B·L rows (u columns zero), then dγq and dγk.
type AttentionGradOp struct {
	// Fwd is the forward op whose gradient this is (its shapes, policy
	// and dropout).
	Fwd AttentionOp
}

func (o AttentionGradOp) Arity() int { return 8 }
func (o AttentionGradOp) Type() hm.Type {
	i := tt(1, tensor.Int)
	return fn(tt(2, tvA), tt(1, tvA), tt(1, tvA), i, i, i, tt(2, tvA), tt(2, tvA), tt(2, tvA))
}
func (o AttentionGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 8 {
		return nil, fmt.Errorf("%v: %d inputs, want 8", o, len(in))
	}
	if err := o.Fwd.checkShapes(in[:6]); err != nil {
		return nil, err
	}
	return o.outShape(), nil
}

// outShape is [B·L+2, 2E+D]: dX, then dγq and dγk in the last two rows.
func (o AttentionGradOp) outShape() tensor.Shape {
	f := o.Fwd
	return tensor.Shape{f.B*f.L + 2, 2*f.E + f.D}
}
func (o AttentionGradOp) ReturnsPtr() bool                  { return false }
func (o AttentionGradOp) CallsExtern() bool                 { return false }
func (o AttentionGradOp) OverwritesInput() int              { return -1 }
func (o AttentionGradOp) String() string                    { return "AttentionGrad" + o.Fwd.String()[len("Attention"):] }
func (o AttentionGradOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o AttentionGradOp) Hashcode() uint32                  { return hashOf(o) }
func (o AttentionGradOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }
func (o AttentionGradOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	return o.doWith(nil, p, in)
}

// doWith runs the backward kernel with scratch memory from work (the
// executor's; nil: a pooled one).
func (o AttentionGradOp) doWith(work *cpu.Workspace, p G.Value, in []G.Value) (G.Value, error) {
	return o.run(work, false, p, in)
}

// doRounded is doWith with the products' operands rounded to bfloat16
// (cpu.Attention.BF16; Machine.BF16).
func (o AttentionGradOp) doRounded(work *cpu.Workspace, p G.Value, in []G.Value) (G.Value, error) {
	return o.run(work, true, p, in)
}

func (o AttentionGradOp) run(work *cpu.Workspace, bf16 bool, p G.Value, in []G.Value) (G.Value, error) {
	return o.runFused(work, bf16, p, in, attGradPlain)
}

// attGradMode selects what the CPU executor's fusions change in the
// backward kernel (fuseAttentionGrad).
type attGradMode struct {
	// gated: the last input is the gradient dy of the gate u⊙O that
	// follows the attention rather than O's (cpu.Attention.BackwardGated).
	gated bool
	// skipU: the u columns of dX are left unwritten (no reader).
	skipU bool
}

var attGradPlain attGradMode

// runFused runs the backward kernel in the given mode.
func (o AttentionGradOp) runFused(work *cpu.Workspace, bf16 bool, p G.Value, in []G.Value, mode attGradMode) (G.Value, error) {
	x, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	shape := o.outShape()
	out := outTensor(p, x.Dtype(), shape, in...)
	switch x.Dtype() {
	case tensor.Float32:
		err = runAttentionGrad(o, &o.Fwd, in, data[float32](out), work, bf16, mode)
	case tensor.Float64:
		err = runAttentionGrad(o, &o.Fwd, in, data[float64](out), work, bf16, mode)
	default:
		err = fmt.Errorf("%v: unsupported dtype %v", o, x.Dtype())
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func runAttentionGrad[T float32 | float64, O fmt.Stringer](o O, a *AttentionOp, in []G.Value, dx []T, work *cpu.Workspace, bf16 bool, mode attGradMode) error {
	k, err := attentionKernel[T](o, a, in[:6], work, bf16)
	if err != nil {
		return err
	}
	k.SkipGateColumns = mode.skipU
	fwd, err := dense(o, 6, in[6])
	if err != nil {
		return err
	}
	dout, err := dense(o, 7, in[7])
	if err != nil {
		return err
	}
	if mode.gated {
		if !dout.Shape().Eq(tensor.Shape{a.B * a.L, a.E}) {
			return fmt.Errorf("%v: the gate's gradient has shape %v, want (%d, %d)", o, dout.Shape(), a.B*a.L, a.E)
		}
		return k.BackwardGated(data[T](fwd), data[T](dout), dx)
	}
	return k.Backward(data[T](fwd), data[T](dout), dx)
}

// UnpackOp copies the block [Row, Row+Rows) × [0, Cols) out of a packed
// matrix, as a matrix [Rows, Cols] or (Vector) a vector [Rows·Cols]: it
// splits AttentionGradOp's output into dX, dγq and dγk.
type UnpackOp struct {
	opBase
	Row, Rows, Cols int
	Vector          bool
}

func (o UnpackOp) Arity() int { return 1 }
func (o UnpackOp) Type() hm.Type {
	if o.Vector {
		return fn(tt(2, tvA), tt(1, tvA))
	}
	return fn(tt(2, tvA), tt(2, tvA))
}
func (o UnpackOp) shape() tensor.Shape {
	if o.Vector {
		return tensor.Shape{o.Rows * o.Cols}
	}
	return tensor.Shape{o.Rows, o.Cols}
}
func (o UnpackOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return o.shape(), nil }
func (o UnpackOp) String() string {
	return fmt.Sprintf("Unpack(row=%d,rows=%d,cols=%d,vec=%v)", o.Row, o.Rows, o.Cols, o.Vector)
}
func (o UnpackOp) WriteHash(h hash.Hash)             { writeHash(h, o) }
func (o UnpackOp) Hashcode() uint32                  { return hashOf(o) }
func (o UnpackOp) Do(in ...G.Value) (G.Value, error) { return o.UsePreallocDo(nil, in...) }
func (o UnpackOp) UsePreallocDo(p G.Value, in ...G.Value) (G.Value, error) {
	x, err := dense(o, 0, in[0])
	if err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) != 2 || o.Row+o.Rows > s[0] || o.Cols > s[1] {
		return nil, fmt.Errorf("%v: input %v too small", o, s)
	}
	out := outTensor(p, x.Dtype(), o.shape(), in...)
	switch x.Dtype() {
	case tensor.Float32:
		unpack(data[float32](out), data[float32](x), o.Row, o.Rows, o.Cols, s[1])
	case tensor.Float64:
		unpack(data[float64](out), data[float64](x), o.Row, o.Rows, o.Cols, s[1])
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", o, x.Dtype())
	}
	return out, nil
}

func unpack[T float32 | float64](dst, src []T, row, rows, cols, width int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*cols:(r+1)*cols], src[(row+r)*width:(row+r)*width+cols])
	}
}
