//go:build amd64 && !purego

#include "textflag.h"

// Micro-kernels for AMD64 with AVX2 and FMA3.
//
// Both kernels compute a 6×16 (float32) or 6×8 (float64) tile
//
//	C[0:6, 0:NR] = alpha * Apanel·Bpanel + beta * C[0:6, 0:NR]
//
// from packed panels: Apanel holds kc groups of 6 values (column p of the
// 6-row sliver of A), Bpanel holds kc groups of NR values (row p of the
// NR-column sliver of B). C is row-major with row stride ldc (elements).
// When beta == 0, C is not read.
//
// Register use: Y0..Y11 accumulate the tile (row r in Y(2r), Y(2r+1)),
// Y12/Y13 hold one row of the B panel, Y14/Y15 alternate as broadcasts of
// A elements, so that two independent broadcast→FMA chains are in flight.

// One rank-1 update of the float32 tile; ao and bo are the byte offsets of
// step p inside the A and B panels.
#define S_STEP(ao, bo) \
	VMOVUPS      (bo)(BX), Y12;        \
	VMOVUPS      (bo+32)(BX), Y13;     \
	VBROADCASTSS (ao)(AX), Y14;        \
	VBROADCASTSS (ao+4)(AX), Y15;      \
	VFMADD231PS  Y12, Y14, Y0;         \
	VFMADD231PS  Y13, Y14, Y1;         \
	VBROADCASTSS (ao+8)(AX), Y14;      \
	VFMADD231PS  Y12, Y15, Y2;         \
	VFMADD231PS  Y13, Y15, Y3;         \
	VBROADCASTSS (ao+12)(AX), Y15;     \
	VFMADD231PS  Y12, Y14, Y4;         \
	VFMADD231PS  Y13, Y14, Y5;         \
	VBROADCASTSS (ao+16)(AX), Y14;     \
	VFMADD231PS  Y12, Y15, Y6;         \
	VFMADD231PS  Y13, Y15, Y7;         \
	VBROADCASTSS (ao+20)(AX), Y15;     \
	VFMADD231PS  Y12, Y14, Y8;         \
	VFMADD231PS  Y13, Y14, Y9;         \
	VFMADD231PS  Y12, Y15, Y10;        \
	VFMADD231PS  Y13, Y15, Y11

#define S_SCALE(r0, r1) \
	VMULPS Y14, r0, r0; \
	VMULPS Y14, r1, r1

#define S_STORE_BETA(r0, r1) \
	VFMADD231PS (DI), Y15, r0;   \
	VFMADD231PS 32(DI), Y15, r1; \
	VMOVUPS     r0, (DI);        \
	VMOVUPS     r1, 32(DI);      \
	ADDQ        DX, DI

#define S_STORE(r0, r1) \
	VMOVUPS r0, (DI);   \
	VMOVUPS r1, 32(DI); \
	ADDQ    DX, DI

#define ZERO_ACC \
	VXORPS Y0, Y0, Y0;    \
	VXORPS Y1, Y1, Y1;    \
	VXORPS Y2, Y2, Y2;    \
	VXORPS Y3, Y3, Y3;    \
	VXORPS Y4, Y4, Y4;    \
	VXORPS Y5, Y5, Y5;    \
	VXORPS Y6, Y6, Y6;    \
	VXORPS Y7, Y7, Y7;    \
	VXORPS Y8, Y8, Y8;    \
	VXORPS Y9, Y9, Y9;    \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11

// Prefetch the six C rows (64 bytes each, possibly spanning two lines).
#define PREFETCH_C \
	MOVQ       DI, R8;    \
	PREFETCHT0 (R8);      \
	PREFETCHT0 60(R8);    \
	ADDQ       DX, R8;    \
	PREFETCHT0 (R8);      \
	PREFETCHT0 60(R8);    \
	ADDQ       DX, R8;    \
	PREFETCHT0 (R8);      \
	PREFETCHT0 60(R8);    \
	ADDQ       DX, R8;    \
	PREFETCHT0 (R8);      \
	PREFETCHT0 60(R8);    \
	ADDQ       DX, R8;    \
	PREFETCHT0 (R8);      \
	PREFETCHT0 60(R8);    \
	ADDQ       DX, R8;    \
	PREFETCHT0 (R8);      \
	PREFETCHT0 60(R8)

// func sgemmKernel6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	ZERO_ACC
	PREFETCH_C

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   s_tail

