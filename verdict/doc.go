// Package verdict judges the study's claims (the paper's four, and from
// rules version 3 retention, long-range retrieval and InfoScale against its
// relatives) from the study's typed artifacts (package study) by versioned
// rules.
//
// The rules are data: a Rules value per version, each with the commit that
// fixed it (docs/analysis.md, "Verdict rules", writes every version down).
// The functions take typed inputs (suite rows, per-position scores,
// analysis tables, passkey tallies, validation losses) and return typed
// verdicts; they read no file and render nothing (package report writes
// REPORT.md). History records the verdicts of the committed runs before
// version 3, and PowerAnalysis sizes the test by documents.
package verdict
