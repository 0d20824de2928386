// Package archtest holds the test that keeps the module's import graph
// pointing downward: every package has a level (docs/design.md draws
// them), and a package imports only packages of lower levels. It has no
// code of its own.
package archtest
