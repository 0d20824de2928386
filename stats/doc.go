// Package stats holds the paired statistics of the study (docs/analysis.md,
// "Verdict rules"; package verdict applies them): McNemar's exact test on
// paired right/wrong outcomes, a paired bootstrap over documents with a
// seeded generator, Holm's correction, Spearman's rank correlation with an
// exact permutation p-value, grouping of configurations with identical
// predictions, and the median.
//
// It is a leaf package: it knows nothing of models or evaluations, only of
// numbers per scored position and per document.
package stats
