// Package stats holds the paired statistics and the verdict rules of the
// study (docs/analysis.md, "Verdict rules"): McNemar's exact test on paired
// right/wrong outcomes, a paired bootstrap over documents with a seeded
// generator, Holm's correction, Spearman's rank correlation with an exact
// permutation p-value, grouping of configurations with identical
// predictions, and the four-outcome verdict.
//
// It is a leaf package: it knows nothing of models or evaluations, only of
// numbers per scored position and per document.
package stats
