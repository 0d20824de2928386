package benchmark

import (
	"fmt"
	"math"
	"syscall"
	"time"

	"github.com/infoscale/gaualpha/gau"
	"github.com/infoscale/gaualpha/kernels/gemm"
)

// Peak is the machine's measured arithmetic peak, against which the
// report puts each case's matrix-product rate.
type Peak struct {
	Unit    string  // the loop: "512-bit FMA" or "256-bit FMA"
	Threads int     // the threads of the run (-threads)
	PerCore float64 // GFLOP/s of the loop on one thread
	All     float64 // GFLOP/s on Threads threads at once
	BF16    float64 // GFLOP/s of the VDPBF16PS loop on Threads threads; 0 without AVX512_BF16
	// OtherCores is the average number of cores other processes kept busy
	// during the measurement (-1: unknown).
	OtherCores float64
}

// peakDuration is how long each peak loop runs.
const peakDuration = time.Second

// MeasurePeak runs kernels/gemm's FMA loop at the widest vector width the
// CPU has, on one thread and on threads threads (and the bfloat16 loop
// where the CPU has one), each for about a second; nil where there is no
// such loop.
func MeasurePeak(threads int) *Peak {
	before, own0, t0 := readCPU(), selfCPU(), time.Now()
	one, ok := gemm.MeasurePeak(1, peakDuration)
	if !ok {
		return nil
	}
	all, _ := gemm.MeasurePeak(threads, peakDuration)
	p := &Peak{Unit: one.Unit, Threads: threads, PerCore: one.GFLOPS, All: all.GFLOPS}
	if b, ok := gemm.MeasurePeakBF16(threads, peakDuration); ok {
		p.BF16 = b.GFLOPS
	}
	p.OtherCores = -1
	if after, wall := readCPU(), time.Since(t0); before.ok && after.ok && wall > 0 {
		p.OtherCores = max(0, after.busy-before.busy-(selfCPU()-own0).Seconds()) / wall.Seconds()
	}
	return p
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Describe is the report's line about the peak.
func (p *Peak) Describe() string {
	s := fmt.Sprintf("float32 FMA peak (kernels/gemm's %s loop, measured at the start of the run): %.0f GFLOP/s on one thread, %.0f GFLOP/s on %d threads",
		p.Unit, p.PerCore, p.All, p.Threads)
	if p.BF16 > 0 {
		s += fmt.Sprintf("; bfloat16 products (VDPBF16PS loop): %.0f GFLOP/s on %d threads", p.BF16, p.Threads)
	}
	if p.OtherCores >= BusyThreshold {
		s += fmt.Sprintf(" † (other processes kept %.2f cores busy meanwhile: the peak is understated and the share column overstated; rerun on a quiet machine)", p.OtherCores)
	}
	return s
}

// share formats a case's matrix-product rate as a share of the peak: its
// flops (caseFlops) per second of its median time over the float32 FMA
// peak on the run's threads (the bfloat16 peak for bf16 cases); "—" when
// unknown.
func (p *Peak) share(c Case, res *Result) string {
	if p == nil || res == nil || res.Seconds <= 0 {
		return "—"
	}
	flops := caseFlops(c, res.Vocab)
	peak := p.All
	if c.Kind == kindSgemmBF16 || c.Precision == "bf16" {
		peak = p.BF16
	}
	if flops <= 0 || peak <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*flops/res.Seconds/1e9/peak)
}

// caseFlops counts the floating-point operations of the matrix products of
// one run of c (2 per multiply-add): the linear layers and the attention
// products Q·Kᵀ and P·V, the tied output head where it runs; the backward
// pass counted as twice the forward (the attention backward's recomputed
// scores are not counted); elementwise work not at all. 0 for cases whose
// work is not of that kind (idle, windowed attention). vocab is the
// model's vocabulary size as the case reported it.
func caseFlops(c Case, vocab int) float64 {
	if c.Kind == kindSgemm || c.Kind == kindSgemmBF16 {
		cfg, _, err := c.modelConfig()
		if err != nil {
			return 0
		}
		var f float64
		for _, s := range layerShapes(cfg, c.B*c.L) {
			f += 2 * float64(s.m) * float64(s.n) * float64(s.k)
		}
		return f
	}
	if c.Kind == kindIdle || c.Kind == kindCmdTrain || c.Method == "window" {
		return 0
	}
	cfg, _, err := c.modelConfig()
	if err != nil {
		return 0
	}
	B, L := float64(c.B), float64(c.L)
	h, e, d := float64(cfg.HiddenSize), float64(cfg.IntermediateSize), float64(cfg.KeySize)
	attn := 2 * B * L * L * (d + e)
	layer := 2*B*L*h*(2*e+d) + attn + 2*B*L*e*h
	if vocab <= 0 {
		vocab = cfg.VocabSize
	}
	switch c.Kind {
	case kindAttnFwd:
		return attn
	case kindAttnBwd:
		return 2 * attn
	case kindLayerFwd:
		return layer
	case kindLayerFwdBwd:
		return 3 * layer
	case kindTrain:
		masked := 0.15 * B * (L - 2) // the masked positions through the head
		return 3 * (float64(cfg.NumLayers)*layer + 2*masked*h*float64(vocab))
	case kindEval:
		heads := B // one masked position per sequence
		if c.Stride > 0 {
			heads = B * math.Ceil((L-float64(c.Stride/2))/float64(c.Stride))
		}
		return float64(cfg.NumLayers)*layer + 2*heads*h*float64(vocab)
	}
	return 0
}

// layerShapes lists the linear-layer products of one GAU layer's forward
// and backward pass over n tokens (op(A) m×k times op(B) k×n, with the
// transposes the graph uses): the input projection X·W_iᵀ to the
// 2e+d-wide u|v|z and its two gradients, then the same for the output
// projection.
func layerShapes(cfg gau.Config, n int) []sgemmShape {
	h, e, d := cfg.HiddenSize, cfg.IntermediateSize, cfg.KeySize
	w := 2*e + d
	return []sgemmShape{
		{"X·W_iᵀ", false, true, n, w, h},
		{"dU·W_i", false, false, n, h, w},
		{"dUᵀ·X", true, false, w, h, n},
		{"Y·W_oᵀ", false, true, n, h, e},
		{"dO·W_o", false, false, n, e, h},
		{"dOᵀ·Y", true, false, h, e, n},
	}
}
