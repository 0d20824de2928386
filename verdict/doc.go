// Package verdict judges the paper's four claims from the study's typed
// artifacts (package study) by versioned rules.
//
// The rules are data: a Rules value per version, each with the commit that
// fixed it (docs/analysis.md, "Verdict rules", writes the current one
// down). The functions take typed inputs (suite rows, per-position
// scores, analysis tables, validation losses) and return typed verdicts;
// they read no file and render nothing (package report writes REPORT.md).
package verdict
