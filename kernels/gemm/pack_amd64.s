//go:build amd64 && !purego

#include "textflag.h"

// Packing helpers for the float32 AVX2 kernel: 8×8 transposes in registers.

// TRANSPOSE8 transposes the 8×8 block held in Y0..Y7 (row r in Yr) into
// Y8..Y15 (column c in Y(8+c)), clobbering Y0..Y7.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8;         \
	VUNPCKHPS  Y1, Y0, Y9;         \
	VUNPCKLPS  Y3, Y2, Y10;        \
	VUNPCKHPS  Y3, Y2, Y11;        \
	VUNPCKLPS  Y5, Y4, Y12;        \
	VUNPCKHPS  Y5, Y4, Y13;        \
	VUNPCKLPS  Y7, Y6, Y14;        \
	VUNPCKHPS  Y7, Y6, Y15;        \
	VSHUFPS    $0x44, Y10, Y8, Y0; \
	VSHUFPS    $0xEE, Y10, Y8, Y1; \
	VSHUFPS    $0x44, Y11, Y9, Y2; \
	VSHUFPS    $0xEE, Y11, Y9, Y3; \
	VSHUFPS    $0x44, Y14, Y12, Y4; \
	VSHUFPS    $0xEE, Y14, Y12, Y5; \
	VSHUFPS    $0x44, Y15, Y13, Y6; \
	VSHUFPS    $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8;  \
	VPERM2F128 $0x20, Y5, Y1, Y9;  \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x31, Y7, Y3, Y15

// func transpose8Pack(src *float32, lds int, dst *float32, ldd int, blocks int)
//
// For b < blocks, j < 8, r < 8: dst[(8b+j)*ldd + r] = src[r*lds + 8b + j].
// That is, 8 rows of 8*blocks elements are transposed into 8*blocks rows of
// 8 elements with stride ldd.
TEXT ·transpose8Pack(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), AX
	MOVQ dst+16(FP), DI
	MOVQ ldd+24(FP), DX
	MOVQ blocks+32(FP), CX
	SHLQ $2, AX
	SHLQ $2, DX
	LEAQ (AX)(AX*2), R8 // 3*lds bytes
	LEAQ (DX)(DX*2), R9 // 3*ldd bytes
	TESTQ CX, CX
	JZ    t8_done

t8_loop:
	MOVQ    SI, R10
	VMOVUPS (R10), Y0
	VMOVUPS (R10)(AX*1), Y1
	VMOVUPS (R10)(AX*2), Y2
	VMOVUPS (R10)(R8*1), Y3
	LEAQ    (R10)(AX*4), R10
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(AX*1), Y5
	VMOVUPS (R10)(AX*2), Y6
	VMOVUPS (R10)(R8*1), Y7
	TRANSPOSE8
	MOVQ    DI, R11
	VMOVUPS Y8, (R11)
	VMOVUPS Y9, (R11)(DX*1)
	VMOVUPS Y10, (R11)(DX*2)
	VMOVUPS Y11, (R11)(R9*1)
	LEAQ    (R11)(DX*4), R11
	VMOVUPS Y12, (R11)
	VMOVUPS Y13, (R11)(DX*1)
	VMOVUPS Y14, (R11)(DX*2)
	VMOVUPS Y15, (R11)(R9*1)
	LEAQ    (R11)(DX*4), DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     t8_loop

t8_done:
	VZEROUPPER
	RET

// func pack6Rows(src *float32, lds int, dst *float32, blocks int, rows int)
//
// For b < blocks, j < 8, r < 6: dst[(8b+j)*6 + r] = src[r*lds + 8b + j] for
// r < rows, and 0 for rows <= r < 6 (those rows of src are not read). Six
// rows are interleaved into groups of six, as the 6×16 kernel reads its A
// sliver. Columns 0..6 of each block are stored 8 wide, overlapping the
// start of the next column (which is stored after it); column 7 is stored
// exactly, so nothing past dst[48*blocks-1] is written.
TEXT ·pack6Rows(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), AX
	MOVQ dst+16(FP), DI
	MOVQ blocks+24(FP), CX
	MOVQ rows+32(FP), BX
	SHLQ $2, AX
	LEAQ (AX)(AX*2), R8
	TESTQ CX, CX
	JZ    p6_done

