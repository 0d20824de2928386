// Package mpi opens the group of processes a launcher started, as a
// collective.Comm: mpirun (Open MPI, MPICH) or Slurm's srun. Built with
// -tags mpi it calls MPI's C API through cgo (Open MPI's libmpi; Debian's
// libopenmpi-dev provides mpi.h and the pkg-config file ompi-c); without
// the tag it has no MPI and Open returns the one-process group, or an
// error when a launcher started several processes.
//
// Every MPI call runs on one goroutine locked to the OS thread that
// initialised MPI (MPI_THREAD_FUNNELED), so the Go scheduler's moves
// between threads never reach MPI, and one collective runs at a time.
package mpi

import (
	"fmt"
	"strconv"
)

// Launch describes how the environment says this process was started.
type Launch struct {
	// By names the launcher whose variables were found ("" when none):
	// "mpirun (Open MPI)", "PMI (MPICH, Intel MPI, srun --mpi=pmi2)",
	// "PMIx (srun --mpi=pmix)" or "srun".
	By string
	// Size is the number of processes the launcher started, -1 when its
	// variables do not say.
	Size int
	// Var is the variable that gave Size (or named the launcher), Value
	// its value.
	Var, Value string
}

// Launcher reads the launchers' environment variables: Open MPI's
// OMPI_COMM_WORLD_SIZE, the PMI's PMI_SIZE, PMIx's PMIX_RANK, Slurm's
// SLURM_STEP_NUM_TASKS (srun), in that order.
func Launcher(getenv func(string) string) Launch {
	launch := func(by, v string, sized bool) Launch {
		l := Launch{By: by, Size: -1, Var: v, Value: getenv(v)}
		if n, err := strconv.Atoi(l.Value); sized && err == nil && n >= 1 {
			l.Size = n
		}
		return l
	}
	switch {
	case getenv("OMPI_COMM_WORLD_SIZE") != "":
		return launch("mpirun (Open MPI)", "OMPI_COMM_WORLD_SIZE", true)
	case getenv("PMI_SIZE") != "":
		return launch("PMI (MPICH, Intel MPI, srun --mpi=pmi2)", "PMI_SIZE", true)
	case getenv("PMIX_RANK") != "":
		return launch("PMIx (srun --mpi=pmix)", "PMIX_RANK", false)
	case getenv("SLURM_STEP_NUM_TASKS") != "" && getenv("SLURM_PROCID") != "":
		return launch("srun", "SLURM_STEP_NUM_TASKS", true)
	}
	return Launch{Size: -1}
}

// checkSingle returns an error when l started more than one process (or
// an unknown number) for a binary that can only be one: without MPI, each
// would train alone and race for the run folder.
func checkSingle(l Launch, why string) error {
	if l.By == "" || l.Size == 1 {
		return nil
	}
	n := "several"
	if l.Size > 1 {
		n = strconv.Itoa(l.Size)
	}
	return fmt.Errorf("%s started %s processes (%s=%s), but %s", l.By, n, l.Var, l.Value, why)
}
