package mpi

import (
	"fmt"
	"io"

	"github.com/infoscale/gaualpha/collective"
	"github.com/infoscale/gaualpha/internal/cli"
)

// Main is a command's main function: cli.Main under the given name, its
// body run as one member of the group Open returns (see Run).
func Main(name string, run func(c collective.Comm, args []string, stdout, stderr io.Writer) error) {
	cli.Main(name, func(args []string, stdout, stderr io.Writer) error {
		return Run(func(c collective.Comm) error { return run(c, args, stdout, stderr) })
	})
}

// Run runs a command's body f as one member of the group Open returns.
// When f succeeds the group is closed (MPI_Finalize, after every member's
// last collective). When it fails in a group of several, the error names
// the rank and the group is left open: the process exits non-zero without
// finalizing, and the launcher (mpirun, srun) stops the other members,
// which may be waiting for it in a collective.
func Run(f func(c collective.Comm) error) error {
	c, err := Open()
	if err != nil {
		return err
	}
	return RunWith(c, f)
}

// RunWith is Run on a group the caller opened (a Local group's member in
// tests); a failing member of a Local group closes it, which releases the
// others.
func RunWith(c collective.Comm, f func(c collective.Comm) error) error {
	err := f(c)
	if err == nil {
		return c.Close()
	}
	if c.Size() > 1 {
		if !isMPI(c) {
			c.Close()
		}
		return fmt.Errorf("rank %d of %d: %w", c.Rank(), c.Size(), err)
	}
	c.Close()
	return err
}
