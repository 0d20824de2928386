package verdict

import "fmt"

// Outcome is a claim's verdict.
type Outcome int

// The four outcomes of a verdict (docs/analysis.md, "Four outcomes").
const (
	Inconclusive Outcome = iota
	Supported
	PartlySupported
	NotSupported
)

var outcomeNames = []string{"inconclusive", "supported", "partly supported", "not supported"}

// String returns the outcome as the report writes it.
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// Result is the result of one paired comparison of "ours" against a
// comparator.
type Result int

// The results of a comparison.
const (
	Tie Result = iota
	Win
	Loss
)

// String names the result.
func (r Result) String() string { return [...]string{"tie", "win", "loss"}[r] }

// Missing is the error of a claim whose inputs have not been produced (or
// cannot be used): What names them.
type Missing struct{ What string }

func (m Missing) Error() string { return m.What + " has not been produced yet" }
