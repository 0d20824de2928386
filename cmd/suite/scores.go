package main

import "path/filepath"

// scoresName is a configuration's per-position scores file (eval.WriteScores),
// relative to the suite's output directory: scores/cosS/METHOD.NORM.csv.gz.
func scoresName(tag, method, norm string) string {
	return filepath.ToSlash(filepath.Join("scores", tag, method+"."+norm+".csv.gz"))
}
