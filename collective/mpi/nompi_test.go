//go:build !mpi

package mpi_test

import (
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/collective/mpi"
)

// Without MPI, a process mpirun started as one of several refuses to run
// alone; otherwise it is the one-process group.
func TestOpenWithoutMPI(t *testing.T) {
	for _, v := range []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_STEP_NUM_TASKS", "SLURM_PROCID"} {
		t.Setenv(v, "")
	}
	c, err := mpi.Open()
	if err != nil || c != (collective.Single{}) {
		t.Fatalf("Open with no launcher: %v, %v; want the one-process group", c, err)
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	if _, err := mpi.Open(); err == nil || !strings.Contains(err.Error(), "go build -tags mpi") {
		t.Errorf("Open under mpirun -np 2 without MPI: %v", err)
	}
}
