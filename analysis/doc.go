// Package analysis holds the paper's analyses of attention in trained
// GAU-α checkpoints: attention entropy against length, the peak η1* of the
// q·k cosine distribution against CosScale, attention mass near the
// diagonal, and q·k heat maps. Each runs the model's forward pass on any
// executor (a backend.Backend: the CPU, or the GPU at the paper's size),
// takes every layer's attention inputs from the run, and computes its
// statistics from the CPU attention kernel with those inputs, so they are
// the same whichever executor ran the model.
//
// An analysis refuses what it cannot use, with an error naming what and
// where: a non-finite value in a layer's input or in an attention row, a
// layer with no rows. It never drops a row. The results are the study's
// tables (package study).
package analysis
