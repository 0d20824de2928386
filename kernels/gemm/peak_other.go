//go:build !amd64 || purego

package gemm

func peakLoops() []peakLoop { return nil }

func peakLoopBF16() (peakLoop, bool) { return peakLoop{}, false }
