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

// func ropeQK512(qn, qr, kn, kr, z, gq, gk, cs, sn *float32, half int, scale float32)
// half is a multiple of 16. qn = z⊙gq, qr = scale·R·qn, kn = z⊙gk,
// kr = 1·R·kn: Mul, then Rotate's arithmetic, instruction for instruction.
TEXT ·ropeQK512(SB), NOSPLIT, $0-84
	MOVQ         qn+0(FP), R10
	MOVQ         qr+8(FP), R11
	MOVQ         kn+16(FP), R12
	MOVQ         kr+24(FP), R13
	MOVQ         z+32(FP), SI
	MOVQ         gq+40(FP), R8
	MOVQ         gk+48(FP), R9
	MOVQ         cs+56(FP), AX
	MOVQ         sn+64(FP), BX
	MOVQ         half+72(FP), CX
	VBROADCASTSS scale+80(FP), Z15
	MOVL         $0x3f800000, DX
	VPBROADCASTD DX, Z12 // 1.0
	VMOVUPS      evens<>(SB), Z13
	VMOVUPS      odds<>(SB), Z14
	MOVQ         CX, DX
	SHLQ         $2, DX // half in bytes: qr[half:], kr[half:]
	TESTQ        CX, CX
	JZ           rqkdone

rqkloop:
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVUPS   (AX), Z6 // cos
	VMOVUPS   (BX), Z7 // sin
	// q
	VMULPS    (R8), Z0, Z2
	VMULPS    64(R8), Z1, Z3
	VMOVUPS   Z2, (R10)
	VMOVUPS   Z3, 64(R10)
	VMOVAPS   Z13, Z4
	VPERMI2PS Z3, Z2, Z4 // q[2i]
	VMOVAPS   Z14, Z5
	VPERMI2PS Z3, Z2, Z5 // q[2i+1]
	VMULPS    Z6, Z4, Z8
	VMULPS    Z7, Z5, Z9
	VSUBPS    Z9, Z8, Z8
	VMULPS    Z15, Z8, Z8
	VMULPS    Z7, Z4, Z10
	VMULPS    Z6, Z5, Z11
	VADDPS    Z11, Z10, Z10
	VMULPS    Z15, Z10, Z10
	VMOVUPS   Z8, (R11)
	VMOVUPS   Z10, (R11)(DX*1)
	// k
	VMULPS    (R9), Z0, Z2
	VMULPS    64(R9), Z1, Z3
	VMOVUPS   Z2, (R12)
	VMOVUPS   Z3, 64(R12)
	VMOVAPS   Z13, Z4
	VPERMI2PS Z3, Z2, Z4
	VMOVAPS   Z14, Z5
	VPERMI2PS Z3, Z2, Z5
	VMULPS    Z6, Z4, Z8
	VMULPS    Z7, Z5, Z9
	VSUBPS    Z9, Z8, Z8
	VMULPS    Z12, Z8, Z8
	VMULPS    Z7, Z4, Z10
	VMULPS    Z6, Z5, Z11
	VADDPS    Z11, Z10, Z10
	VMULPS    Z12, Z10, Z10
	VMOVUPS   Z8, (R13)
	VMOVUPS   Z10, (R13)(DX*1)
	ADDQ      $128, SI
	ADDQ      $128, R8
	ADDQ      $128, R9
	ADDQ      $128, R10
	ADDQ      $128, R12
	ADDQ      $64, R11
	ADDQ      $64, R13
	ADDQ      $64, AX
	ADDQ      $64, BX
	SUBQ      $16, CX
	JNZ       rqkloop

rqkdone:
	VZEROUPPER
	RET

