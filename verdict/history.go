package verdict

// The claims, as keys of a run's verdicts.
const (
	ClaimEntropy       = "entropy"
	ClaimExtrapolation = "extrapolation"
	ClaimRetention     = "retention"
	ClaimEta           = "eta"
	ClaimWindow        = "window"
	ClaimRetrieval     = "retrieval"
	ClaimRelatives     = "relatives"
)

// Claims lists the claims in the report's order.
func Claims() []string {
	return []string{ClaimEntropy, ClaimExtrapolation, ClaimRetention, ClaimEta, ClaimWindow, ClaimRetrieval, ClaimRelatives}
}

// PastRun is the record of a committed run of the CPU study: when, the
// commit that committed its results, the rule version that judged it, its
// verdicts as its REPORT.md gave them (absent: the claim was not judged),
// and what changed from the run before.
type PastRun struct {
	Date, Commit string
	Rules        int
	Verdicts     map[string]string
	Changes      string
}

// History lists the committed runs of the CPU study before the rules of
// version 3, oldest first (results/REPORT.md in the commits named).
func History() []PastRun {
	return []PastRun{
		{
			Date: "2026-11-27", Commit: "05c2f99", Rules: 1,
			Verdicts: map[string]string{
				ClaimEntropy: "partly supported", ClaimExtrapolation: "not supported",
				ClaimEta: "not supported", ClaimWindow: "supported",
			},
			Changes: "the first run: point estimates, one seed, 10 test documents; claim 2 by rank at 64x (InfoScale + CosScale 24th of 60 configurations), claim 3 on the unweighted all-pairs η1* (ρ = 0.09)",
		},
		{
			Date: "2026-12-06", Commit: "fbdd13f", Rules: 2,
			Verdicts: map[string]string{
				ClaimEntropy: "partly supported", ClaimExtrapolation: "not supported",
				ClaimEta: "partly supported", ClaimWindow: "supported",
			},
			Changes: "paired statistics (McNemar over the 2560 positions for claim 2, bootstrap over documents), the exclusion rule (the s = 256 sweep model and the three ALiBi fine-tunes out), claim 3 on the attention-weighted η1* by a permutation test (p = 0.053: partly supported; supported under the old ρ >= 0.4 threshold), fine-tuned PI at 4·n0, the fast protocol calibrated against the paper's; one seed, comparators chosen on the test documents",
		},
	}
}
