package mpi

import (
	"strings"
	"testing"
)

func TestLauncher(t *testing.T) {
	for _, c := range []struct {
		env     map[string]string
		by      string
		size    int
		single  bool   // checkSingle passes
		message string // in checkSingle's error
	}{
		{env: nil, size: -1, single: true},
		{env: map[string]string{"OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_RANK": "1"}, by: "mpirun (Open MPI)", size: 4,
			message: "mpirun (Open MPI) started 4 processes (OMPI_COMM_WORLD_SIZE=4)"},
		{env: map[string]string{"OMPI_COMM_WORLD_SIZE": "1"}, by: "mpirun (Open MPI)", size: 1, single: true},
		{env: map[string]string{"PMI_SIZE": "2", "PMI_RANK": "0"}, by: "PMI (MPICH, Intel MPI, srun --mpi=pmi2)", size: 2,
			message: "started 2 processes (PMI_SIZE=2)"},
		{env: map[string]string{"PMIX_RANK": "0"}, by: "PMIx (srun --mpi=pmix)", size: -1, message: "started several processes"},
		{env: map[string]string{"SLURM_STEP_NUM_TASKS": "8", "SLURM_PROCID": "3"}, by: "srun", size: 8, message: "srun started 8 processes"},
		{env: map[string]string{"SLURM_STEP_NUM_TASKS": "1", "SLURM_PROCID": "0"}, by: "srun", size: 1, single: true},
		{env: map[string]string{"SLURM_NTASKS": "8"}, size: -1, single: true}, // an sbatch script itself
		{env: map[string]string{"OMPI_COMM_WORLD_SIZE": "x"}, by: "mpirun (Open MPI)", size: -1, message: "started several processes (OMPI_COMM_WORLD_SIZE=x)"},
	} {
		l := Launcher(func(k string) string { return c.env[k] })
		if l.By != c.by || l.Size != c.size {
			t.Errorf("%v: launcher %q of %d, want %q of %d", c.env, l.By, l.Size, c.by, c.size)
		}
		err := checkSingle(l, "built without MPI")
		if c.single != (err == nil) {
			t.Errorf("%v: checkSingle: %v", c.env, err)
		}
		if err != nil && (!strings.Contains(err.Error(), c.message) || !strings.HasSuffix(err.Error(), "built without MPI")) {
			t.Errorf("%v: checkSingle: %q, want it to contain %q", c.env, err, c.message)
		}
	}
}
