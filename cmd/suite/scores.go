package main

import (
	"path/filepath"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/metrics"
)

// scoresName is a configuration's per-position scores file (eval.WriteScores),
// relative to the suite's output directory: scores/cosS/METHOD.NORM.csv.gz.
func scoresName(tag, method, norm string) string {
	return filepath.ToSlash(filepath.Join("scores", tag, method+"."+norm+".csv.gz"))
}

// docTallies sums a result's scores per test document (ndocs documents).
func docTallies(res eval.Result, ndocs int) []metrics.Tally {
	dt := make([]metrics.Tally, ndocs)
	for _, s := range res.Scores {
		t := &dt[s.Doc]
		t.Count++
		if s.Correct {
			t.Correct++
		}
		t.SumLoss += s.Loss
	}
	return dt
}