p6_loop:
	MOVQ    SI, R10
	VXORPS  Y1, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VXORPS  Y3, Y3, Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	VMOVUPS (R10), Y0
	CMPQ    BX, $6
	JLT     p6_partial
	VMOVUPS (R10)(AX*1), Y1
	VMOVUPS (R10)(AX*2), Y2
	VMOVUPS (R10)(R8*1), Y3
	LEAQ    (R10)(AX*4), R10
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(AX*1), Y5
	JMP     p6_transpose

p6_partial:
	CMPQ    BX, $2
	JLT     p6_transpose
	VMOVUPS (R10)(AX*1), Y1
	CMPQ    BX, $3
	JLT     p6_transpose
	VMOVUPS (R10)(AX*2), Y2
	CMPQ    BX, $4
	JLT     p6_transpose
	VMOVUPS (R10)(R8*1), Y3
	CMPQ    BX, $5
	JLT     p6_transpose
	VMOVUPS (R10)(AX*4), Y4

p6_transpose:
	TRANSPOSE8
	VMOVUPS Y8, 0(DI)
	VMOVUPS Y9, 24(DI)
	VMOVUPS Y10, 48(DI)
	VMOVUPS Y11, 72(DI)
	VMOVUPS Y12, 96(DI)
	VMOVUPS Y13, 120(DI)
	VMOVUPS Y14, 144(DI)
	VMOVUPS X15, 168(DI)
	VEXTRACTF128 $1, Y15, X15
	VMOVSD  X15, 184(DI)
	ADDQ    $192, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     p6_loop

p6_done:
	VZEROUPPER
	RET

// func packRows16(src *float32, lds int, dst *float32, kb int, slivers int)
//
// For t < slivers, p < kb, j < 16:
// dst[t*16*kb + p*16 + j] = src[p*lds + 16t + j]: kb rows of b are dealt out
// to slivers of 16 columns (packing a non-transposed B).
TEXT ·packRows16(SB), NOSPLIT, $0-40
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), AX
	MOVQ dst+16(FP), DI
	MOVQ kb+24(FP), DX
	MOVQ slivers+32(FP), CX
	SHLQ $2, AX
	TESTQ CX, CX
	JZ    r16_done
	TESTQ DX, DX
	JZ    r16_done

r16_sliver:
	MOVQ SI, R10
	MOVQ DX, R9
	SHRQ $1, R9
	JZ   r16_one

r16_two:
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS (R10)(AX*1), Y2
	VMOVUPS 32(R10)(AX*1), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	LEAQ    (R10)(AX*2), R10
	ADDQ    $128, DI
	DECQ    R9
	JNZ     r16_two

r16_one:
	TESTQ   $1, DX
	JZ      r16_next
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, DI

r16_next:
	ADDQ $64, SI
	DECQ CX
	JNZ  r16_sliver

r16_done:
	VZEROUPPER
	RET

// func copy6(src *float32, lds int, dst *float32, n int)
//
// For p < n, r < 6: dst[6p + r] = src[p*lds + r].
TEXT ·copy6(SB), NOSPLIT, $0-32
	MOVQ src+0(FP), SI
	MOVQ lds+8(FP), AX
	MOVQ dst+16(FP), DI
	MOVQ n+24(FP), CX
	SHLQ $2, AX
	TESTQ CX, CX
	JZ    c6_done

c6_loop:
	VMOVUPS (SI), X0
	VMOVSD  16(SI), X1
	VMOVUPS X0, (DI)
	VMOVSD  X1, 16(DI)
	ADDQ   AX, SI
	ADDQ   $24, DI
	DECQ   CX
	JNZ    c6_loop

c6_done:
	RET
