//go:build amd64 && !purego

#include "textflag.h"

// AVX-512F kernels, 16 float32 lanes per ZMM register. They use only
// AVX-512F instructions (the integer forms VPXORD and VPANDD where the
// float forms would need AVX-512DQ), and compute exactly what the AVX2
// kernels of simd_amd64.s compute, lane for lane: the elementwise results
// (Exp, ExpSum's dst, Swish, SwishGrad, Scale, Axpby) are the same bits;
// the reductions (ExpSum's sum, Max, Dot, SumSquares, Dot64) add the same
// values in a different order.
//
// Every kernel takes n >= 0 elements: whole vectors in the main loops,
// then the last n%16 elements under an opmask (K1 = 2^(n%16) - 1).
// Masked-off lanes are neither read nor written (AVX-512 suppresses faults
// on them), so nothing outside the slices is touched.

// A float32 constant, broadcast into registers with VBROADCASTSS.
#define CONST(name, bits) \
	DATA name<>+0(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $4

CONST(log2e, 0x3fb8aa3b)  // log2(e)
CONST(magic, 0x4b400000)  // 1.5·2^23
CONST(nln2hi, 0xbf317200) // -0.693145751953125 (15 significant bits)
CONST(nln2lo, 0xb5bfbe8e) // -(ln2 - 0.693145751953125)
CONST(expC2, 0x3efffffe)
CONST(expC3, 0x3e2aaa49)
CONST(expC4, 0x3d2aac79)
CONST(expC5, 0x3c091cf0)
CONST(expC6, 0x3ab5121d)
CONST(one, 0x3f800000)
CONST(expLo, 0xc2aeac4f)  // -87.33654: below, e^x is subnormal
CONST(expHi, 0x42b17217)  // 88.72283: above, e^x overflows
CONST(posInf, 0x7f800000)
CONST(negInf, 0xff800000)
CONST(signBit, 0x80000000)

// TAILK sets K1 to the mask of the first CX lanes (0 <= CX <= 15).
// Clobbers AX.
#define TAILK \
	MOVL  $1, AX;  \
	SHLL  CX, AX;  \
	DECL  AX;      \
	KMOVW AX, K1

// Registers holding the constants of the exponential kernels: Z16-Z29.
// Z30 and Z31 are left to the kernels (sign bit, shift).
#define ZLOG2E Z16
#define ZMAGIC Z17
#define ZNLN2HI Z18
#define ZNLN2LO Z19
#define ZC6 Z20
#define ZC5 Z21
#define ZC4 Z22
#define ZC3 Z23
#define ZC2 Z24
#define ZONE Z25
#define ZZERO Z26
#define ZLO Z27
#define ZHI Z28
#define ZINF Z29

#define LOAD_EXP_CONSTS \
	VBROADCASTSS log2e<>(SB), ZLOG2E;   \
	VBROADCASTSS magic<>(SB), ZMAGIC;   \
	VBROADCASTSS nln2hi<>(SB), ZNLN2HI; \
	VBROADCASTSS nln2lo<>(SB), ZNLN2LO; \
	VBROADCASTSS expC6<>(SB), ZC6;      \
	VBROADCASTSS expC5<>(SB), ZC5;      \
	VBROADCASTSS expC4<>(SB), ZC4;      \
	VBROADCASTSS expC3<>(SB), ZC3;      \
	VBROADCASTSS expC2<>(SB), ZC2;      \
	VBROADCASTSS one<>(SB), ZONE;       \
	VPXORD       ZZERO, ZZERO, ZZERO;   \
	VBROADCASTSS expLo<>(SB), ZLO;      \
	VBROADCASTSS expHi<>(SB), ZHI;      \
	VBROADCASTSS posInf<>(SB), ZINF

// EXP16 sets E to e^X for the 16 lanes of X (X is clobbered). T, N, R are
// scratch, K a scratch opmask.
//
// The arithmetic of EXP8 in simd_amd64.s, operation for operation (see
// there and doc.go): n = round(x·log2e) by the magic-number trick, r =
// x - n·ln2hi - n·ln2lo, e^r by the degree-6 polynomial (Horner, FMAs), and
// 2^n·e^r by adding n<<23 to the bits of e^r. The range fix-up is an opmask
// instead of a blend: K selects the lanes with expLo <= x <= expHi (false
// for NaN); the others keep E = max(0, x·Inf), which is 0 below the range,
// +Inf above it and NaN for NaN.
#define EXP16(X, T, N, R, E, K) \
	VCMPPS      $0x1d, ZLO, X, K;    \
	VCMPPS      $0x12, ZHI, X, K, K; \
	VMULPS      ZINF, X, E;          \
	VMAXPS      E, ZZERO, E;         \
	VMOVAPS     ZMAGIC, T;           \
	VFMADD231PS ZLOG2E, X, T;        \
	VSUBPS      ZMAGIC, T, N;        \
	VMOVAPS     X, R;                \
	VFMADD231PS ZNLN2HI, N, R;       \
	VFMADD231PS ZNLN2LO, N, R;       \
	VMOVAPS     ZC5, X;              \
	VFMADD231PS ZC6, R, X;           \
	VFMADD213PS ZC4, R, X;           \
	VFMADD213PS ZC3, R, X;           \
	VFMADD213PS ZC2, R, X;           \
	VFMADD213PS ZONE, R, X;          \
	VFMADD213PS ZONE, R, X;          \
	VPSLLD      $23, T, T;           \
	VPADDD      T, X, K, E

// func exp512(dst, x *float32, n int)
//
// Two vectors per iteration, for two independent dependency chains.
TEXT ·exp512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	LOAD_EXP_CONSTS
	CMPQ CX, $32
	JB   exp16

exp32:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
	EXP16(Z0, Z1, Z2, Z3, Z4, K2)
	EXP16(Z5, Z6, Z7, Z8, Z9, K3)
	VMOVUPS Z4, (DI)
	VMOVUPS Z9, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     exp32

exp16:
	CMPQ    CX, $16
	JB      exptail
	VMOVUPS (SI), Z0
	EXP16(Z0, Z1, Z2, Z3, Z4, K2)
	VMOVUPS Z4, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

exptail:
	TESTQ     CX, CX
	JZ        expdone
	TAILK
	VMOVUPS.Z (SI), K1, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4, K2)
	VMOVUPS   Z4, K1, (DI)

