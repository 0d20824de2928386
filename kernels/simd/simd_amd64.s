//go:build amd64 && !purego

#include "textflag.h"

// AVX2/FMA3 kernels, 8 float32 lanes per YMM register. See doc.go for the
// method. Every kernel takes n >= 0 elements: whole vectors in the main loop,
// then the last n%8 elements with VMASKMOVPS loads and stores under a lane
// mask (masked-off lanes are neither read nor written, so nothing outside
// the slices is touched).

// An 8-lane constant.
#define CONST8(name, bits) \
	DATA name<>+0(SB)/4, $bits;  \
	DATA name<>+4(SB)/4, $bits;  \
	DATA name<>+8(SB)/4, $bits;  \
	DATA name<>+12(SB)/4, $bits; \
	DATA name<>+16(SB)/4, $bits; \
	DATA name<>+20(SB)/4, $bits; \
	DATA name<>+24(SB)/4, $bits; \
	DATA name<>+28(SB)/4, $bits; \
	GLOBL name<>(SB), RODATA|NOPTR, $32

CONST8(log2e, 0x3fb8aa3b)  // log2(e)
CONST8(magic, 0x4b400000)  // 1.5·2^23: x+magic rounds x to an integer
CONST8(nln2hi, 0xbf317200) // -0.693145751953125 (15 significant bits)
CONST8(nln2lo, 0xb5bfbe8e) // -(ln2 - 0.693145751953125)
CONST8(expC2, 0x3efffffe)
CONST8(expC3, 0x3e2aaa49)
CONST8(expC4, 0x3d2aac79)
CONST8(expC5, 0x3c091cf0)
CONST8(expC6, 0x3ab5121d)
CONST8(one, 0x3f800000)
CONST8(expLo, 0xc2aeac4f)  // -87.33654: below, e^x is subnormal
CONST8(expHi, 0x42b17217)  // 88.72283: above, e^x overflows
CONST8(posInf, 0x7f800000)
CONST8(negInf, 0xff800000)
CONST8(signBit, 0x80000000)

// tailMask: 8 lanes of ones then 8 of zeros; the 8 lanes at byte offset
// 32-4k have ones in the first k.
DATA tailMask<>+0(SB)/8, $-1
DATA tailMask<>+8(SB)/8, $-1
DATA tailMask<>+16(SB)/8, $-1
DATA tailMask<>+24(SB)/8, $-1
DATA tailMask<>+32(SB)/8, $0
DATA tailMask<>+40(SB)/8, $0
DATA tailMask<>+48(SB)/8, $0
DATA tailMask<>+56(SB)/8, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $64

// TAILMASK loads into m the mask of the first CX lanes (1 <= CX <= 7).
// Clobbers R8, R9.
#define TAILMASK(m) \
	LEAQ    tailMask<>+32(SB), R8; \
	MOVQ    CX, R9;                \
	SHLQ    $2, R9;                \
	SUBQ    R9, R8;                \
	VMOVDQU (R8), m

// Registers holding constants in the exponential kernels.
#define LOG2E Y6
#define MAGIC Y7
#define NLN2HI Y8
#define NLN2LO Y9
#define ONE Y14
#define ZERO Y15

#define LOAD_EXP_CONSTS \
	VMOVUPS log2e<>(SB), LOG2E;   \
	VMOVUPS magic<>(SB), MAGIC;   \
	VMOVUPS nln2hi<>(SB), NLN2HI; \
	VMOVUPS nln2lo<>(SB), NLN2LO; \
	VMOVUPS one<>(SB), ONE;       \
	VXORPS  ZERO, ZERO, ZERO

