// Package figures draws the study's PNG figures (gonum/plot) from its
// tables (package study) and the analyses' results (package analysis):
// entropy against length, the cosine histograms and η1* against CosScale,
// attention mass near the diagonal, the q·k heat maps, accuracy and loss
// curves, the spectral test-set selection and training losses.
package figures
