package cpu

import (
	"fmt"

	"github.com/infoscale/gaualpha/kernels/parallel"
)

// Gather writes rows ids[i] of table (row width n) into out row i.
func Gather[T Float](out, table []T, ids []int, n int) error {
	rows := len(table) / n
	for _, id := range ids {
		if id < 0 || id >= rows {
			return fmt.Errorf("gather: index %d out of range [0, %d)", id, rows)
		}
	}
	if is32[T]() && len(ids)*n >= parallelMin {
		gatherJob.Each(len(ids), max(1, grain(len(ids)*n)/n), 0, gatherArgs{out: asF32(out), table: asF32(table), ids: ids, n: n})
		return nil
	}
	for i, id := range ids {
		copy(out[i*n:(i+1)*n], table[id*n:(id+1)*n])
	}
	return nil
}

type gatherArgs struct {
	out, table []float32
	ids        []int
	n          int
}

var gatherJob = parallel.Job[gatherArgs]{Body: func(a *gatherArgs, _, lo, hi int) {
	n := a.n
	for i := lo; i < hi; i++ {
		id := a.ids[i]
		copy(a.out[i*n:(i+1)*n], a.table[id*n:(id+1)*n])
	}
}}

// ScatterAdd is the adjoint of Gather: it zeroes dtable then adds row i of
// dout into row ids[i].
func ScatterAdd[T Float](dtable, dout []T, ids []int, n int) error {
	clear(dtable)
	rows := len(dtable) / n
	for i, id := range ids {
		if id < 0 || id >= rows {
			return fmt.Errorf("scatter: index %d out of range [0, %d)", id, rows)
		}
		addTo2(dtable[id*n:(id+1)*n], dtable[id*n:(id+1)*n], dout[i*n:(i+1)*n])
	}
	return nil
}
