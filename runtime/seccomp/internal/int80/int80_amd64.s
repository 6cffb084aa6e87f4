#include "textflag.h"

// func Syscall(nr uint32, a0, a1, a2, a3, a4, a5 uint32) int32
// BP carries the sixth argument of int $0x80 and is Go's frame pointer:
// it is kept in R12 meanwhile (the kernel preserves R12).
TEXT ·Syscall(SB), NOSPLIT, $0-36
	MOVQ BP, R12
	MOVL nr+0(FP), AX
	MOVL a0+4(FP), BX
	MOVL a1+8(FP), CX
	MOVL a2+12(FP), DX
	MOVL a3+16(FP), SI
	MOVL a4+20(FP), DI
	MOVL a5+24(FP), BP
	INT  $0x80
	MOVQ R12, BP
	MOVL AX, ret+32(FP)
	RET
