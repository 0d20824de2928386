package gau

import (
	"testing"

	"github.com/infoscale/gaualpha/graph"
)

// cpuMachine returns the CPU executor of the model's outputs.
func cpuMachine(t testing.TB, m *Model) *graph.Machine {
	t.Helper()
	mach, err := graph.NewMachine(m.Graph, m.Outputs()...)
	if err != nil {
		t.Fatal(err)
	}
	return mach
}