// EXP8 replaces the 8 lanes of X by e^X. T, N, R, S and M are scratch;
// C5..C2 are the polynomial coefficients (registers or memory operands).
//
// n = round(x·log2e) by the magic-number trick (T holds n in its low
// mantissa bits), r = x - n·ln2hi - n·ln2lo (both FMAs exact but the last
// rounding), e^r = 1 + r + c2r² + … + c6r⁶ by Horner's rule, and 2^n·e^r by
// adding n to the exponent field: (T<<23) = n<<23 modulo 2^32, since the low
// 9 bits of magic are zero. For x in [expLo, expHi], n is in [-126, 128] and
// e^r has exponent -1 when n = 128 and 0 when n = -126, so the sum stays a
// normal number. Lanes outside that range (and NaN) take S = max(0, x·Inf):
// 0 below, +Inf above, NaN for NaN.
#define EXP8(X, T, N, R, S, M, C5, C4, C3, C2) \
	VMULPS      posInf<>(SB), X, S;      \
	VMAXPS      S, ZERO, S;              \
	VCMPPS      $0x1d, expLo<>(SB), X, M; \
	VCMPPS      $0x12, expHi<>(SB), X, T; \
	VANDPS      T, M, M;                 \
	VMOVAPS     MAGIC, T;                \
	VFMADD231PS LOG2E, X, T;             \
	VSUBPS      MAGIC, T, N;             \
	VMOVAPS     X, R;                    \
	VFMADD231PS NLN2HI, N, R;            \
	VFMADD231PS NLN2LO, N, R;            \
	VMOVUPS     C5, X;                   \
	VFMADD231PS expC6<>(SB), R, X;       \
	VFMADD213PS C4, R, X;                \
	VFMADD213PS C3, R, X;                \
	VFMADD213PS C2, R, X;                \
	VFMADD213PS ONE, R, X;               \
	VFMADD213PS ONE, R, X;               \
	VPSLLD      $23, T, T;               \
	VPADDD      T, X, X;                 \
	VBLENDVPS   M, X, S, X

// func expAVX2(dst, x *float32, n int)
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	LOAD_EXP_CONSTS
	VMOVUPS expC5<>(SB), Y10
	VMOVUPS expC4<>(SB), Y11
	VMOVUPS expC3<>(SB), Y12
	VMOVUPS expC2<>(SB), Y13
	CMPQ    CX, $8
	JB      exptail

exploop:
	VMOVUPS (SI), Y0
	EXP8(Y0, Y1, Y2, Y3, Y4, Y5, Y10, Y11, Y12, Y13)
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     exploop

exptail:
	TESTQ      CX, CX
	JZ         expdone
	TAILMASK(Y10)
	VMASKMOVPS (SI), Y10, Y0
	EXP8(Y0, Y1, Y2, Y3, Y4, Y5, expC5<>(SB), Y11, Y12, Y13)
	VMASKMOVPS Y0, Y10, (DI)

expdone:
	VZEROUPPER
	RET

// ACC64 adds the 8 float32 lanes of YX (whose low half is XX) into the
// float64 accumulators LO (lanes 0-3) and HI (lanes 4-7). YT, XU/YU (the
// same register) are scratch.
#define ACC64(YX, XX, YT, XU, YU, LO, HI) \
	VCVTPS2PD    XX, YT;     \
	VEXTRACTF128 $1, YX, XU; \
	VCVTPS2PD    XU, YU;     \
	VADDPD       YT, LO, LO; \
	VADDPD       YU, HI, HI

// func expSumAVX2(dst, x *float32, n int, shift float32) float32
TEXT ·expSumAVX2(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS shift+24(FP), Y10
	LOAD_EXP_CONSTS
	VXORPD       Y11, Y11, Y11
	VXORPD       Y12, Y12, Y12
	VMOVUPS      expC2<>(SB), Y13
	CMPQ         CX, $8
	JB           sumtail

sumloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y10, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3, Y4, Y5, expC5<>(SB), expC4<>(SB), expC3<>(SB), Y13)
	VMOVUPS Y0, (DI)
	ACC64(Y0, X0, Y1, X2, Y2, Y11, Y12)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     sumloop

sumtail:
	TESTQ      CX, CX
	JZ         sumdone
	TAILMASK(Y13)
	VMASKMOVPS (SI), Y13, Y0
	VSUBPS     Y10, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3, Y4, Y5, expC5<>(SB), expC4<>(SB), expC3<>(SB), expC2<>(SB))
	VMASKMOVPS Y0, Y13, (DI)
	VANDPS     Y13, Y0, Y0
	ACC64(Y0, X0, Y1, X2, Y2, Y11, Y12)