expdone:
	VZEROUPPER
	RET

// ACC64 adds the 16 float32 lanes of ZX (whose low half is YX) into the
// float64 accumulators LO (lanes 0-7) and HI (lanes 8-15). ZT, YU/ZU (the
// same register) are scratch.
#define ACC64(ZX, YX, ZT, YU, ZU, LO, HI) \
	VCVTPS2PD     YX, ZT;     \
	VEXTRACTF64X4 $1, ZX, YU; \
	VCVTPS2PD     YU, ZU;     \
	VADDPD        ZT, LO, LO; \
	VADDPD        ZU, HI, HI

// SUM64 adds the eight float64 lanes of Z0 into X0's low lane. Clobbers
// Z1.
#define SUM64 \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPD        Y1, Y0, Y0; \
	VEXTRACTF128  $1, Y0, X1; \
	VADDPD        X1, X0, X0; \
	VUNPCKHPD     X0, X0, X1; \
	VADDSD        X1, X0, X0

// func expSum512(dst, x *float32, n int, shift float32) float32
TEXT ·expSum512(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS shift+24(FP), Z31
	LOAD_EXP_CONSTS
	VPXORD       Z10, Z10, Z10
	VPXORD       Z11, Z11, Z11
	VPXORD       Z12, Z12, Z12
	VPXORD       Z13, Z13, Z13
	CMPQ         CX, $32
	JB           sum16

sum32:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
	VSUBPS  Z31, Z0, Z0
	VSUBPS  Z31, Z5, Z5
	EXP16(Z0, Z1, Z2, Z3, Z4, K2)
	EXP16(Z5, Z6, Z7, Z8, Z9, K3)
	VMOVUPS Z4, (DI)
	VMOVUPS Z9, 64(DI)
	ACC64(Z4, Y4, Z1, Y2, Z2, Z10, Z11)
	ACC64(Z9, Y9, Z6, Y7, Z7, Z12, Z13)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     sum32

sum16:
	CMPQ    CX, $16
	JB      sumtail
	VMOVUPS (SI), Z0
	VSUBPS  Z31, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4, K2)
	VMOVUPS Z4, (DI)
	ACC64(Z4, Y4, Z1, Y2, Z2, Z10, Z11)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

sumtail:
	TESTQ     CX, CX
	JZ        sumdone
	TAILK
	VMOVUPS.Z (SI), K1, Z0
	VSUBPS    Z31, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4, K2)
	VMOVUPS   Z4, K1, (DI)
	VMOVAPS.Z Z4, K1, Z4 // the padding lanes hold e^(0-shift): drop them
	ACC64(Z4, Y4, Z1, Y2, Z2, Z10, Z11)

