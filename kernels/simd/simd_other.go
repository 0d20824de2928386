//go:build !amd64 || purego

package simd

// No assembly on this platform: the pure Go implementation is used.
var asmImpls []implEntry