s_loop4:
	PREFETCHT0 384(AX)
	S_STEP(0, 0)
	S_STEP(24, 64)
	PREFETCHT0 448(AX)
	S_STEP(48, 128)
	S_STEP(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ R9
	JNZ  s_loop4

s_tail:
	ANDQ $3, CX
	JZ   s_store

s_loop1:
	S_STEP(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  s_loop1

s_store:
	VBROADCASTSS alpha+40(FP), Y14
	S_SCALE(Y0, Y1)
	S_SCALE(Y2, Y3)
	S_SCALE(Y4, Y5)
	S_SCALE(Y6, Y7)
	S_SCALE(Y8, Y9)
	S_SCALE(Y10, Y11)

	VBROADCASTSS beta+44(FP), Y15
	VXORPS       X13, X13, X13
	VUCOMISS     X13, X15
	JNE          s_beta
	JPS          s_beta

	// beta == 0: C is write-only.
	S_STORE(Y0, Y1)
	S_STORE(Y2, Y3)
	S_STORE(Y4, Y5)
	S_STORE(Y6, Y7)
	S_STORE(Y8, Y9)
	S_STORE(Y10, Y11)
	VZEROUPPER
	RET

s_beta:
	S_STORE_BETA(Y0, Y1)
	S_STORE_BETA(Y2, Y3)
	S_STORE_BETA(Y4, Y5)
	S_STORE_BETA(Y6, Y7)
	S_STORE_BETA(Y8, Y9)
	S_STORE_BETA(Y10, Y11)
	VZEROUPPER
	RET

// One rank-1 update of the float64 6×8 tile.
#define D_STEP(ao, bo) \
	VMOVUPD      (bo)(BX), Y12;        \
	VMOVUPD      (bo+32)(BX), Y13;     \
	VBROADCASTSD (ao)(AX), Y14;        \
	VBROADCASTSD (ao+8)(AX), Y15;      \
	VFMADD231PD  Y12, Y14, Y0;         \
	VFMADD231PD  Y13, Y14, Y1;         \
	VBROADCASTSD (ao+16)(AX), Y14;     \
	VFMADD231PD  Y12, Y15, Y2;         \
	VFMADD231PD  Y13, Y15, Y3;         \
	VBROADCASTSD (ao+24)(AX), Y15;     \
	VFMADD231PD  Y12, Y14, Y4;         \
	VFMADD231PD  Y13, Y14, Y5;         \
	VBROADCASTSD (ao+32)(AX), Y14;     \
	VFMADD231PD  Y12, Y15, Y6;         \
	VFMADD231PD  Y13, Y15, Y7;         \
	VBROADCASTSD (ao+40)(AX), Y15;     \
	VFMADD231PD  Y12, Y14, Y8;         \
	VFMADD231PD  Y13, Y14, Y9;         \
	VFMADD231PD  Y12, Y15, Y10;        \
	VFMADD231PD  Y13, Y15, Y11

#define D_SCALE(r0, r1) \
	VMULPD Y14, r0, r0; \
	VMULPD Y14, r1, r1

#define D_STORE_BETA(r0, r1) \
	VFMADD231PD (DI), Y15, r0;   \
	VFMADD231PD 32(DI), Y15, r1; \
	VMOVUPD     r0, (DI);        \
	VMOVUPD     r1, 32(DI);      \
	ADDQ        DX, DI

#define D_STORE(r0, r1) \
	VMOVUPD r0, (DI);   \
	VMOVUPD r1, 32(DI); \
	ADDQ    DX, DI

// func dgemmKernel6x8(kc int, a, b, c *float64, ldc int, alpha, beta float64)
TEXT ·dgemmKernel6x8(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $3, DX

	ZERO_ACC
	PREFETCH_C

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   d_tail

d_loop4:
	PREFETCHT0 768(AX)
	D_STEP(0, 0)
	PREFETCHT0 832(AX)
	D_STEP(48, 64)
	PREFETCHT0 896(AX)
	D_STEP(96, 128)
	D_STEP(144, 192)
	ADDQ $192, AX
	ADDQ $256, BX
	DECQ R9
	JNZ  d_loop4

d_tail:
	ANDQ $3, CX
	JZ   d_store

d_loop1:
	D_STEP(0, 0)
	ADDQ $48, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  d_loop1

d_store:
	VBROADCASTSD alpha+40(FP), Y14
	D_SCALE(Y0, Y1)
	D_SCALE(Y2, Y3)
	D_SCALE(Y4, Y5)
	D_SCALE(Y6, Y7)
	D_SCALE(Y8, Y9)
	D_SCALE(Y10, Y11)

	VBROADCASTSD beta+48(FP), Y15
	VXORPD       X13, X13, X13
	VUCOMISD     X13, X15
	JNE          d_beta
	JPS          d_beta

	D_STORE(Y0, Y1)
	D_STORE(Y2, Y3)
	D_STORE(Y4, Y5)
	D_STORE(Y6, Y7)
	D_STORE(Y8, Y9)
	D_STORE(Y10, Y11)
	VZEROUPPER
	RET

d_beta:
	D_STORE_BETA(Y0, Y1)
	D_STORE_BETA(Y2, Y3)
	D_STORE_BETA(Y4, Y5)
	D_STORE_BETA(Y6, Y7)
	D_STORE_BETA(Y8, Y9)
	D_STORE_BETA(Y10, Y11)
	VZEROUPPER
	RET

// func fmaPeak(iters int)
// Runs iters×12 independent 8-lane FMAs (12 chains) to measure the
// attainable FMA throughput of one core; used only by a benchmark.
TEXT ·fmaPeak(SB), NOSPLIT, $0-8
	MOVQ   iters+0(FP), CX
	ZERO_ACC
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

peak_loop:
	VFMADD231PS Y12, Y13, Y0
	VFMADD231PS Y12, Y13, Y1
	VFMADD231PS Y12, Y13, Y2
	VFMADD231PS Y12, Y13, Y3
	VFMADD231PS Y12, Y13, Y4
	VFMADD231PS Y12, Y13, Y5
	VFMADD231PS Y12, Y13, Y6
	VFMADD231PS Y12, Y13, Y7
	VFMADD231PS Y12, Y13, Y8
	VFMADD231PS Y12, Y13, Y9
	VFMADD231PS Y12, Y13, Y10
	VFMADD231PS Y12, Y13, Y11
	DECQ        CX
	JNZ         peak_loop
	VZEROUPPER
	RET

// func clockLoop(iters int)
// Executes iters×16 dependent integer additions (one cycle each), so the
// elapsed time gives the core clock; used only by a benchmark.
TEXT ·clockLoop(SB), NOSPLIT, $0-8
	MOVQ iters+0(FP), CX
	XORQ AX, AX

clock_loop:
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	ADDQ $1, AX
	DECQ CX
	JNZ  clock_loop
	RET
