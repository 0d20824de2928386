package report

import (
	"strings"
	"testing"

	"github.com/infoscale/gaualpha/verdict"
)

// The power analysis renders a row per comparison with a column per number
// of documents, and the summary over the close comparisons.
func TestPower(t *testing.T) {
	p := verdict.Power{Comparisons: 2, Alpha: 0.025, Power: 0.8, N: []int{10, 20}, MinUnits: 6,
		Rows: []verdict.PowerRow{
			{Label: "NTK", Config: "cos0/ntk/softmax", Docs: 10, Mean: 0.01, SD: 0.02, Close: true, Detectable: []float64{0.03, 0.02}},
			{Label: "ALiBi", Config: "cos0/alibi/softmax", Docs: 10, Mean: -0.2, SD: 0.05, Detectable: []float64{0.07, 0.05}},
		},
		Close: 0.05, MedianSD: 0.02, MaxSD: 0.02, Detectable: []float64{0.03, 0.02}, DetectableMax: []float64{0.03, 0.02}}
	got := Power(p)
	for _, want := range []string{
		"2 comparisons; Holm's first step at alpha = 0.025; power 0.8; the exact sign-flip test reaches p < alpha from 6 documents\n",
		"| comparator | its best configuration | mean Δacc | SD over 10 documents | close | detectable at 10 | detectable at 20 |\n|---|---|---:|---:|---|---:|---:|\n",
		"| NTK | cos0/ntk/softmax | +0.0100 | 0.0200 | true | 0.0300 | 0.0200 |\n",
		"| ALiBi | cos0/alibi/softmax | -0.2000 | 0.0500 | false | 0.0700 | 0.0500 |\n",
		"median SD 0.0200, largest 0.0200; smallest detectable difference at the median (largest) SD: 10 documents 0.0300 (0.0300); 20 documents 0.0200 (0.0200);\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	rows := p.Table()
	if len(rows) != 4 || rows[1].Comparator != "NTK" || rows[1].Docs != 20 || rows[1].Detectable != 0.02 || rows[2].Comparator != "ALiBi" || rows[2].Close {
		t.Errorf("power.csv rows %+v", rows)
	}
}