sumdone:
	VADDPD       Y12, Y11, Y11
	VEXTRACTF128 $1, Y11, X12
	VADDPD       X12, X11, X11
	VUNPCKHPD    X11, X11, X12
	VADDSD       X12, X11, X11
	VCVTSD2SS    X11, X11, X11
	VZEROUPPER
	MOVSS        X11, ret+32(FP)
	RET

// func swishAVX2(dst, x *float32, n int)
//
// x/(1 + e^-x).
TEXT ·swishAVX2(SB), NOSPLIT, $0-24
	MOVQ    dst+0(FP), DI
	MOVQ    x+8(FP), SI
	MOVQ    n+16(FP), CX
	LOAD_EXP_CONSTS
	VMOVUPS expC5<>(SB), Y11
	VMOVUPS expC4<>(SB), Y12
	VMOVUPS expC3<>(SB), Y13
	CMPQ    CX, $8
	JB      swishtail

swishloop:
	VMOVUPS (SI), Y0
	VXORPS  signBit<>(SB), Y0, Y1
	EXP8(Y1, Y2, Y3, Y4, Y5, Y10, Y11, Y12, Y13, expC2<>(SB))
	VADDPS  ONE, Y1, Y1
	VDIVPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     swishloop

swishtail:
	TESTQ      CX, CX
	JZ         swishdone
	TAILMASK(Y11)
	VMASKMOVPS (SI), Y11, Y0
	VXORPS     signBit<>(SB), Y0, Y1
	EXP8(Y1, Y2, Y3, Y4, Y5, Y10, expC5<>(SB), Y12, Y13, expC2<>(SB))
	VADDPS     ONE, Y1, Y1
	VDIVPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y11, (DI)

swishdone:
	VZEROUPPER
	RET

// SWISHGRAD turns X = x and E = e^-x into E = σ·(1 + x·(1-σ)) with
// σ = 1/(1+e^-x) and 1-σ = min(e^-x·σ, 1) (the min maps the NaN of ∞·0 to 1).
// T, U are scratch.
#define SWISHGRAD(X, E, T, U) \
	VADDPS      ONE, E, T; \
	VDIVPS      T, ONE, U; \
	VMULPS      U, E, E;   \
	VMINPS      ONE, E, E; \
	VFMADD213PS ONE, X, E; \
	VMULPS      U, E, E

// func swishGradAVX2(dst, x, dy *float32, n int)
TEXT ·swishGradAVX2(SB), NOSPLIT, $0-32
	MOVQ    dst+0(FP), DI
	MOVQ    x+8(FP), SI
	MOVQ    dy+16(FP), DX
	MOVQ    n+24(FP), CX
	LOAD_EXP_CONSTS
	VMOVUPS expC5<>(SB), Y11
	VMOVUPS expC4<>(SB), Y12
	VMOVUPS expC3<>(SB), Y13
	CMPQ    CX, $8
	JB      sgtail

sgloop:
	VMOVUPS (SI), Y0
	VXORPS  signBit<>(SB), Y0, Y1
	EXP8(Y1, Y2, Y3, Y4, Y5, Y10, Y11, Y12, Y13, expC2<>(SB))
	SWISHGRAD(Y0, Y1, Y2, Y3)
	VMULPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     sgloop

sgtail:
	TESTQ      CX, CX
	JZ         sgdone
	TAILMASK(Y11)
	VMASKMOVPS (SI), Y11, Y0
	VXORPS     signBit<>(SB), Y0, Y1
	EXP8(Y1, Y2, Y3, Y4, Y5, Y10, expC5<>(SB), Y12, Y13, expC2<>(SB))
	SWISHGRAD(Y0, Y1, Y2, Y3)
	VMASKMOVPS (DX), Y11, Y2
	VMULPS     Y2, Y1, Y1
	VMASKMOVPS Y1, Y11, (DI)

