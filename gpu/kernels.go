//go:build gpu || gpuemu

package gpu

import (
	"fmt"
	"math"

	"github.com/infoscale/gaualpha/pipeline"
)

// One Go function per kernel of kernels/cuda (except the attention, in
// attention.go). Every buffer is device memory holding float32 unless said
// otherwise; ids and targets are int64; a *BF16 variant reads its
// floating-point inputs as bfloat16 (see ToBF16) and writes float32. The
// functions queue work on the device's stream and return launch errors;
// errors the kernels detect (bad ids, bad targets) are reported by
// CheckErrors.

const threads = 256

// elemGrid is the launch grid of a grid-stride kernel over n elements.
func elemGrid(n int) [3]int {
	b := (n + threads - 1) / threads
	return [3]int{min(max(b, 1), 1<<16), 1, 1}
}

// rowGrid is the grid of a kernel with one block per row (grid-stride).
func rowGrid(rows int) [3]int { return [3]int{min(max(rows, 1), 1<<16), 1, 1} }

var block256 = [3]int{threads, 1, 1}

func checkSizes(name string, sizes ...int) error {
	for _, s := range sizes {
		if s < 0 {
			return fmt.Errorf("gpu: %s: negative size %d", name, s)
		}
	}
	return nil
}

// Swish writes y = x·σ(x) for n elements.
func (d *Device) Swish(y, x DevicePtr, n int) error {
	if err := checkSizes("Swish", n); err != nil || n == 0 {
		return err
	}
	return d.launch("gau_swish_f32", elemGrid(n), block256, 0, &swishArgs{Y: y, X: x, N: int64(n)})
}