sumdone:
	VADDPD    Z12, Z10, Z10
	VADDPD    Z13, Z11, Z11
	VADDPD    Z11, Z10, Z0
	SUM64
	VCVTSD2SS X0, X0, X0
	VZEROUPPER
	MOVSS     X0, ret+32(FP)
	RET

// func swish512(dst, x *float32, n int)
//
// x/(1 + e^-x), with a correctly rounded division.
TEXT ·swish512(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	LOAD_EXP_CONSTS
	VBROADCASTSS signBit<>(SB), Z30
	CMPQ         CX, $32
	JB           swish16

swish32:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
	VPXORD  Z30, Z0, Z1
	VPXORD  Z30, Z5, Z6
	EXP16(Z1, Z2, Z3, Z10, Z4, K2)
	EXP16(Z6, Z7, Z8, Z11, Z9, K3)
	VADDPS  ZONE, Z4, Z4
	VADDPS  ZONE, Z9, Z9
	VDIVPS  Z4, Z0, Z0
	VDIVPS  Z9, Z5, Z5
	VMOVUPS Z0, (DI)
	VMOVUPS Z5, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     swish32

swish16:
	CMPQ    CX, $16
	JB      swishtail
	VMOVUPS (SI), Z0
	VPXORD  Z30, Z0, Z1
	EXP16(Z1, Z2, Z3, Z10, Z4, K2)
	VADDPS  ZONE, Z4, Z4
	VDIVPS  Z4, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

swishtail:
	TESTQ     CX, CX
	JZ        swishdone
	TAILK
	VMOVUPS.Z (SI), K1, Z0
	VPXORD    Z30, Z0, Z1
	EXP16(Z1, Z2, Z3, Z10, Z4, K2)
	VADDPS    ZONE, Z4, Z4
	VDIVPS    Z4, Z0, Z0
	VMOVUPS   Z0, K1, (DI)

swishdone:
	VZEROUPPER
	RET

// SWISHGRAD turns X = x and E = e^-x into E = σ·(1 + x·(1-σ)) with
// σ = 1/(1+e^-x) and 1-σ = min(e^-x·σ, 1) (the min maps the NaN of ∞·0 to
// 1), as the AVX2 macro of the same name. T, U are scratch.
#define SWISHGRAD(X, E, T, U) \
	VADDPS      ZONE, E, T; \
	VDIVPS      T, ZONE, U; \
	VMULPS      U, E, E;    \
	VMINPS      ZONE, E, E; \
	VFMADD213PS ZONE, X, E; \
	VMULPS      U, E, E

// func swishGrad512(dst, x, dy *float32, n int)
TEXT ·swishGrad512(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         dy+16(FP), DX
	MOVQ         n+24(FP), CX
	LOAD_EXP_CONSTS
	VBROADCASTSS signBit<>(SB), Z30
	CMPQ         CX, $32
	JB           sg16

sg32:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z5
	VPXORD  Z30, Z0, Z1
	VPXORD  Z30, Z5, Z6
	EXP16(Z1, Z2, Z3, Z10, Z4, K2)
	EXP16(Z6, Z7, Z8, Z11, Z9, K3)
	SWISHGRAD(Z0, Z4, Z2, Z3)
	SWISHGRAD(Z5, Z9, Z7, Z8)
	VMULPS  (DX), Z4, Z4
	VMULPS  64(DX), Z9, Z9
	VMOVUPS Z4, (DI)
	VMOVUPS Z9, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     sg32

sg16:
	CMPQ    CX, $16
	JB      sgtail
	VMOVUPS (SI), Z0
	VPXORD  Z30, Z0, Z1
	EXP16(Z1, Z2, Z3, Z10, Z4, K2)
	SWISHGRAD(Z0, Z4, Z2, Z3)
	VMULPS  (DX), Z4, Z4
	VMOVUPS Z4, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX

sgtail:
	TESTQ     CX, CX
	JZ        sgdone
	TAILK
	VMOVUPS.Z (SI), K1, Z0
	VPXORD    Z30, Z0, Z1
	EXP16(Z1, Z2, Z3, Z10, Z4, K2)
	SWISHGRAD(Z0, Z4, Z2, Z3)
	VMOVUPS.Z (DX), K1, Z2
	VMULPS    Z2, Z4, Z4
	VMOVUPS   Z4, K1, (DI)

sgdone:
	VZEROUPPER
	RET

// func max512(x *float32, n int) float32
//
// Four running maxima; lanes where an input is NaN are collected in K3
// (VMAXPS does not propagate NaN reliably).
TEXT ·max512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS negInf<>(SB), Z9
	VMOVAPS      Z9, Z0
	VMOVAPS      Z9, Z1
	VMOVAPS      Z9, Z2
	VMOVAPS      Z9, Z3
	KXORW        K3, K3, K3
	CMPQ         CX, $64
	JB           max16

max64:
	VMOVUPS (SI), Z5
	VMOVUPS 64(SI), Z6
	VMOVUPS 128(SI), Z7
	VMOVUPS 192(SI), Z8
	VMAXPS  Z5, Z0, Z0
	VMAXPS  Z6, Z1, Z1
	VMAXPS  Z7, Z2, Z2
	VMAXPS  Z8, Z3, Z3
	VCMPPS  $3, Z6, Z5, K4
	VCMPPS  $3, Z8, Z7, K5
	KORW    K4, K3, K3
	KORW    K5, K3, K3
	ADDQ    $256, SI
	SUBQ    $64, CX
	CMPQ    CX, $64
	JAE     max64

max16:
	CMPQ    CX, $16
	JB      maxtail
	VMOVUPS (SI), Z5
	VMAXPS  Z5, Z0, Z0
	VCMPPS  $3, Z5, Z5, K4
	KORW    K4, K3, K3
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     max16

maxtail:
	TESTQ   CX, CX
	JZ      maxreduce
	TAILK
	VMOVAPS Z9, Z5
	VMOVUPS (SI), K1, Z5 // the other lanes keep -Inf
	VMAXPS  Z5, Z0, Z0
	VCMPPS  $3, Z5, Z5, K4
	KORW    K4, K3, K3

maxreduce:
	VMAXPS        Z1, Z0, Z0
	VMAXPS        Z3, Z2, Z2
	VMAXPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VMOVHLPS      X0, X0, X1
	VMAXPS        X1, X0, X0
	VSHUFPS       $0x55, X0, X0, X1
	VMAXPS        X1, X0, X0
	KMOVW         K3, AX
	VZEROUPPER
	TESTL         AX, AX
	JNZ           maxnan
	MOVSS         X0, ret+16(FP)
	RET

maxnan:
	MOVL $0x7fc00000, ret+16(FP)
	RET

// func scale512(dst, x *float32, n int, s float32)
//
// Four vectors are loaded before any is stored, so dst may be x.
TEXT ·scale512(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS s+24(FP), Z15
	CMPQ         CX, $64
	JB           scale16

scale64:
	VMULPS  (SI), Z15, Z0
	VMULPS  64(SI), Z15, Z1
	VMULPS  128(SI), Z15, Z2
	VMULPS  192(SI), Z15, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    $256, SI
	ADDQ    $256, DI
	SUBQ    $64, CX
	CMPQ    CX, $64
	JAE     scale64

scale16:
	CMPQ    CX, $16
	JB      scaletail
	VMULPS  (SI), Z15, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     scale16

scaletail:
	TESTQ     CX, CX
	JZ        scaledone
	TAILK
	VMOVUPS.Z (SI), K1, Z0
	VMULPS    Z0, Z15, Z0
	VMOVUPS   Z0, K1, (DI)

scaledone:
	VZEROUPPER
	RET


// func sumSq512(x *float32, n int) float64
//
// Each group of 8 elements is widened to float64 (VCVTPS2PD) and squared
// into one of four 8-lane float64 accumulators; the squares are exact.
TEXT ·sumSq512(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ   CX, $32
	JB     sq8

sq32:
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   32(SI), Z5
	VCVTPS2PD   64(SI), Z6
	VCVTPS2PD   96(SI), Z7
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	VFMADD231PD Z6, Z6, Z2
	VFMADD231PD Z7, Z7, Z3
	ADDQ        $128, SI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JAE         sq32

sq8:
	CMPQ        CX, $8
	JB          sqtail
	VCVTPS2PD   (SI), Z4
	VFMADD231PD Z4, Z4, Z0
	ADDQ        $32, SI
	SUBQ        $8, CX
	JMP         sq8

sqtail:
	TESTQ       CX, CX
	JZ          sqreduce
	TAILK
	VMOVUPS.Z   (SI), K1, Z4
	VCVTPS2PD   Y4, Z4
	VFMADD231PD Z4, Z4, Z1

sqreduce:
	VADDPD Z1, Z0, Z0
	VADDPD Z3, Z2, Z2
	VADDPD Z2, Z0, Z0
	SUM64
	VZEROUPPER
	MOVSD  X0, ret+16(FP)
	RET

// func dot64512(x, y *float32, n int) float64
//
// As sumSq512, with products of x and y (exact in float64).
TEXT ·dot64512(SB), NOSPLIT, $0-32
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DX
	MOVQ   n+16(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ   CX, $32
	JB     d64x8

d64x32:
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   32(SI), Z5
	VCVTPS2PD   64(SI), Z6
	VCVTPS2PD   96(SI), Z7
	VCVTPS2PD   (DX), Z8
	VCVTPS2PD   32(DX), Z9
	VCVTPS2PD   64(DX), Z10
	VCVTPS2PD   96(DX), Z11
	VFMADD231PD Z8, Z4, Z0
	VFMADD231PD Z9, Z5, Z1
	VFMADD231PD Z10, Z6, Z2
	VFMADD231PD Z11, Z7, Z3
	ADDQ        $128, SI
	ADDQ        $128, DX
	SUBQ        $32, CX
	CMPQ        CX, $32
	JAE         d64x32

d64x8:
	CMPQ        CX, $8
	JB          d64tail
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   (DX), Z8
	VFMADD231PD Z8, Z4, Z0
	ADDQ        $32, SI
	ADDQ        $32, DX
	SUBQ        $8, CX
	JMP         d64x8

d64tail:
	TESTQ       CX, CX
	JZ          d64reduce
	TAILK
	VMOVUPS.Z   (SI), K1, Z4
	VMOVUPS.Z   (DX), K1, Z8
	VCVTPS2PD   Y4, Z4
	VCVTPS2PD   Y8, Z8
	VFMADD231PD Z8, Z4, Z1

d64reduce:
	VADDPD Z1, Z0, Z0
	VADDPD Z3, Z2, Z2
	VADDPD Z2, Z0, Z0
	SUM64
	VZEROUPPER
	MOVSD  X0, ret+24(FP)
	RET

// func axpby512(dst, x, y *float32, n int, a, b float32)
//
// dst = a·x + b·y as FMA(a, x, b·y). Both inputs of a vector are loaded
// before it is stored, so dst may be x or y.
TEXT ·axpby512(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS a+32(FP), Z14
	VBROADCASTSS b+36(FP), Z15
	CMPQ         CX, $32
	JB           axpby16

axpby32:
	VMULPS      (DX), Z15, Z0
	VMULPS      64(DX), Z15, Z1
	VFMADD231PS (SI), Z14, Z0
	VFMADD231PS 64(SI), Z14, Z1
	VMOVUPS     Z0, (DI)
	VMOVUPS     Z1, 64(DI)
	ADDQ        $128, SI
	ADDQ        $128, DX
	ADDQ        $128, DI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JAE         axpby32

axpby16:
	CMPQ        CX, $16
	JB          axpbytail
	VMULPS      (DX), Z15, Z0
	VFMADD231PS (SI), Z14, Z0
	VMOVUPS     Z0, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DX
	ADDQ        $64, DI
	SUBQ        $16, CX

axpbytail:
	TESTQ       CX, CX
	JZ          axpbydone
	TAILK
	VMOVUPS.Z   (SI), K1, Z2
	VMOVUPS.Z   (DX), K1, Z3
	VMULPS      Z3, Z15, Z0
	VFMADD231PS Z2, Z14, Z0
	VMOVUPS     Z0, K1, (DI)

axpbydone:
	VZEROUPPER
	RET

// ADAMW16 applies the AdamW step to 16 lanes: G the gradients, M, V the
// moments (YM, YV their low halves) and P the parameters, all updated in
// place. Z20-Z24 hold β1,
// 1-β1, β2, 1-β2 and the decay (float32), Z25-Z27 the step size,
// sqrt(1-β2^t) and ε (float64). Z2, Z4-Z8 are scratch.
//
// The float32 operations are those of the Go loop, each rounded; the
// update term is computed in float64, eight lanes at a time, and rounded
// to float32 once (VCVTPD2PS rounds to nearest).
#define ADAMW16(G, M, YM, V, YV, P) \
	VMULPS        Z20, M, M;       \
	VMULPS        G, Z21, Z2;      \
	VADDPS        Z2, M, M;        \
	VMULPS        Z22, V, V;       \
	VMULPS        G, Z23, Z4;      \
	VMULPS        G, Z4, Z4;       \
	VADDPS        Z4, V, V;        \
	VCVTPS2PD     YV, Z5;          \
	VSQRTPD       Z5, Z5;          \
	VDIVPD        Z26, Z5, Z5;     \
	VADDPD        Z27, Z5, Z5;     \
	VCVTPS2PD     YM, Z6;          \
	VMULPD        Z25, Z6, Z6;     \
	VDIVPD        Z5, Z6, Z6;      \
	VCVTPD2PS     Z6, Y6;          \
	VEXTRACTF64X4 $1, V, Y7;       \
	VCVTPS2PD     Y7, Z7;          \
	VSQRTPD       Z7, Z7;          \
	VDIVPD        Z26, Z7, Z7;     \
	VADDPD        Z27, Z7, Z7;     \
	VEXTRACTF64X4 $1, M, Y8;       \
	VCVTPS2PD     Y8, Z8;          \
	VMULPD        Z25, Z8, Z8;     \
	VDIVPD        Z7, Z8, Z8;      \
	VCVTPD2PS     Z8, Y8;          \
	VINSERTF64X4  $1, Y8, Z6, Z6;  \
	VMULPS        Z24, P, P;       \
	VSUBPS        Z6, P, P

// func adamW512(param, grad, m, v *float32, n int, b1, omb1, b2, omb2, decay float32, stepSize, sqrtBC2, eps float64)
TEXT ·adamW512(SB), NOSPLIT, $0-88
	MOVQ         param+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         m+16(FP), R8
	MOVQ         v+24(FP), R9
	MOVQ         n+32(FP), CX
	VBROADCASTSS b1+40(FP), Z20
	VBROADCASTSS omb1+44(FP), Z21
	VBROADCASTSS b2+48(FP), Z22
	VBROADCASTSS omb2+52(FP), Z23
	VBROADCASTSS decay+56(FP), Z24
	VBROADCASTSD stepSize+64(FP), Z25
	VBROADCASTSD sqrtBC2+72(FP), Z26
	VBROADCASTSD eps+80(FP), Z27
	CMPQ         CX, $16
	JB           adamwtail

adamwloop:
	VMOVUPS (SI), Z0
	VMOVUPS (R8), Z1
	VMOVUPS (R9), Z3
	VMOVUPS (DI), Z9
	ADAMW16(Z0, Z1, Y1, Z3, Y3, Z9)
	VMOVUPS Z1, (R8)
	VMOVUPS Z3, (R9)
	VMOVUPS Z9, (DI)
	ADDQ    $64, SI
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JAE     adamwloop

adamwtail:
	TESTQ     CX, CX
	JZ        adamwdone
	TAILK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (R8), K1, Z1
	VMOVUPS.Z (R9), K1, Z3
	VMOVUPS.Z (DI), K1, Z9
	ADAMW16(Z0, Z1, Y1, Z3, Y3, Z9)
	VMOVUPS   Z1, K1, (R8)
	VMOVUPS   Z3, K1, (R9)
	VMOVUPS   Z9, K1, (DI)

adamwdone:
	VZEROUPPER
	RET

// func add512(dst, x, y *float32, n int)
TEXT ·add512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	CMPQ CX, $64
	JB   add16

add64:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	VADDPS  (DX), Z0, Z0
	VADDPS  64(DX), Z1, Z1
	VADDPS  128(DX), Z2, Z2
	VADDPS  192(DX), Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    $256, SI
	ADDQ    $256, DX
	ADDQ    $256, DI
	SUBQ    $64, CX
	CMPQ    CX, $64
	JAE     add64

add16:
	CMPQ    CX, $16
	JB      addtail
	VMOVUPS (SI), Z0
	VADDPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     add16

addtail:
	TESTQ     CX, CX
	JZ        adddone
	TAILK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VADDPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (DI)

adddone:
	VZEROUPPER
	RET

// func mul512(dst, x, y *float32, n int)
TEXT ·mul512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	CMPQ CX, $64
	JB   mul16

mul64:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	VMULPS  (DX), Z0, Z0
	VMULPS  64(DX), Z1, Z1
	VMULPS  128(DX), Z2, Z2
	VMULPS  192(DX), Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    $256, SI
	ADDQ    $256, DX
	ADDQ    $256, DI
	SUBQ    $64, CX
	CMPQ    CX, $64
	JAE     mul64

mul16:
	CMPQ    CX, $16
	JB      multail
	VMOVUPS (SI), Z0
	VMULPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     mul16

multail:
	TESTQ     CX, CX
	JZ        muldone
	TAILK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	VMULPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (DI)

muldone:
	VZEROUPPER
	RET

// func mulShift512(dst, p, x *float32, n int, d float32)
// dst[i] = p[i]·(x[i]-d), the difference rounded first.
TEXT ·mulShift512(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         p+8(FP), SI
	MOVQ         x+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS d+32(FP), Z31
	CMPQ         CX, $64
	JB           ms16

ms64:
	VMOVUPS (DX), Z0
	VMOVUPS 64(DX), Z1
	VMOVUPS 128(DX), Z2
	VMOVUPS 192(DX), Z3
	VSUBPS  Z31, Z0, Z0
	VSUBPS  Z31, Z1, Z1
	VSUBPS  Z31, Z2, Z2
	VSUBPS  Z31, Z3, Z3
	VMULPS  (SI), Z0, Z0
	VMULPS  64(SI), Z1, Z1
	VMULPS  128(SI), Z2, Z2
	VMULPS  192(SI), Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    $256, SI
	ADDQ    $256, DX
	ADDQ    $256, DI
	SUBQ    $64, CX
	CMPQ    CX, $64
	JAE     ms64

ms16:
	CMPQ    CX, $16
	JB      mstail
	VMOVUPS (DX), Z0
	VSUBPS  Z31, Z0, Z0
	VMULPS  (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     ms16

mstail:
	TESTQ     CX, CX
	JZ        msdone
	TAILK
	VMOVUPS.Z (DX), K1, Z0
	VMOVUPS.Z (SI), K1, Z1
	VSUBPS    Z31, Z0, Z0
	VMULPS    Z1, Z0, Z0
	VMOVUPS   Z0, K1, (DI)

msdone:
	VZEROUPPER
	RET

// func rowDots512(dst, x *float32, ldx int, y *float32, ldy int, groups, blocks int)
//
// For g < groups and r < 16: dst[16g+r] = Σ_{c < 16·blocks} x[(16g+r)·ldx+c]·y[(16g+r)·ldy+c],
// each product rounded and the sum accumulated in order of c from +0 (the
// scalar loop's arithmetic), 16 rows at a time: a 16×16 block of products
// is transposed in registers so that each lane sums one row.
TEXT ·rowDots512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), AX
	MOVQ y+24(FP), DX
	MOVQ ldy+32(FP), BX
	MOVQ groups+40(FP), CX
	SHLQ $2, AX
	SHLQ $2, BX
	TESTQ CX, CX
	JZ    rdDone

rdGroup:
	VPXORD Z20, Z20, Z20
	MOVQ   blocks+48(FP), R12
	MOVQ   SI, R10 // x of row 16g, column block b
	MOVQ   DX, R11 // y
	TESTQ  R12, R12
	JZ     rdStore

rdBlock:
	MOVQ R10, R8
	MOVQ R11, R9
	VMOVUPS (R8), Z0
	VMULPS  (R9), Z0, Z0
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z1
	VMULPS  (R9), Z1, Z1
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z2
	VMULPS  (R9), Z2, Z2
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z3
	VMULPS  (R9), Z3, Z3
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z4
	VMULPS  (R9), Z4, Z4
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z5
	VMULPS  (R9), Z5, Z5
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z6
	VMULPS  (R9), Z6, Z6
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z7
	VMULPS  (R9), Z7, Z7
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z8
	VMULPS  (R9), Z8, Z8
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z9
	VMULPS  (R9), Z9, Z9
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z10
	VMULPS  (R9), Z10, Z10
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z11
	VMULPS  (R9), Z11, Z11
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z12
	VMULPS  (R9), Z12, Z12
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z13
	VMULPS  (R9), Z13, Z13
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z14
	VMULPS  (R9), Z14, Z14
	ADDQ    AX, R8
	ADDQ    BX, R9
	VMOVUPS (R8), Z15
	VMULPS  (R9), Z15, Z15
	VUNPCKLPS Z1, Z0, Z16
	VUNPCKHPS Z1, Z0, Z17
	VUNPCKLPS Z3, Z2, Z18
	VUNPCKHPS Z3, Z2, Z19
	VUNPCKLPD Z18, Z16, Z0
	VUNPCKHPD Z18, Z16, Z1
	VUNPCKLPD Z19, Z17, Z2
	VUNPCKHPD Z19, Z17, Z3
	VUNPCKLPS Z5, Z4, Z16
	VUNPCKHPS Z5, Z4, Z17
	VUNPCKLPS Z7, Z6, Z18
	VUNPCKHPS Z7, Z6, Z19
	VUNPCKLPD Z18, Z16, Z4
	VUNPCKHPD Z18, Z16, Z5
	VUNPCKLPD Z19, Z17, Z6
	VUNPCKHPD Z19, Z17, Z7
	VUNPCKLPS Z9, Z8, Z16
	VUNPCKHPS Z9, Z8, Z17
	VUNPCKLPS Z11, Z10, Z18
	VUNPCKHPS Z11, Z10, Z19
	VUNPCKLPD Z18, Z16, Z8
	VUNPCKHPD Z18, Z16, Z9
	VUNPCKLPD Z19, Z17, Z10
	VUNPCKHPD Z19, Z17, Z11
	VUNPCKLPS Z13, Z12, Z16
	VUNPCKHPS Z13, Z12, Z17
	VUNPCKLPS Z15, Z14, Z18
	VUNPCKHPS Z15, Z14, Z19
	VUNPCKLPD Z18, Z16, Z12
	VUNPCKHPD Z18, Z16, Z13
	VUNPCKLPD Z19, Z17, Z14
	VUNPCKHPD Z19, Z17, Z15
	VSHUFF32X4 $0x88, Z4, Z0, Z16
	VSHUFF32X4 $0xDD, Z4, Z0, Z17
	VSHUFF32X4 $0x88, Z12, Z8, Z18
	VSHUFF32X4 $0xDD, Z12, Z8, Z19
	VSHUFF32X4 $0x88, Z18, Z16, Z0
	VSHUFF32X4 $0xDD, Z18, Z16, Z8
	VSHUFF32X4 $0x88, Z19, Z17, Z4
	VSHUFF32X4 $0xDD, Z19, Z17, Z12
	VSHUFF32X4 $0x88, Z5, Z1, Z16
	VSHUFF32X4 $0xDD, Z5, Z1, Z17
	VSHUFF32X4 $0x88, Z13, Z9, Z18
	VSHUFF32X4 $0xDD, Z13, Z9, Z19
	VSHUFF32X4 $0x88, Z18, Z16, Z1
	VSHUFF32X4 $0xDD, Z18, Z16, Z9
	VSHUFF32X4 $0x88, Z19, Z17, Z5
	VSHUFF32X4 $0xDD, Z19, Z17, Z13
	VSHUFF32X4 $0x88, Z6, Z2, Z16
	VSHUFF32X4 $0xDD, Z6, Z2, Z17
	VSHUFF32X4 $0x88, Z14, Z10, Z18
	VSHUFF32X4 $0xDD, Z14, Z10, Z19
	VSHUFF32X4 $0x88, Z18, Z16, Z2
	VSHUFF32X4 $0xDD, Z18, Z16, Z10
	VSHUFF32X4 $0x88, Z19, Z17, Z6
	VSHUFF32X4 $0xDD, Z19, Z17, Z14
	VSHUFF32X4 $0x88, Z7, Z3, Z16
	VSHUFF32X4 $0xDD, Z7, Z3, Z17
	VSHUFF32X4 $0x88, Z15, Z11, Z18
	VSHUFF32X4 $0xDD, Z15, Z11, Z19
	VSHUFF32X4 $0x88, Z18, Z16, Z3
	VSHUFF32X4 $0xDD, Z18, Z16, Z11
	VSHUFF32X4 $0x88, Z19, Z17, Z7
	VSHUFF32X4 $0xDD, Z19, Z17, Z15
	VADDPS Z0, Z20, Z20
	VADDPS Z1, Z20, Z20
	VADDPS Z2, Z20, Z20
	VADDPS Z3, Z20, Z20
	VADDPS Z4, Z20, Z20
	VADDPS Z5, Z20, Z20
	VADDPS Z6, Z20, Z20
	VADDPS Z7, Z20, Z20
	VADDPS Z8, Z20, Z20
	VADDPS Z9, Z20, Z20
	VADDPS Z10, Z20, Z20
	VADDPS Z11, Z20, Z20
	VADDPS Z12, Z20, Z20
	VADDPS Z13, Z20, Z20
	VADDPS Z14, Z20, Z20
	VADDPS Z15, Z20, Z20
	ADDQ $64, R10
	ADDQ $64, R11
	DECQ R12
	JNZ  rdBlock

rdStore:
	VMOVUPS Z20, (DI)
	ADDQ    $64, DI
	MOVQ    AX, R8
	SHLQ    $4, R8
	ADDQ    R8, SI // 16 rows of x
	MOVQ    BX, R8
	SHLQ    $4, R8
	ADDQ    R8, DX
	DECQ    CX
	JNZ     rdGroup

rdDone:
	VZEROUPPER
	RET
