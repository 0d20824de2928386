//go:build !mpi

package mpi

import (
	"os"

	"github.com/infoscale/gaualpha/collective"
)

// Built reports whether this binary has MPI (-tags mpi).
const Built = false

// Open returns the one-process group, or an error when a launcher started
// several processes: this binary was built without -tags mpi.
func Open() (collective.Comm, error) {
	if err := checkSingle(Launcher(os.Getenv), "this binary was built without MPI: build it with `go build -tags mpi` (needs MPI's headers: Debian's libopenmpi-dev)"); err != nil {
		return nil, err
	}
	return collective.Single{}, nil
}

// isMPI is false: this build has no MPI.
func isMPI(collective.Comm) bool { return false }
