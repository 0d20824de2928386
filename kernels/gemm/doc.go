// Package gemm is a dense matrix-matrix product (GEMM) for row-major float32
// and float64 matrices, written in Go and Go assembly without any system
// library:
//
//	C = alpha*op(A)*op(B) + beta*C,   op(X) = X or Xᵀ
//
// with the conventions of cblas_?gemm(CblasRowMajor, ...): op(A) is m×k, op(B)
// is k×n and C is m×n; a is stored m×k (k×m when transA), b is stored k×n
// (n×k when transB), and lda, ldb, ldc are the row strides of the stored
// matrices. beta == 0 means C is only written (NaN or Inf already in C do not
// propagate); alpha == 0 or k == 0 means A and B are not read (C = beta*C).
// Invalid arguments panic with a message naming the argument, like gonum's
// BLAS. C must not overlap A or B.
//
// Entry points: Sgemm/Dgemm (split large products over up to GOMAXPROCS
// goroutines), SgemmSerial/DgemmSerial (calling goroutine only, for callers
// that parallelise themselves) and the generic Gemm/GemmSerial.
//
// # Algorithm
//
// The GotoBLAS/BLIS scheme (block.go): C is computed in blocks whose packed
// operands stay in the cache level where they are reused:
//
//	for jc over n in steps of nc:        B block, kc×nc, shared by all ic     (L3)
//	  for pc over k in steps of kc:      pack op(B)[pc:, jc:] into nr-wide slivers
//	    for ic over m in steps of mc:    pack op(A)[ic:, pc:] into mr-tall slivers (L2)
//	      for jr over nc in steps of nr: one B sliver, kc×nr                     (L1)
//	        for ir over mc in steps of mr:
//	          micro-kernel: mr×nr tile of C += A sliver · B sliver
//
// Packing (pack.go, pack_amd64.s) copies the blocks into the order the
// micro-kernel streams through them and absorbs the transpositions: the
// cases that need a transpose in the copy (A not transposed, B transposed)
// use 8×8 in-register AVX transposes, the others contiguous 24- or 64-byte
// copies, so all four transpose combinations run at the same speed. Partial
// slivers are padded with zeros and their tiles computed into a scratch tile
// and merged, so the kernel only ever sees full tiles. Block sizes are split
// evenly (k = 300 is two blocks of 150, not 256+44). The first k block
// applies beta, later ones accumulate. Packing buffers are recycled through
// a sync.Pool (allocating and zeroing them per call made 64×64×128 three
// times slower: 23 instead of 74 GFLOP/s); the pool holds no state that
// affects results. Products with m*n*k <= 512 use plain loops instead.
//
// # Micro-kernel (kernel_amd64.s)
//
// float32: 6×16 tile, the 12 YMM accumulators Y0..Y11 (row r in Y2r,
// Y2r+1); per step of k it loads one 16-float row of the B sliver (2 loads)
// and broadcasts the 6 A values, alternating two broadcast registers, for 12
// FMAs; the loop is unrolled 4 times. Zen 3 has two 256-bit FMA pipes with a
// latency of 4 cycles, so at least 8 independent accumulators are needed;
// 12 also leave the 8 loads per 12 FMAs within the 2-3 loads per cycle. In
// isolation on L1/L2-resident slivers the kernel runs at 90-93 GFLOP/s per
// CPU second (kc = 256..384, BenchmarkKernel), 90-95% of the measured FMA
// peak of one core (BenchmarkPeakFMA: 98-100 GFLOP/s = 32 flop/cycle ×
// 3.1 GHz, the clock measured with a chain of dependent one-cycle adds).
// 6×16 was preferred to the other 12-accumulator shape, 4×24, because the
// project's n (64, 256, 768, 3200) are multiples of 16 but not of 24 and its
// m = 64 blocks waste 2 of 66 rows with mr = 6, against 8 of 72 columns for
// nr = 24 at n = 64. float64 uses the same code with 4-wide vectors: a 6×8
// tile.
//
// Blocking (float32): kc = 256 (a B sliver is 16 KiB of the 32 KiB L1d, an A
// sliver 6 KiB), mc = 144 (an A block is 144 KiB of the 512 KiB L2), nc =
// 3072 (a B block is 3 MiB of the 32 MiB L3). A sweep of mc ∈ {96, 144, 192},
// kc ∈ {256, 384}, nc ∈ {1536, 3072} over the benchmark shapes (TestTune, per
// CPU second) found differences of at most ±5%, about the noise of the
// shared machine; 144/256/3072 was best or within noise on every shape. The
// float64 kernel uses the same byte budgets (mc = 96, kc = 192, nc = 2048),
// untuned.
//
// # Parallelism
//
// Sgemm cuts C along its longer dimension into chunks of whole tiles that
// the goroutines claim from a shared queue (guided: each claim takes 1/w of
// what is left, at least 64 rows or columns); each chunk runs the serial
// algorithm with its own packing buffers, no synchronisation inside. It only
// goes parallel when m*n*k >= 2^25: on the measurement VM a new goroutine
// starts running 0.1-0.6 ms after the go statement (several ms when the other
// vCPU had been idle), and below that size two goroutines were not reliably
// faster than one (TestTuneGrain). The dynamic queue means a late helper only
// takes the work that is left.
//
// # Fallback
//
// Without AVX2+FMA (checked once at start-up with golang.org/x/sys/cpu), on
// other GOARCHes and with the purego build tag, pure Go 4×4 or 2×4 kernels
// (kernel_generic.go) run in the same blocked loops: 2×4 on amd64/386 (16
// XMM registers: the 4×4 kernel spills and is slower, see Measurements),
// 4×4 elsewhere (32 FP registers). The tests run every kernel on every
// machine.
//
// # Measurements
//
// Machine: 2-core AMD EPYC (family 25 model 1, Zen 3 "Milan") KVM guest,
// AVX2 and FMA, no AVX-512; L1d 32 KiB and L2 512 KiB per core, L3 32 MiB;
// measured clock 3.1 GHz, FMA peak 98-100 GFLOP/s per core. Go 1.26,
// linux/amd64. GFLOP/s counts 2*m*n*k flops per wall-clock second:
// go test -bench 'Sgemm$' -cpu 1,2 -benchtime 0.3s (2x for the big shapes).
// The VM is shared with other jobs, which make single runs vary by ±10% and
// at times take the second vCPU away; each figure is the median of 3-8 runs
// started on an idle machine (for 2 threads, of the runs in which both
// vCPUs were in use). "gonum" is gonum.org/v1/gonum/blas/gonum
// Implementation.Sgemm v0.14.0 on the same shapes (BenchmarkGonumSgemm),
// which parallelises by itself.
//
//	shape (m×n×k, op)              this package       gonum
//	                               1 thread  2 thr.   1 thread  2 thr.
//	8×8×8                NN            1.3     1.4*      1.7     1.5
//	20×20×20             NN            7.4     8.0*      4.4     3.7
//	Q·Kᵀ 64×64×128       NT           69.3    62.0*     11.8    10.4
//	64×256×1536          NN           73.5    67.7*      8.4     6.7
//	512×512×512          NN           79.0   111         7.8    15.7
//	512×512×512          NT           81.4   101         8.0     5.4
//	512×512×512          TN           74.3   105         7.7     6.1
//	512×512×512          TT           78.0    97         0.9     0.9
//	X·Wᵀ 8192×3200×768   NT           77.8   157         6.5    13.9
//	dY·W 8192×768×3200   NN           81.2   162         7.6    10.2
//	dYᵀ·X 3200×768×8192  TN           81.8   147         5.3     5.0
//
//	* below the parallel threshold: one goroutine, GOMAXPROCS = 2.
//
// Single-threaded, large products run at 74-82% of the FMA peak; two
// goroutines give 1.8-2.0× on the project's large shapes and 1.3-1.4× on
// 512³ (each chunk packs the shared operand again, and the helper starts
// late). Dgemm (AVX2 6×8 kernel, generic packing): 37 GFLOP/s on 512³ with
// one thread (75% of the float64 peak), 54 with two, 23 on 64³. The pure Go
// fallback kernels (BenchmarkSgemmGeneric): 2×4 3.2-3.9 GFLOP/s on 512³
// and 3.7-4.1 on the attention shapes, 4×4 2.1-2.6.
package gemm
