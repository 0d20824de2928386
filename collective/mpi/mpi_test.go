//go:build mpi

package mpi_test

import (
	"fmt"
	"testing"

	"github.com/infoscale/gaualpha/collective/internal/commtest"
	"github.com/infoscale/gaualpha/collective/mpi"
)

// TestWorld checks every collective on the processes mpirun started (run
// the test binary under mpirun, as .ci/run does: go test -c -tags mpi,
// then mpirun -np 3 mpi.test); run alone it checks the one-process group.
func TestWorld(t *testing.T) {
	c, err := mpi.Open()
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := c.(*mpi.Comm); ok {
		t.Logf("rank %d of %d (local rank %d), %s", c.Rank(), c.Size(), c.LocalRank(), m.Library())
	} else {
		t.Logf("no launcher: the one-process group")
	}
	if err := commtest.Check(c); err != nil {
		t.Error(err)
	}
	if _, err := mpi.Open(); c.Size() > 1 && err == nil {
		t.Error("a second Open: no error")
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if c.Size() > 1 {
		if err := c.Barrier(); err == nil {
			t.Error("a collective after Close: no error")
		}
	}
}

// BenchmarkAllReduceSum32 times the sum of a float32 buffer over the
// processes mpirun started, at the default model's gradient size (0.51 M
// floats with the embeddings of the embedded corpus's vocabulary) and the
// paper model's (31 M: 21.8 M in its layers, 9.2 M in the embeddings);
// every process must run the same iterations: -test.benchtime Nx, e.g.
//
//	mpirun -np 2 mpi.test -test.run '^$' -test.bench AllReduce -test.benchtime 50x
func BenchmarkAllReduceSum32(b *testing.B) {
	c, err := mpi.Open() // once per process (so without TestWorld: -test.run '^$')
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	for _, n := range []int{512_000, 31_000_000} {
		b.Run(fmt.Sprintf("floats=%d", n), func(b *testing.B) {
			buf := make([]float32, n)
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				if err := c.AllReduceSum32(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
