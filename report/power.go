package report

import (
	"fmt"
	"strings"

	"github.com/infoscale/gaualpha/verdict"
)

// Power renders a power analysis of claim 2's test: its alpha and power,
// a Markdown table of the comparisons with the smallest detectable
// difference at each number of documents, and the summary over the close
// comparisons.
func Power(p verdict.Power) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d comparisons; Holm's first step at alpha = %.4g; power %g; the exact sign-flip test reaches p < alpha from %d documents\n\n", p.Comparisons, p.Alpha, p.Power, p.MinUnits)
	fmt.Fprintf(&sb, "| comparator | its best configuration | mean Δacc | SD over %d documents | close |", p.Rows[0].Docs)
	for _, n := range p.N {
		fmt.Fprintf(&sb, " detectable at %d |", n)
	}
	sb.WriteString("\n|---|---|---:|---:|---|")
	for range p.N {
		sb.WriteString("---:|")
	}
	sb.WriteString("\n")
	for _, row := range p.Rows {
		fmt.Fprintf(&sb, "| %s | %s | %+.4f | %.4f | %v |", row.Label, row.Config, row.Mean, row.SD, row.Close)
		for i := range p.N {
			fmt.Fprintf(&sb, " %.4f |", row.Detectable[i])
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "\nClose comparisons (|mean| < %g): median SD %.4f, largest %.4f; smallest detectable difference at the median (largest) SD:", p.Close, p.MedianSD, p.MaxSD)
	for i, n := range p.N {
		fmt.Fprintf(&sb, " %d documents %.4f (%.4f);", n, p.Detectable[i], p.DetectableMax[i])
	}
	sb.WriteString("\n")
	return sb.String()
}