// func ropeQKGrad512(dz, accq, acck, dq, dk, z, gq, gk, cs, sn *float32, half int, scale float32)
// half is a multiple of 16. With tq = scale·(0 + Rᵀ·dq) and tk = 0 + Rᵀ·dk
// (RotateAdjointAdd into zeros, then Scale): dz = tq⊙gq + tk⊙gk,
// accq += tq⊙z, acck += tk⊙z, each product and sum rounded.
TEXT ·ropeQKGrad512(SB), NOSPLIT, $0-92
	MOVQ         dz+0(FP), DI
	MOVQ         accq+8(FP), R10
	MOVQ         acck+16(FP), R11
	MOVQ         dq+24(FP), SI
	MOVQ         dk+32(FP), R12
	MOVQ         z+40(FP), R13
	MOVQ         gq+48(FP), R8
	MOVQ         gk+56(FP), R9
	MOVQ         cs+64(FP), AX
	MOVQ         sn+72(FP), BX
	MOVQ         half+80(FP), CX
	VBROADCASTSS scale+88(FP), Z15
	VMOVUPS      zipLo<>(SB), Z13
	VMOVUPS      zipHi<>(SB), Z14
	VPXORD       Z12, Z12, Z12 // +0
	MOVQ         CX, DX
	SHLQ         $2, DX // half in bytes: dq[half:], dk[half:]
	TESTQ        CX, CX
	JZ           rqgdone

rqgloop:
	VMOVUPS   (AX), Z6 // cos
	VMOVUPS   (BX), Z7 // sin
	// tq
	VMOVUPS   (SI), Z0        // g1
	VMOVUPS   (SI)(DX*1), Z1  // g2
	VMULPS    Z6, Z0, Z8
	VMULPS    Z7, Z1, Z9
	VADDPS    Z9, Z8, Z8
	VMULPS    Z7, Z0, Z10
	VMULPS    Z6, Z1, Z11
	VSUBPS    Z10, Z11, Z10
	VMOVAPS   Z13, Z2
	VPERMI2PS Z10, Z8, Z2
	VMOVAPS   Z14, Z3
	VPERMI2PS Z10, Z8, Z3
	VADDPS    Z12, Z2, Z2
	VADDPS    Z12, Z3, Z3
	VMULPS    Z15, Z2, Z2     // tq lo
	VMULPS    Z15, Z3, Z3     // tq hi
	// tk
	VMOVUPS   (R12), Z0
	VMOVUPS   (R12)(DX*1), Z1
	VMULPS    Z6, Z0, Z8
	VMULPS    Z7, Z1, Z9
	VADDPS    Z9, Z8, Z8
	VMULPS    Z7, Z0, Z10
	VMULPS    Z6, Z1, Z11
	VSUBPS    Z10, Z11, Z10
	VMOVAPS   Z13, Z4
	VPERMI2PS Z10, Z8, Z4
	VMOVAPS   Z14, Z5
	VPERMI2PS Z10, Z8, Z5
	VADDPS    Z12, Z4, Z4     // tk lo
	VADDPS    Z12, Z5, Z5     // tk hi
	// dz = tq⊙gq + tk⊙gk
	VMULPS    (R8), Z2, Z8
	VMULPS    64(R8), Z3, Z9
	VMULPS    (R9), Z4, Z10
	VMULPS    64(R9), Z5, Z11
	VADDPS    Z10, Z8, Z8
	VADDPS    Z11, Z9, Z9
	VMOVUPS   Z8, (DI)
	VMOVUPS   Z9, 64(DI)
	// accq += tq⊙z, acck += tk⊙z
	VMOVUPS   (R13), Z0
	VMOVUPS   64(R13), Z1
	VMULPS    Z0, Z2, Z2
	VMULPS    Z1, Z3, Z3
	VADDPS    (R10), Z2, Z2
	VADDPS    64(R10), Z3, Z3
	VMOVUPS   Z2, (R10)
	VMOVUPS   Z3, 64(R10)
	VMULPS    Z0, Z4, Z4
	VMULPS    Z1, Z5, Z5
	VADDPS    (R11), Z4, Z4
	VADDPS    64(R11), Z5, Z5
	VMOVUPS   Z4, (R11)
	VMOVUPS   Z5, 64(R11)
	ADDQ      $64, SI
	ADDQ      $64, R12
	ADDQ      $64, AX
	ADDQ      $64, BX
	ADDQ      $128, DI
	ADDQ      $128, R10
	ADDQ      $128, R11
	ADDQ      $128, R13
	ADDQ      $128, R8
	ADDQ      $128, R9
	SUBQ      $16, CX
	JNZ       rqgloop

rqgdone:
	VZEROUPPER
	RET
