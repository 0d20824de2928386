// Package report writes a study's REPORT.md: the verdicts of package
// verdict on the paper's four claims, computed from the study's typed
// artifacts (package study), rendered as Markdown with the tables, the
// plots, the models, the parts' commands and wall times, and the setup.
package report
