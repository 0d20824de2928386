//go:build amd64 && !purego

package gemm

// peakLoops lists the FMA loops this CPU can run, widest first.
func peakLoops() []peakLoop {
	var ls []peakLoop
	if hasAVX512 {
		ls = append(ls, peakLoop{"512-bit FMA", 24 * 32, fmaPeak512})
	}
	if hasAVX2FMA {
		ls = append(ls, peakLoop{"256-bit FMA", 12 * 16, fmaPeak})
	}
	return ls
}

func peakLoopBF16() (peakLoop, bool) {
	if !hasAVX512BF16 {
		return peakLoop{}, false
	}
	return peakLoop{"bf16 dot (VDPBF16PS)", 24 * 64, dotPeakBF16}, true
}
