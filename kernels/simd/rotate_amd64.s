//go:build amd64 && !purego

#include "textflag.h"

// The rotary rotation kernels (AVX-512F): 16 pairs per step, the even and
// odd elements of x separated (and put back) with VPERMI2PS.

// Indexes into the 32 floats of two registers [lo | hi].
DATA evens<>+0(SB)/4, $0
DATA evens<>+4(SB)/4, $2
DATA evens<>+8(SB)/4, $4
DATA evens<>+12(SB)/4, $6
DATA evens<>+16(SB)/4, $8
DATA evens<>+20(SB)/4, $10
DATA evens<>+24(SB)/4, $12
DATA evens<>+28(SB)/4, $14
DATA evens<>+32(SB)/4, $16
DATA evens<>+36(SB)/4, $18
DATA evens<>+40(SB)/4, $20
DATA evens<>+44(SB)/4, $22
DATA evens<>+48(SB)/4, $24
DATA evens<>+52(SB)/4, $26
DATA evens<>+56(SB)/4, $28
DATA evens<>+60(SB)/4, $30
GLOBL evens<>(SB), RODATA|NOPTR, $64

DATA odds<>+0(SB)/4, $1
DATA odds<>+4(SB)/4, $3
DATA odds<>+8(SB)/4, $5
DATA odds<>+12(SB)/4, $7
DATA odds<>+16(SB)/4, $9
DATA odds<>+20(SB)/4, $11
DATA odds<>+24(SB)/4, $13
DATA odds<>+28(SB)/4, $15
DATA odds<>+32(SB)/4, $17
DATA odds<>+36(SB)/4, $19
DATA odds<>+40(SB)/4, $21
DATA odds<>+44(SB)/4, $23
DATA odds<>+48(SB)/4, $25
DATA odds<>+52(SB)/4, $27
DATA odds<>+56(SB)/4, $29
DATA odds<>+60(SB)/4, $31
GLOBL odds<>(SB), RODATA|NOPTR, $64

// Interleave [a | b] (16 each) into a0 b0 a1 b1 ...: the first 16 and the
// last 16 of the result.
DATA zipLo<>+0(SB)/4, $0
DATA zipLo<>+4(SB)/4, $16
DATA zipLo<>+8(SB)/4, $1
DATA zipLo<>+12(SB)/4, $17
DATA zipLo<>+16(SB)/4, $2
DATA zipLo<>+20(SB)/4, $18
DATA zipLo<>+24(SB)/4, $3
DATA zipLo<>+28(SB)/4, $19
DATA zipLo<>+32(SB)/4, $4
DATA zipLo<>+36(SB)/4, $20
DATA zipLo<>+40(SB)/4, $5
DATA zipLo<>+44(SB)/4, $21
DATA zipLo<>+48(SB)/4, $6
DATA zipLo<>+52(SB)/4, $22
DATA zipLo<>+56(SB)/4, $7
DATA zipLo<>+60(SB)/4, $23
GLOBL zipLo<>(SB), RODATA|NOPTR, $64

DATA zipHi<>+0(SB)/4, $8
DATA zipHi<>+4(SB)/4, $24
DATA zipHi<>+8(SB)/4, $9
DATA zipHi<>+12(SB)/4, $25
DATA zipHi<>+16(SB)/4, $10
DATA zipHi<>+20(SB)/4, $26
DATA zipHi<>+24(SB)/4, $11
DATA zipHi<>+28(SB)/4, $27
DATA zipHi<>+32(SB)/4, $12
DATA zipHi<>+36(SB)/4, $28
DATA zipHi<>+40(SB)/4, $13
DATA zipHi<>+44(SB)/4, $29
DATA zipHi<>+48(SB)/4, $14
DATA zipHi<>+52(SB)/4, $30
DATA zipHi<>+56(SB)/4, $15
DATA zipHi<>+60(SB)/4, $31
GLOBL zipHi<>(SB), RODATA|NOPTR, $64

// func rotate512(dst, x, cs, sn *float32, half int, scale float32)
// half is a multiple of 16.
TEXT ·rotate512(SB), NOSPLIT, $0-44
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         cs+16(FP), R8
	MOVQ         sn+24(FP), R9
	MOVQ         half+32(FP), CX
	VBROADCASTSS scale+40(FP), Z15
	VMOVUPS      evens<>(SB), Z13
	VMOVUPS      odds<>(SB), Z14
	LEAQ         (DI)(CX*4), DX // dst[half:]
	TESTQ        CX, CX
	JZ           rotdone

rotloop:
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVAPS   Z13, Z4
	VPERMI2PS Z1, Z0, Z4 // x[2i]
	VMOVAPS   Z14, Z5
	VPERMI2PS Z1, Z0, Z5 // x[2i+1]
	VMOVUPS   (R8), Z6   // cos
	VMOVUPS   (R9), Z7   // sin
	VMULPS    Z6, Z4, Z8 // xe·c
	VMULPS    Z7, Z5, Z9 // xo·s
	VSUBPS    Z9, Z8, Z8
	VMULPS    Z15, Z8, Z8
	VMULPS    Z7, Z4, Z10 // xe·s
	VMULPS    Z6, Z5, Z11 // xo·c
	VADDPS    Z11, Z10, Z10
	VMULPS    Z15, Z10, Z10
	VMOVUPS   Z8, (DI)
	VMOVUPS   Z10, (DX)
	ADDQ      $128, SI
	ADDQ      $64, R8
	ADDQ      $64, R9
	ADDQ      $64, DI
	ADDQ      $64, DX
	SUBQ      $16, CX
	JNZ       rotloop

rotdone:
	VZEROUPPER
	RET

// func rotateAdj512(dst, grad, cs, sn *float32, half int)
// half is a multiple of 16.
TEXT ·rotateAdj512(SB), NOSPLIT, $0-40
	MOVQ    dst+0(FP), DI
	MOVQ    grad+8(FP), SI
	MOVQ    cs+16(FP), R8
	MOVQ    sn+24(FP), R9
	MOVQ    half+32(FP), CX
	VMOVUPS zipLo<>(SB), Z13
	VMOVUPS zipHi<>(SB), Z14
	LEAQ    (SI)(CX*4), DX // g[half:]
	TESTQ   CX, CX
	JZ      adjdone

adjloop:
	VMOVUPS   (SI), Z0    // g1
	VMOVUPS   (DX), Z1    // g2
	VMOVUPS   (R8), Z6    // cos
	VMOVUPS   (R9), Z7    // sin
	VMULPS    Z6, Z0, Z8  // g1·c
	VMULPS    Z7, Z1, Z9  // g2·s
	VADDPS    Z9, Z8, Z8  // even: g1·c + g2·s
	VMULPS    Z7, Z0, Z10 // g1·s
	VMULPS    Z6, Z1, Z11 // g2·c
	VSUBPS    Z10, Z11, Z10 // odd: g2·c − g1·s
	VMOVAPS   Z13, Z4
	VPERMI2PS Z10, Z8, Z4 // pairs 0..7
	VMOVAPS   Z14, Z5
	VPERMI2PS Z10, Z8, Z5 // pairs 8..15
	VADDPS    (DI), Z4, Z4
	VADDPS    64(DI), Z5, Z5
	VMOVUPS   Z4, (DI)
	VMOVUPS   Z5, 64(DI)
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $64, R8
	ADDQ      $64, R9
	ADDQ      $128, DI
	SUBQ      $16, CX
	JNZ       adjloop

adjdone:
	VZEROUPPER
	RET
