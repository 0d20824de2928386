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
// that parallelise themselves) and SgemmBF16 (bfloat16 products summed in
// float32). Kernels
// lists the float32 micro-kernels of the build and whether this CPU runs
// them, SgemmWith runs a product with a named one, and MeasurePeak times the
// FMA loop the kernels are measured against.
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
// use 8×8 in-register AVX transposes, the others contiguous copies, so all
// four transpose combinations run at about the same speed. Partial slivers
// are padded with zeros and their tiles computed into a scratch tile and
// merged, so the kernel only ever sees full tiles. Block sizes are split
// evenly (k = 300 is two blocks of 150, not 256+44). The first k block
// applies beta, later ones accumulate. Packing buffers are recycled through
// a free list (allocating and zeroing them per call costs more than the
// product on attention-sized blocks), which the garbage collector does not
// empty, so a program's steady state allocates nothing here; the list holds
// no state that affects results. Products with m*n*k <= 512 use plain
// loops instead. Large products are split over the workers of package
// parallel's team.
//
// # Micro-kernels
//
// Chosen once at start-up from the CPU features (golang.org/x/sys/cpu, which
// also checks that the OS saves the vector state, XCR0), widest first:
//
//   - avx512-6x64 (kernel512_amd64.s; AVX-512F): a 6×64 float32 tile in 24
//     of the 32 ZMM registers, four 16-lane vectors per row. Per step of k
//     it loads one 64-float row of the B sliver (4 loads) and broadcasts the
//     6 A values into four rotating registers, for 24 independent FMAs; the
//     loop is unrolled 4 times. With two 512-bit FMA pipes of latency 4, at
//     least 8 chains must be in flight; 24 leave room for the loads (10 per
//     24 FMAs). 6×64 rather than the other 24-accumulator shapes (14×32 with
//     28, 12×32, 8×48) because it reuses the 6-row A packing of the AVX2
//     kernel, the project's n (64, 128, 768, 1536, 3200) are multiples of
//     64, and its m = 64 and 256 blocks waste 2 rows of 66 and 258. float64
//     uses the same code with 8-lane vectors: a 6×32 tile.
//   - avx2-6x16 (kernel_amd64.s; AVX2 and FMA3): a 6×16 tile in the 12 YMM
//     accumulators Y0..Y11 (row r in Y2r, Y2r+1); per step 2 loads of B and
//     6 broadcasts of A, alternating two broadcast registers, for 12 FMAs;
//     unrolled 4 times. float64: 6×8.
//   - go-2x4 and go-4x4 (kernel_generic.go): pure Go, for other GOARCHes,
//     amd64 without AVX2/FMA and the purego build tag: 2×4 where there are
//     16 FP registers (amd64, 386: the 4×4 kernel spills there), 4×4 where
//     there are 32.
//
// Blocking: kc is chosen so that a B sliver stays in L1 (avx512: 192 steps
// of 64 floats, 48 KiB; avx2: 256 of 16, 16 KiB), mc so that an A block
// (mc×kc) stays in L2 (144 rows), nc so that a B block stays in L3 (3072
// columns); float64 uses the same byte budgets. They were chosen with the
// tuning harness of tune_test.go (GEMM_TUNE) on per-CPU-second rates, where
// neighbouring choices were within the noise of a shared machine.
//
// The tests run every kernel the CPU supports (and both pure Go ones) on
// every run, through every blocking loop, against float64 references;
// TestKernelPaths names in one line the kernels tested and those the CPU
// lacks.
//
// # bfloat16 products
//
// SgemmBF16 rounds op(A) and op(B) to bfloat16 (to nearest, ties to even,
// as internal/bf16, the rounding of the device's -precision bf16 path) and
// sums the products in float32. The rounding happens while packing, so the
// operands are not copied first, and operands that already hold bfloat16
// values give the same result.
//
// With AVX512_BF16, the avx512bf16-6x64 kernel packs pairs of consecutive k
// steps into 32-bit words (step 2q in the low half, 2q+1 in the high half)
// and runs VDPBF16PS, which adds both products of a pair to a float32 lane:
// the same 6×64 register tile, twice the products per instruction. The Go
// assembler has no AVX512_BF16 mnemonics, so the instruction is spelled out
// as bytes (kernel512_amd64.s). Its arithmetic, as Intel's SDM states it
// and as measured on an AMD Zen 5 EPYC with operands that tell the orders
// apart: per lane, acc += hi_a·hi_b, then acc += lo_a·lo_b, each a fused
// multiply-add rounded to nearest even (products of two bfloat16 values
// are exact in float32, so this is float32 addition of exact products); the
// pair is not summed exactly first; subnormal inputs are read as zero and
// subnormal results are flushed to zero; MXCSR is neither read nor written.
// The float32 path adds the steps in k order, so the two paths differ by
// the order of each pair's two additions (a few ulp of a dot product) and
// on subnormals; both are within the float32 summation bound of the exact
// product of the rounded operands, which the tests check
// (eps·(k+4)·Σ|a·b| per element).
//
// Without AVX512_BF16, the packed blocks of the float32 kernel are rounded
// in place ("round+avx512-6x64" and so on): the same products, in k order.
//
// # Parallelism
//
// Sgemm cuts C along its longer dimension into chunks of whole tiles that
// the goroutines claim from a shared queue (guided: each claim takes 1/w of
// what is left, at least 64 rows or columns); each chunk runs the serial
// algorithm with its own packing buffers, no synchronisation inside. It only
// goes parallel when m*n*k >= 2^24: a new goroutine can start running a
// fraction of a millisecond or more after the go statement on a virtual
// machine, and below that size two goroutines were not reliably faster
// than one (TestTuneGrain). The dynamic queue means a late helper only takes
// the work that is left.
//
// # Measurements
//
// Rates and their machines, dates and commands are in docs/benchmarks.md.
// The package's benchmarks:
//
//	go test -run '^$' -bench 'PeakFMA|SgemmKernels|SgemmBF16' ./kernels/gemm
//
// report GFLOP/s per wall-clock second and per second of process CPU time
// ("-cpu"), which is far less sensitive to other processes on a shared
// machine.
package gemm
