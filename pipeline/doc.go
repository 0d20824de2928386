// Package pipeline holds the conventions that the data pipeline shares with
// every kernel, on the CPU and on the GPU: the target id of a row that does
// not count in the loss, and the counter-based dropout stream (a step's key,
// and the keep/drop decision of every element as a pure function of the
// key, the dropout site and the element's index).
//
// It imports nothing of this module, so the data pipeline, the kernels and
// the metrics can all depend on it.
package pipeline

// IgnoreTarget marks a row of the masked-LM head whose prediction does not
// count (in the loss, the gradient and the metrics).
const IgnoreTarget = -1
