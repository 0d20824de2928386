// Package study holds the paper's study as data: its plan (profiles, the
// parts that run the project's tools, where each model and output lives)
// and its typed artifacts, each written and read by one function with a
// versioned schema: suite.json and suite.csv, the per-position scores, the
// analyses' CSV tables (Table), the models' trainer states and metrics
// logs, the parts' timings and progress.
//
// Reading is strict: a missing or extra column or field is an error naming
// the file and the column, never a silent zero or NaN.
package study
