//go:build mpi

package mpi_test

import (
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