// ToBF16 writes y = x rounded to bfloat16 (y holds n 16-bit patterns), bit
// for bit as the host's ToBF16.
func (d *Device) ToBF16(y, x DevicePtr, n int) error {
	if err := checkSizes("ToBF16", n); err != nil || n == 0 {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.toBF16Locked(y, x, n)
}

// toBF16Locked is ToBF16 for callers holding d.mu.
func (d *Device) toBF16Locked(y, x DevicePtr, n int) error {
	return d.launchLocked("gau_to_bf16_f32", elemGrid(n), block256, 0, &toBF16Args{Y: y, X: x, N: int64(n)})
}

// SwishGrad writes dx = dy·σ(x)·(1 + x·(1-σ(x))).
func (d *Device) SwishGrad(dx, x, dy DevicePtr, n int) error {
	if err := checkSizes("SwishGrad", n); err != nil || n == 0 {
		return err
	}
	return d.launch("gau_swish_grad_f32", elemGrid(n), block256, 0, &swishGradArgs{DX: dx, X: x, DY: dy, N: int64(n)})
}

// Norm writes y = x/sqrt(mean(x²)+1e-12) over rows of width n.
func (d *Device) Norm(y, x DevicePtr, rows, n int) error {
	if err := checkSizes("Norm", rows, n); err != nil || rows == 0 || n == 0 {
		return err
	}
	return d.launch("gau_norm_f32", rowGrid(rows), block256, 0, &normArgs{Y: y, X: x, Rows: int64(rows), N: int64(n)})
}

// NormGrad writes the gradient of Norm: dx = (dy - y·mean(dy⊙y))/rms(x).
func (d *Device) NormGrad(dx, x, dy DevicePtr, rows, n int) error {
	if err := checkSizes("NormGrad", rows, n); err != nil || rows == 0 || n == 0 {
		return err
	}
	return d.launch("gau_norm_grad_f32", rowGrid(rows), block256, 0, &normGradArgs{DX: dx, X: x, DY: dy, Rows: int64(rows), N: int64(n)})
}

// Gate writes y [rows, e] = u ⊙ O, u the first e columns of x (row width
// xw), O the first e columns of o (row width ow).
func (d *Device) Gate(y, x, o DevicePtr, rows, e, xw, ow int) error {
	if err := checkGate("Gate", rows, e, xw, ow); err != nil || rows*e == 0 {
		return err
	}
	return d.launch("gau_gate_f32", elemGrid(rows*e), block256, 0,
		&gateArgs{Y: y, X: x, O: o, Rows: int64(rows), E: int64(e), XW: int64(xw), OW: int64(ow)})
}

// GateGradX writes dx [rows, xw]: dy⊙O in the u columns, 0 elsewhere.
func (d *Device) GateGradX(dx, o, dy DevicePtr, rows, e, xw, ow int) error {
	if err := checkGate("GateGradX", rows, e, xw, ow); err != nil || rows*xw == 0 {
		return err
	}
	return d.launch("gau_gate_grad_x_f32", elemGrid(rows*xw), block256, 0,
		&gateGradXArgs{DX: dx, O: o, DY: dy, Rows: int64(rows), E: int64(e), XW: int64(xw), OW: int64(ow)})
}

// GateGradO writes do [rows, ow]: dy⊙u in the first e columns, 0 elsewhere.
func (d *Device) GateGradO(do, x, dy DevicePtr, rows, e, xw, ow int) error {
	if err := checkGate("GateGradO", rows, e, xw, ow); err != nil || rows*ow == 0 {
		return err
	}
	return d.launch("gau_gate_grad_o_f32", elemGrid(rows*ow), block256, 0,
		&gateGradOArgs{DOut: do, X: x, DY: dy, Rows: int64(rows), E: int64(e), XW: int64(xw), OW: int64(ow)})
}

func checkGate(name string, rows, e, xw, ow int) error {
	if err := checkSizes(name, rows, e, xw, ow); err != nil {
		return err
	}
	if e > xw || e > ow {
		return fmt.Errorf("gpu: %s: e = %d wider than the rows (%d, %d)", name, e, xw, ow)
	}
	return nil
}

// Add writes z = x + y.
func (d *Device) Add(z, x, y DevicePtr, n int) error {
	if err := checkSizes("Add", n); err != nil || n == 0 {
		return err
	}
	return d.launch("gau_add_f32", elemGrid(n), block256, 0, &addArgs{Z: z, X: x, Y: y, N: int64(n)})
}

// Dropout writes y = x·keep/(1-p) with cpu.Dropout's mask (the same hash of
// key, site and element index); p = 0 copies.
func (d *Device) Dropout(y, x DevicePtr, n int, p float64, key, site uint64) error {
	if !(p >= 0 && p < 1) {
		return fmt.Errorf("gpu: dropout %v outside [0, 1)", p)
	}
	if err := checkSizes("Dropout", n); err != nil || n == 0 {
		return err
	}
	return d.launch("gau_dropout_f32", elemGrid(n), block256, 0,
		&dropoutArgs{Y: y, X: x, N: int64(n), Thr: pipeline.DropThreshold(p), Inv: 1 / (1 - p), Key: key, Site: site})
}

// Unpack copies the block [row, row+rows) × [0, cols) of src (row width
// width) into dst [rows, cols]: the split of the attention backward's packed
// output.
func (d *Device) Unpack(dst, src DevicePtr, row, rows, cols, width int) error {
	if err := checkSizes("Unpack", row, rows, cols, width); err != nil || rows*cols == 0 {
		return err
	}
	if cols > width {
		return fmt.Errorf("gpu: Unpack: %d columns of rows %d wide", cols, width)
	}
	return d.launch("gau_unpack_f32", elemGrid(rows*cols), block256, 0,
		&unpackArgs{Dst: dst, Src: src, Row: int64(row), Rows: int64(rows), Cols: int64(cols), Width: int64(width)})
}

// Gather writes out row i = table row ids[i] (rows of width n, the table
// has tableRows rows). A bad id writes zeros and is reported by CheckErrors.
func (d *Device) Gather(out, table, ids DevicePtr, nids, n, tableRows int) error {
	if err := checkSizes("Gather", nids, n, tableRows); err != nil || nids*n == 0 {
		return err
	}
	return d.launch("gau_gather_f32", elemGrid(nids*n), block256, 0,
		&gatherArgs{Out: out, Table: table, IDs: ids, NIDs: int64(nids), N: int64(n), Rows: int64(tableRows), Flag: d.flag(flagIndex)})
}

// ScatterAdd zeroes dtable [tableRows, n] and adds row i of dout into row
// ids[i] (atomicAdd: the order of additions into a shared row is not fixed).
func (d *Device) ScatterAdd(dtable, dout, ids DevicePtr, nids, n, tableRows int) error {
	if err := checkSizes("ScatterAdd", nids, n, tableRows); err != nil || n*tableRows == 0 {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.drv.Memset32(dtable, 0, tableRows*n); err != nil {
		return err
	}
	if nids == 0 {
		return nil
	}
	return d.launchLocked("gau_scatter_add_f32", elemGrid(nids*n), block256, 0,
		&scatterAddArgs{DTable: dtable, DOut: dout, IDs: ids, NIDs: int64(nids), N: int64(n), Rows: int64(tableRows), Flag: d.flag(flagIndex)})
}

// CrossEntropy computes the masked cross entropy of logits [m, v] with int64
// targets [m] (-1: not counted), as cpu.CrossEntropy: out receives two
// float64, the mean loss over the counted rows (0 when none) and the count;
// loss32, when not 0, receives the loss as float32. Reproducible (no
// atomics).
func (d *Device) CrossEntropy(out, loss32, logits, targets DevicePtr, m, v int) error {
	if err := checkSizes("CrossEntropy", m, v); err != nil {
		return err
	}
	if m == 0 || v == 0 {
		return fmt.Errorf("gpu: CrossEntropy of %d×%d logits", m, v)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	count, err := d.scratchLocked("xent.count", 8)
	if err != nil {
		return err
	}
	rowloss, err := d.scratchLocked("xent.rowloss", 8*m)
	if err != nil {
		return err
	}
	if err := d.launchLocked("gau_xent_count_f32", [3]int{1, 1, 1}, block256, 0,
		&xentCountArgs{Count: count, Flag: d.flag(flagTarget), Targets: targets, M: int64(m), V: int64(v)}); err != nil {
		return err
	}
	if err := d.launchLocked("gau_xent_rows_f32", rowGrid(m), block256, 0,
		&xentRowsArgs{RowLoss: rowloss, Logits: logits, Targets: targets, M: int64(m), V: int64(v)}); err != nil {
		return err
	}
	return d.launchLocked("gau_xent_reduce_f32", [3]int{1, 1, 1}, block256, 0,
		&xentReduceArgs{Out: out, Loss32: loss32, RowLoss: rowloss, Count: count, M: int64(m)})
}

// CrossEntropyGrad writes the gradient of scale·CrossEntropy with respect
// to the logits (cpu.CrossEntropyGrad); scaleDev, when not 0, points to a
// float32 on the device that multiplies scale (the upstream gradient).
func (d *Device) CrossEntropyGrad(dlogits, logits, targets DevicePtr, m, v int, scale float64, scaleDev DevicePtr) error {
	if err := checkSizes("CrossEntropyGrad", m, v); err != nil || m*v == 0 {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	count, err := d.scratchLocked("xent.count", 8)
	if err != nil {
		return err
	}
	if err := d.launchLocked("gau_xent_count_f32", [3]int{1, 1, 1}, block256, 0,
		&xentCountArgs{Count: count, Flag: d.flag(flagTarget), Targets: targets, M: int64(m), V: int64(v)}); err != nil {
		return err
	}
	return d.launchLocked("gau_xent_grad_f32", rowGrid(m), block256, 0, &xentGradArgs{DLogits: dlogits, Logits: logits,
		Targets: targets, Count: count, M: int64(m), V: int64(v), Scale: scale, ScaleDev: scaleDev})
}

// AdamWParams are the settings of one AdamW update (optim.AdamW).
type AdamWParams struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// Step is the 1-based update count t (optim.AdamW.Step after its increment).
	Step int
	// Decay applies weight decay to this tensor.
	Decay bool
}

// AdamW updates n parameters p in place from gradients g and the moments m
// and v (PyTorch's rule, as optim.AdamW.Update).
func (d *Device) AdamW(p, g, m, v DevicePtr, n int, a AdamWParams) error {
	if err := checkSizes("AdamW", n); err != nil || n == 0 {
		return err
	}
	if a.Step < 1 {
		return fmt.Errorf("gpu: AdamW step %d, want >= 1", a.Step)
	}
	bc1 := 1 - math.Pow(a.Beta1, float64(a.Step))
	bc2 := 1 - math.Pow(a.Beta2, float64(a.Step))
	decay := float32(1)
	if a.Decay {
		decay = float32(1 - a.LR*a.WeightDecay)
	}
	return d.launch("gau_adamw_f32", elemGrid(n), block256, 0, &adamwArgs{P: p, G: g, M: m, V: v, N: int64(n),
		B1: a.Beta1, B2: a.Beta2, Eps: a.Eps, Step: a.LR / bc1, SqrtBC2: math.Sqrt(bc2), Decay: float64(decay)})
}

// SquaredNorm adds Σ x² (float64) to *out; zero out first (Fill32), then call
// it for each gradient tensor.
func (d *Device) SquaredNorm(out, x DevicePtr, n int) error {
	if err := checkSizes("SquaredNorm", n); err != nil || n == 0 {
		return err
	}
	return d.launch("gau_sqnorm_f32", [3]int{min(elemGrid(n)[0], 1024), 1, 1}, block256, 0, &sqnormArgs{Out: out, X: x, N: int64(n)})
}

// Clip is optim.ClipGradNorm's scaling with the squared norm on the device
// (from SquaredNorm): x *= float32(maxNorm/(norm+1e-6)) when maxNorm > 0 and
// the norm is finite and above maxNorm.
func (d *Device) Clip(x DevicePtr, n int, sqnorm DevicePtr, maxNorm float64) error {
	if err := checkSizes("Clip", n); err != nil || n == 0 {
		return err
	}
	return d.launch("gau_clip_f32", elemGrid(n), block256, 0, &clipArgs{X: x, N: int64(n), SqNorm: sqnorm, MaxNorm: maxNorm})
}