sgdone:
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
//
// Four running maxima; NaN lanes are collected separately in Y4 (VMAXPS
// does not propagate NaN reliably).
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VMOVUPS negInf<>(SB), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	VXORPS  Y4, Y4, Y4
	CMPQ    CX, $32
	JB      max8

max32:
	VMOVUPS (SI), Y5
	VMOVUPS 32(SI), Y6
	VMOVUPS 64(SI), Y7
	VMOVUPS 96(SI), Y8
	VMAXPS  Y5, Y0, Y0
	VMAXPS  Y6, Y1, Y1
	VMAXPS  Y7, Y2, Y2
	VMAXPS  Y8, Y3, Y3
	VCMPPS  $3, Y6, Y5, Y9
	VCMPPS  $3, Y8, Y7, Y10
	VORPS   Y9, Y4, Y4
	VORPS   Y10, Y4, Y4
	ADDQ    $128, SI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     max32

max8:
	CMPQ    CX, $8
	JB      maxtail
	VMOVUPS (SI), Y5
	VMAXPS  Y5, Y0, Y0
	VCMPPS  $3, Y5, Y5, Y9
	VORPS   Y9, Y4, Y4
	ADDQ    $32, SI
	SUBQ    $8, CX
	JMP     max8

maxtail:
	TESTQ      CX, CX
	JZ         maxreduce
	TAILMASK(Y11)
	VMASKMOVPS (SI), Y11, Y5
	VBLENDVPS  Y11, Y5, Y1, Y5 // Y1 lanes are >= -Inf: harmless filler
	VMAXPS     Y5, Y0, Y0
	VCMPPS     $3, Y5, Y5, Y9
	VORPS      Y9, Y4, Y4

maxreduce:
	VMAXPS       Y1, Y0, Y0
	VMAXPS       Y3, Y2, Y2
	VMAXPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VMAXPS       X1, X0, X0
	VSHUFPS      $0x55, X0, X0, X1
	VMAXPS       X1, X0, X0
	VMOVMSKPS    Y4, AX
	VZEROUPPER
	TESTL        AX, AX
	JNZ          maxnan
	MOVSS        X0, ret+16(FP)
	RET

maxnan:
	MOVL $0x7fc00000, ret+16(FP)
	RET

// func scaleAVX2(dst, x *float32, n int, s float32)
//
// Four vectors are loaded before any is stored, so dst may be x.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS s+24(FP), Y15
	CMPQ         CX, $32
	JB           scale8

scale32:
	VMULPS  (SI), Y15, Y0
	VMULPS  32(SI), Y15, Y1
	VMULPS  64(SI), Y15, Y2
	VMULPS  96(SI), Y15, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     scale32

scale8:
	CMPQ    CX, $8
	JB      scaletail
	VMULPS  (SI), Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     scale8

scaletail:
	TESTQ      CX, CX
	JZ         scaledone
	TAILMASK(Y11)
	VMASKMOVPS (SI), Y11, Y0
	VMULPS     Y0, Y15, Y0
	VMASKMOVPS Y0, Y11, (DI)

scaledone:
	VZEROUPPER
	RET


// SUM64 adds the four float64 lanes of Y0 into X0's low lane. Clobbers X1.
#define SUM64 \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPD       X1, X0, X0; \
	VUNPCKHPD    X0, X0, X1; \
	VADDSD       X1, X0, X0

// func sumSqAVX2(x *float32, n int) float64
//
// Each group of 4 elements is widened to float64 (VCVTPS2PD) and squared
// into one of four 4-lane float64 accumulators; the squares are exact.
TEXT ·sumSqAVX2(SB), NOSPLIT, $0-24
	MOVQ   x+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	CMPQ   CX, $16
	JB     sq4

