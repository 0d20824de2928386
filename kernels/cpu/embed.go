package cpu

import "fmt"

// Gather writes rows ids[i] of table (row width n) into out row i.
func Gather[T Float](out, table []T, ids []int, n int) error {
	rows := len(table) / n
	for i, id := range ids {
		if id < 0 || id >= rows {
			return fmt.Errorf("gather: index %d out of range [0, %d)", id, rows)
		}
		copy(out[i*n:(i+1)*n], table[id*n:(id+1)*n])
	}
	return nil
}

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
