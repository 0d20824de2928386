package cli

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/infoscale/gaualpha/internal/host"
)

// Budget is the memory a command may plan to use, and where the figure
// came from (for the refusal message).
type Budget struct {
	Bytes  int64
	Source string
}

// MemoryBudget turns a -max-memory value in GiB into a budget: gib > 0 is
// taken as given; 0 means the memory available now (MemAvailable in
// /proc/meminfo). Negative, NaN and infinite values are errors naming the
// flag.
func MemoryBudget(flagName string, gib float64) (Budget, error) {
	switch {
	case math.IsNaN(gib) || math.IsInf(gib, 0) || gib < 0:
		return Budget{}, fmt.Errorf("-%s %v must be a finite number of GiB >= 0 (0: the memory available now)", flagName, gib)
	case gib > 0:
		if gib >= math.MaxInt64/(1<<30) {
			return Budget{}, fmt.Errorf("-%s %v GiB is beyond any machine", flagName, gib)
		}
		return Budget{Bytes: int64(gib * (1 << 30)), Source: "-" + flagName}, nil
	}
	avail, err := host.MemAvailable()
	if err != nil {
		return Budget{}, fmt.Errorf("-%s 0 means the available memory, which is unknown here (%v); give -%s in GiB", flagName, err, flagName)
	}
	return Budget{Bytes: avail, Source: "the available memory (MemAvailable in /proc/meminfo; -" + flagName + " sets another)"}, nil
}

// Check returns an error when need bytes exceed the budget: what needs
// them, both figures in GiB and the budget's source, on one line.
func (b Budget) Check(what string, need int64) error {
	if need <= b.Bytes {
		return nil
	}
	return fmt.Errorf("%s needs about %s, over the memory budget of %s, %s", what, GiB(need), GiB(b.Bytes), b.Source)
}

// SoftLimit makes the budget the Go collector's soft memory limit
// (runtime/debug.SetMemoryLimit), unless GOMEMLIMIT sets one: an estimate
// counts the live memory, and the collector would otherwise let garbage
// grow the heap to twice that before collecting.
func (b Budget) SoftLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(b.Bytes)
	}
}

// GiB formats a byte count in GiB with one decimal (three below 1 GiB).
func GiB(n int64) string {
	g := float64(n) / (1 << 30)
	if g < 1 {
		return strconv.FormatFloat(g, 'f', 3, 64) + " GiB"
	}
	return strconv.FormatFloat(g, 'f', 1, 64) + " GiB"
}
