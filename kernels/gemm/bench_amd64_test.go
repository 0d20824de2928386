//go:build amd64 && !purego

package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkPeakFMA measures the FMA throughput of one core (12 independent
// 8-lane FMA chains) and the core clock (a chain of dependent one-cycle
// adds): the roofline the kernel is compared with.
func BenchmarkPeakFMA(b *testing.B) {
	if !hasAVX2FMA {
		b.Skip("no AVX2/FMA")
	}
	b.Run("fma", func(b *testing.B) {
		const iters = 1 << 20
		cpu0 := processCPU()
		for b.Loop() {
			fmaPeak(iters)
		}
		flops := float64(b.N) * iters * 12 * 16
		b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		if cpu := processCPU() - cpu0; cpu > 0 && cpu0 > 0 {
			b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/s-cpu")
		}
	})
	b.Run("fma512", func(b *testing.B) {
		if !hasAVX512 {
			b.Skip("no AVX-512F")
		}
		const iters = 1 << 20
		cpu0 := processCPU()
		for b.Loop() {
			fmaPeak512(iters)
		}
		flops := float64(b.N) * iters * 24 * 32
		b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		if cpu := processCPU() - cpu0; cpu > 0 && cpu0 > 0 {
			b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/s-cpu")
		}
	})
	b.Run("bf16dot", func(b *testing.B) {
		if !hasAVX512BF16 {
			b.Skip("no AVX512_BF16")
		}
		const iters = 1 << 20
		cpu0 := processCPU()
		for b.Loop() {
			dotPeakBF16(iters)
		}
		flops := float64(b.N) * iters * 24 * 64
		b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		if cpu := processCPU() - cpu0; cpu > 0 && cpu0 > 0 {
			b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/s-cpu")
		}
	})
	b.Run("clock", func(b *testing.B) {
		const iters = 1 << 20
		cpu0 := processCPU()
		for b.Loop() {
			clockLoop(iters)
		}
		cycles := float64(b.N) * iters * 16
		b.ReportMetric(cycles/b.Elapsed().Seconds()/1e9, "GHz")
		if cpu := processCPU() - cpu0; cpu > 0 && cpu0 > 0 {
			b.ReportMetric(cycles/cpu.Seconds()/1e9, "GHz-cpu")
		}
	})
}

// BenchmarkKernel times the micro-kernel alone on packed panels that fit in
// L1 (B) and L2 (A), as in the blocked loop.
func BenchmarkKernel(b *testing.B) {
	for _, kc := range []int{128, 256, 384} {
		b.Run(fmt.Sprint(kc), func(b *testing.B) {
			const mc = 144
			a := make([]float32, mc*kc)
			bb := make([]float32, 16*kc)
			c := make([]float32, mc*256)
			cpu0 := processCPU()
			for b.Loop() {
				for ir := 0; ir < mc; ir += 6 {
					sgemmKernel6x16(kc, &a[ir*kc], &bb[0], &c[ir*256], 256, 1, 1)
				}
			}
			flops := float64(b.N) * mc * 16 * float64(kc) * 2
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if cpu := processCPU() - cpu0; cpu > 0 && cpu0 > 0 {
				b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/s-cpu")
			}
		})
	}
}
