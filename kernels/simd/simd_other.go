//go:build !amd64 || purego

package simd

// No assembly on this platform: the pure Go implementation is used.
var asmImpls []implEntry

// Prefetch asks the CPU to bring the cache lines of x into its caches; on
// this platform it does nothing.
func Prefetch(x []float32) {}
