//go:build amd64 && !purego

#include "textflag.h"

// The dropout kernel: the counter-based hash of package pipeline on eight
// 64-bit lanes per ZMM register (VPMULLQ, AVX-512DQ), two registers per
// vector of 16 float32 elements.

DATA lanes<>+0(SB)/8, $0
DATA lanes<>+8(SB)/8, $1
DATA lanes<>+16(SB)/8, $2
DATA lanes<>+24(SB)/8, $3
DATA lanes<>+32(SB)/8, $4
DATA lanes<>+40(SB)/8, $5
DATA lanes<>+48(SB)/8, $6
DATA lanes<>+56(SB)/8, $7
GLOBL lanes<>(SB), RODATA|NOPTR, $64

// MIX is SplitMix64's finaliser on the lanes of X (T is clobbered):
// x ^= x>>30; x *= C1; x ^= x>>27; x *= C2; x ^= x>>31.
#define MIX(X, T) \
	VPSRLQ  $30, X, T; \
	VPXORQ  T, X, X;   \
	VPMULLQ Z20, X, X; \
	VPSRLQ  $27, X, T; \
	VPXORQ  T, X, X;   \
	VPMULLQ Z21, X, X; \
	VPSRLQ  $31, X, T; \
	VPXORQ  T, X, X

// MIX4 is MIX on four registers at once, interleaved so that the long
// latency of VPMULLQ overlaps.
#define MIX4(A, B, C, D, TA, TB, TC, TD) \
	VPSRLQ  $30, A, TA; \
	VPSRLQ  $30, B, TB; \
	VPSRLQ  $30, C, TC; \
	VPSRLQ  $30, D, TD; \
	VPXORQ  TA, A, A;   \
	VPXORQ  TB, B, B;   \
	VPXORQ  TC, C, C;   \
	VPXORQ  TD, D, D;   \
	VPMULLQ Z20, A, A;  \
	VPMULLQ Z20, B, B;  \
	VPMULLQ Z20, C, C;  \
	VPMULLQ Z20, D, D;  \
	VPSRLQ  $27, A, TA; \
	VPSRLQ  $27, B, TB; \
	VPSRLQ  $27, C, TC; \
	VPSRLQ  $27, D, TD; \
	VPXORQ  TA, A, A;   \
	VPXORQ  TB, B, B;   \
	VPXORQ  TC, C, C;   \
	VPXORQ  TD, D, D;   \
	VPMULLQ Z21, A, A;  \
	VPMULLQ Z21, B, B;  \
	VPMULLQ Z21, C, C;  \
	VPMULLQ Z21, D, D;  \
	VPSRLQ  $31, A, TA; \
	VPSRLQ  $31, B, TB; \
	VPSRLQ  $31, C, TC; \
	VPSRLQ  $31, D, TD; \
	VPXORQ  TA, A, A;   \
	VPXORQ  TB, B, B;   \
	VPXORQ  TC, C, C;   \
	VPXORQ  TD, D, D

// KEEP sets K to the lanes of X (counters Site·φ + index) that are kept:
// mix64(key ^ mix64(x)) >> 11 >= threshold. X and T are clobbered.
#define KEEP(X, T, K) \
	MIX(X, T);            \
	VPXORQ  Z22, X, X;    \
	MIX(X, T);            \
	VPSRLQ  $11, X, X;    \
	VPCMPUQ $5, Z23, X, K

// APPLY writes one vector of 16 results from off(SI) to off(DI) under the
// keep mask K: Y = x·M with M = scale where kept and 0 where dropped, then,
// for Dropout (K7 = 0), the dropped lanes set to +0; for DropoutMul
// (K7 = all ones) nothing more. K1 is clobbered.
#define APPLY(K, off, Y, M) \
	VMOVUPS   off(SI), Y; \
	VMOVAPS.Z Z28, K, M;  \
	VMULPS    M, Y, Y;    \
	KORW      K, K7, K1;  \
	VMOVAPS.Z Y, K1, Y;   \
	VMOVUPS   Y, off(DI)

// func dropout512(dst, x *float32, n int, key, base, thr uint64, scale float32, mul int)
// n is a multiple of 16; base is Site·φ + Index.
TEXT ·dropout512(SB), NOSPLIT, $0-64
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VPBROADCASTQ key+24(FP), Z22
	VPBROADCASTQ base+32(FP), Z24
	VPBROADCASTQ thr+40(FP), Z23
	VBROADCASTSS scale+48(FP), Z28
	MOVQ         mul+56(FP), AX
	NEGQ         AX                    // mul: all ones; else 0
	KMOVW        AX, K7
	MOVQ         $0xbf58476d1ce4e5b9, AX
	VPBROADCASTQ AX, Z20
	MOVQ         $0x94d049bb133111eb, AX
	VPBROADCASTQ AX, Z21
	VPADDQ       lanes<>(SB), Z24, Z24 // counters of lanes 0..7
	MOVQ         $8, AX
	VPBROADCASTQ AX, Z26
	MOVQ         $16, AX
	VPBROADCASTQ AX, Z27
	VPADDQ       Z27, Z27, Z25         // 32

drop32:
	CMPQ      CX, $32
	JB        drop16
	VMOVDQA64 Z24, Z0
	VPADDQ    Z26, Z24, Z1
	VPADDQ    Z27, Z24, Z2
	VPADDQ    Z26, Z2, Z3
	MIX4(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VPXORQ    Z22, Z0, Z0
	VPXORQ    Z22, Z1, Z1
	VPXORQ    Z22, Z2, Z2
	VPXORQ    Z22, Z3, Z3
	MIX4(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VPSRLQ    $11, Z0, Z0
	VPSRLQ    $11, Z1, Z1
	VPSRLQ    $11, Z2, Z2
	VPSRLQ    $11, Z3, Z3
	VPCMPUQ   $5, Z23, Z0, K2
	VPCMPUQ   $5, Z23, Z1, K3
	VPCMPUQ   $5, Z23, Z2, K4
	VPCMPUQ   $5, Z23, Z3, K5
	KUNPCKBW  K2, K3, K6 // lanes 0..15: K3:K2
	KUNPCKBW  K4, K5, K5 // lanes 16..31
	APPLY(K6, 0, Z8, Z9)
	APPLY(K5, 64, Z10, Z11)
	VPADDQ    Z25, Z24, Z24
	ADDQ      $128, SI
	ADDQ      $128, DI
	SUBQ      $32, CX
	JMP       drop32

drop16:
	TESTQ     CX, CX
	JZ        dropdone
	VMOVDQA64 Z24, Z0
	VPADDQ    Z26, Z24, Z1
	KEEP(Z0, Z2, K2)
	KEEP(Z1, Z3, K3)
	KUNPCKBW  K2, K3, K4
	APPLY(K4, 0, Z4, Z5)

dropdone:
	VZEROUPPER
	RET