sq16:
	VCVTPS2PD   (SI), Y4
	VCVTPS2PD   16(SI), Y5
	VCVTPS2PD   32(SI), Y6
	VCVTPS2PD   48(SI), Y7
	VFMADD231PD Y4, Y4, Y0
	VFMADD231PD Y5, Y5, Y1
	VFMADD231PD Y6, Y6, Y2
	VFMADD231PD Y7, Y7, Y3
	ADDQ        $64, SI
	SUBQ        $16, CX
	CMPQ        CX, $16
	JAE         sq16

sq4:
	CMPQ        CX, $4
	JB          sqtail
	VCVTPS2PD   (SI), Y4
	VFMADD231PD Y4, Y4, Y0
	ADDQ        $16, SI
	SUBQ        $4, CX
	JMP         sq4

sqtail:
	TESTQ       CX, CX
	JZ          sqreduce
	TAILMASK(Y11)
	VMASKMOVPS  (SI), X11, X4
	VCVTPS2PD   X4, Y4
	VFMADD231PD Y4, Y4, Y1

sqreduce:
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	SUM64
	VZEROUPPER
	MOVSD  X0, ret+16(FP)
	RET

// func dot64AVX2(x, y *float32, n int) float64
//
// As sumSqAVX2, with products of x and y (exact in float64).
TEXT ·dot64AVX2(SB), NOSPLIT, $0-32
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DX
	MOVQ   n+16(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	CMPQ   CX, $16
	JB     d64x4

d64x16:
	VCVTPS2PD   (SI), Y4
	VCVTPS2PD   16(SI), Y5
	VCVTPS2PD   32(SI), Y6
	VCVTPS2PD   48(SI), Y7
	VCVTPS2PD   (DX), Y8
	VCVTPS2PD   16(DX), Y9
	VCVTPS2PD   32(DX), Y10
	VCVTPS2PD   48(DX), Y12
	VFMADD231PD Y8, Y4, Y0
	VFMADD231PD Y9, Y5, Y1
	VFMADD231PD Y10, Y6, Y2
	VFMADD231PD Y12, Y7, Y3
	ADDQ        $64, SI
	ADDQ        $64, DX
	SUBQ        $16, CX
	CMPQ        CX, $16
	JAE         d64x16

d64x4:
	CMPQ        CX, $4
	JB          d64tail
	VCVTPS2PD   (SI), Y4
	VCVTPS2PD   (DX), Y8
	VFMADD231PD Y8, Y4, Y0
	ADDQ        $16, SI
	ADDQ        $16, DX
	SUBQ        $4, CX
	JMP         d64x4

d64tail:
	TESTQ       CX, CX
	JZ          d64reduce
	TAILMASK(Y11)
	VMASKMOVPS  (SI), X11, X4
	VMASKMOVPS  (DX), X11, X8
	VCVTPS2PD   X4, Y4
	VCVTPS2PD   X8, Y8
	VFMADD231PD Y8, Y4, Y1

d64reduce:
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	VADDPD Y2, Y0, Y0
	SUM64
	VZEROUPPER
	MOVSD  X0, ret+24(FP)
	RET

// func axpbyAVX2(dst, x, y *float32, n int, a, b float32)
//
// dst = a·x + b·y as FMA(a, x, b·y). Both inputs of a vector are loaded
// before it is stored, so dst may be x or y.
TEXT ·axpbyAVX2(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS a+32(FP), Y14
	VBROADCASTSS b+36(FP), Y15
	CMPQ         CX, $16
	JB           axpby8

axpby16:
	VMULPS      (DX), Y15, Y0
	VMULPS      32(DX), Y15, Y1
	VFMADD231PS (SI), Y14, Y0
	VFMADD231PS 32(SI), Y14, Y1
	VMOVUPS     Y0, (DI)
	VMOVUPS     Y1, 32(DI)
	ADDQ        $64, SI
	ADDQ        $64, DX
	ADDQ        $64, DI
	SUBQ        $16, CX
	CMPQ        CX, $16
	JAE         axpby16

axpby8:
	CMPQ        CX, $8
	JB          axpbytail
	VMULPS      (DX), Y15, Y0
	VFMADD231PS (SI), Y14, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	SUBQ        $8, CX

axpbytail:
	TESTQ       CX, CX
	JZ          axpbydone
	TAILMASK(Y11)
	VMASKMOVPS  (SI), Y11, Y2
	VMASKMOVPS  (DX), Y11, Y3
	VMULPS      Y3, Y15, Y0
	VFMADD231PS Y2, Y14, Y0
	VMASKMOVPS  Y0, Y11, (DI)

axpbydone:
	VZEROUPPER
	RET

// ADAMW8 applies the AdamW step to 8 lanes: G the gradients, M, V the
// moments (XM, XV their low halves) and P the parameters, all updated in
// place. Y4-Y8 hold β1, 1-β1, β2, 1-β2 and the decay (float32), Y9, Y10,
// Y12 the step size, sqrt(1-β2^t) and ε (float64). Y2, Y13-Y15 and X13-X15
// (the same registers) are scratch. As ADAMW16 in simd512_amd64.s, four
// float64 lanes at a time.
#define ADAMW8(G, M, XM, V, XV, P) \
	VMULPS       Y4, M, M;         \
	VMULPS       G, Y5, Y2;        \
	VADDPS       Y2, M, M;         \
	VMULPS       Y6, V, V;         \
	VMULPS       G, Y7, Y2;        \
	VMULPS       G, Y2, Y2;        \
	VADDPS       Y2, V, V;         \
	VCVTPS2PD    XV, Y13;          \
	VSQRTPD      Y13, Y13;         \
	VDIVPD       Y10, Y13, Y13;    \
	VADDPD       Y12, Y13, Y13;    \
	VCVTPS2PD    XM, Y14;          \
	VMULPD       Y9, Y14, Y14;     \
	VDIVPD       Y13, Y14, Y14;    \
	VCVTPD2PSY   Y14, X14;         \
	VEXTRACTF128 $1, V, X13;       \
	VCVTPS2PD    X13, Y13;         \
	VSQRTPD      Y13, Y13;         \
	VDIVPD       Y10, Y13, Y13;    \
	VADDPD       Y12, Y13, Y13;    \
	VEXTRACTF128 $1, M, X15;       \
	VCVTPS2PD    X15, Y15;         \
	VMULPD       Y9, Y15, Y15;     \
	VDIVPD       Y13, Y15, Y15;    \
	VCVTPD2PSY   Y15, X15;         \
	VINSERTF128  $1, X15, Y14, Y14; \
	VMULPS       Y8, P, P;         \
	VSUBPS       Y14, P, P

// func adamWAVX2(param, grad, m, v *float32, n int, b1, omb1, b2, omb2, decay float32, stepSize, sqrtBC2, eps float64)
//
// m and v live in R10 and R11, since TAILMASK clobbers R8 and R9.
TEXT ·adamWAVX2(SB), NOSPLIT, $0-88
	MOVQ         param+0(FP), DI
	MOVQ         grad+8(FP), SI
	MOVQ         m+16(FP), R10
	MOVQ         v+24(FP), R11
	MOVQ         n+32(FP), CX
	VBROADCASTSS b1+40(FP), Y4
	VBROADCASTSS omb1+44(FP), Y5
	VBROADCASTSS b2+48(FP), Y6
	VBROADCASTSS omb2+52(FP), Y7
	VBROADCASTSS decay+56(FP), Y8
	VBROADCASTSD stepSize+64(FP), Y9
	VBROADCASTSD sqrtBC2+72(FP), Y10
	VBROADCASTSD eps+80(FP), Y12
	CMPQ         CX, $8
	JB           adamwtail

adamwloop:
	VMOVUPS (SI), Y0
	VMOVUPS (R10), Y1
	VMOVUPS (R11), Y3
	VMOVUPS (DI), Y11
	ADAMW8(Y0, Y1, X1, Y3, X3, Y11)
	VMOVUPS Y1, (R10)
	VMOVUPS Y3, (R11)
	VMOVUPS Y11, (DI)
	ADDQ    $32, SI
	ADDQ    $32, R10
	ADDQ    $32, R11
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     adamwloop

adamwtail:
	TESTQ      CX, CX
	JZ         adamwdone
	TAILMASK(Y15)
	VMASKMOVPS (SI), Y15, Y0
	VMASKMOVPS (R10), Y15, Y1
	VMASKMOVPS (R11), Y15, Y3
	VMASKMOVPS (DI), Y15, Y11
	ADAMW8(Y0, Y1, X1, Y3, X3, Y11)
	TAILMASK(Y15) // ADAMW8 used every register: the mask again
	VMASKMOVPS Y1, Y15, (R10)
	VMASKMOVPS Y3, Y15, (R11)
	VMASKMOVPS Y11, Y15, (DI)

adamwdone:
	VZEROUPPER
	RET

// func addAVX2(dst, x, y *float32, n int)
TEXT ·addAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	CMPQ CX, $32
	JB   add8

add32:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	VADDPS  64(DX), Y2, Y2
	VADDPS  96(DX), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     add32

add8:
	CMPQ    CX, $8
	JB      addtail
	VMOVUPS (SI), Y0
	VADDPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     add8

addtail:
	TESTQ      CX, CX
	JZ         adddone
	TAILMASK(Y11)
	VMASKMOVPS (SI), Y11, Y0
	VMASKMOVPS (DX), Y11, Y1
	VADDPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y11, (DI)

adddone:
	VZEROUPPER
	RET

// func mulAVX2(dst, x, y *float32, n int)
TEXT ·mulAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	CMPQ CX, $32
	JB   mul8

mul32:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMULPS  (DX), Y0, Y0
	VMULPS  32(DX), Y1, Y1
	VMULPS  64(DX), Y2, Y2
	VMULPS  96(DX), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     mul32

mul8:
	CMPQ    CX, $8
	JB      multail
	VMOVUPS (SI), Y0
	VMULPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     mul8

multail:
	TESTQ      CX, CX
	JZ         muldone
	TAILMASK(Y11)
	VMASKMOVPS (SI), Y11, Y0
	VMASKMOVPS (DX), Y11, Y1
	VMULPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y11, (DI)

muldone:
	VZEROUPPER
	RET

// func mulShiftAVX2(dst, p, x *float32, n int, d float32)
// dst[i] = p[i]·(x[i]-d), the difference rounded first.
TEXT ·mulShiftAVX2(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         p+8(FP), SI
	MOVQ         x+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS d+32(FP), Y15
	CMPQ         CX, $32
	JB           ms8

ms32:
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS 64(DX), Y2
	VMOVUPS 96(DX), Y3
	VSUBPS  Y15, Y0, Y0
	VSUBPS  Y15, Y1, Y1
	VSUBPS  Y15, Y2, Y2
	VSUBPS  Y15, Y3, Y3
	VMULPS  (SI), Y0, Y0
	VMULPS  32(SI), Y1, Y1
	VMULPS  64(SI), Y2, Y2
	VMULPS  96(SI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JAE     ms32

ms8:
	CMPQ    CX, $8
	JB      mstail
	VMOVUPS (DX), Y0
	VSUBPS  Y15, Y0, Y0
	VMULPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     ms8

mstail:
	TESTQ      CX, CX
	JZ         msdone
	TAILMASK(Y11)
	VMASKMOVPS (DX), Y11, Y0
	VMASKMOVPS (SI), Y11, Y1
	VSUBPS     Y15, Y0, Y0
	VMULPS     Y1, Y0, Y0
	VMASKMOVPS Y0, Y11, (DI)

msdone:
	VZEROUPPER
	RET

// func prefetch(p *float32, lines int)
// PREFETCHT0 on lines consecutive cache lines from p.
TEXT ·prefetch(SB), NOSPLIT, $0-16
	MOVQ  p+0(FP), SI
	MOVQ  lines+8(FP), CX
	TESTQ CX, CX
	JZ    pfdone

pfloop:
	PREFETCHT0 (SI)
	ADDQ       $64, SI
	DECQ       CX
	JNZ        pfloop

pfdone:
	RET
