package analysis

import (
	"math"
	"runtime"

	"github.com/infoscale/gaualpha/eval"
	"github.com/infoscale/gaualpha/gau"
)

// The analyses estimate their memory from the sizes alone and refuse a run
// over the budget (-max-memory) before building a model or reading a test
// document. The estimates count what the code keeps live, in bytes, in
// float64 (an absurd length cannot overflow into a small figure). Checked
// against the peak resident set of real runs (GNU time's maximum resident
// set size; a checkpoint with h = 128, e = 256, d = 64, 3 layers,
// vocabulary 1499; one test document; GOMAXPROCS 2; a shared 2-core x86-64
// machine, 2026-12-06): per token row the estimate is 0.79 of the growth of
// the peak between L = 2048 and 16384 for entropy (-norm softmax) and 1.05
// between 2048 and 8192 for eta; heatmap at L = 8192 is estimated at
// 1.14 GiB and peaked at 1.13 GiB. They count host memory: on a GPU
// executor the forward pass's activations live on the device instead.

// forwardBytes is the memory of one analysis forward pass (NewProbe) at
// length L: eval.ForwardBytesFloat, plus every layer's kept input X = [u | v | z]
// (KeepLayerInputs) and the attention kernel's workspace of the analyses'
// calls (q and k before and after CosScale and the rotation, the rotation
// tables: 9 vectors of d per row), all float32.
func forwardBytes(cfg gau.Config, L int) float64 {
	e, d := float64(cfg.IntermediateSize), float64(cfg.KeySize)
	perRow := float64(cfg.NumLayers)*(2*e+d)*4 + 9*d*4
	return eval.ForwardBytesFloat(cfg, L) + perRow*float64(L-1)
}

// EntropyBytes is the memory of the entropy analysis at length L: the
// forward pass, one layer's attention output (e + 1 floats per row) and the
// row statistics (two float64 per row).
func EntropyBytes(cfg gau.Config, L int) float64 {
	return forwardBytes(cfg, L) + float64(L)*(float64(cfg.IntermediateSize+1)*4+2*8)
}

// BandBytes is the memory of the band analysis at length L with nw
// half-widths: the forward pass, one layer's attention output and a mass
// per row for each half-width (plus the entropy row statistics compute).
func BandBytes(cfg gau.Config, L, nw int) float64 {
	return forwardBytes(cfg, L) + float64(L)*(float64(cfg.IntermediateSize+1)*4+float64(nw+1)*8)
}

// EtaBytes is the memory of the eta analysis at length L: the forward pass,
// q and k before and after RoPE (four [L, d] float32), their unit rows in
// float64 (four [L, d]) and norms, and each worker's three rows of L.
func EtaBytes(cfg gau.Config, L int) float64 {
	d := float64(cfg.KeySize)
	workers := float64(max(1, runtime.GOMAXPROCS(0)))
	return forwardBytes(cfg, L) + float64(L)*(4*d*4+4*d*8+2*8+workers*3*8)
}

// HeatmapBytes is the memory of the heat maps of n models at length L: the
// two L×L float64 matrices of every model (kept for the figure), and one
// model's forward pass and q and k before and after RoPE at a time.
func HeatmapBytes(cfgs []gau.Config, L int) float64 {
	var mats, run float64
	for _, cfg := range cfgs {
		mats += 2 * 8 * float64(L) * float64(L)
		run = math.Max(run, forwardBytes(cfg, L)+float64(L)*4*float64(cfg.KeySize)*4)
	}
	return mats + run
}
