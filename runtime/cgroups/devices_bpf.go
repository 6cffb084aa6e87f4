package cgroups

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Fields of struct bpf_cgroup_dev_ctx and the values the kernel puts there
// (include/uapi/linux/bpf.h): access_type is access<<16 | type.
const (
	devBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devChar  = 2 // BPF_DEVCG_DEV_CHAR

	accMknod = 1 // BPF_DEVCG_ACC_MKNOD
	accRead  = 2 // BPF_DEVCG_ACC_READ
	accWrite = 4 // BPF_DEVCG_ACC_WRITE
	accAll   = accMknod | accRead | accWrite
)

// The eBPF instructions the device filter needs (include/uapi/linux/bpf.h,
// bpf_common.h): class | op | source or size.
const (
	bpfLDX, bpfALU, bpfJMP, bpfALU64 = 0x01, 0x04, 0x05, 0x07 // classes
	bpfW, bpfMEM                     = 0x00, 0x60             // size, mode
	bpfK, bpfX                       = 0x00, 0x08             // sources
	bpfAND, bpfRSH, bpfMOV           = 0x50, 0x70, 0xb0       // ALU ops
	bpfJNE, bpfEXIT                  = 0x50, 0x90             // JMP ops

	opLoadWord  = bpfLDX | bpfMEM | bpfW
	opAnd32Imm  = bpfALU | bpfAND | bpfK
	opRsh32Imm  = bpfALU | bpfRSH | bpfK
	opMov32Reg  = bpfALU | bpfMOV | bpfX
	opMov64Imm  = bpfALU64 | bpfMOV | bpfK
	opJumpNEImm = bpfJMP | bpfJNE | bpfK
	opExit      = bpfJMP | bpfEXIT
)

// insn is one eBPF instruction, struct bpf_insn. A conditional jump's
// offset is filled in once the program is laid out: to is the index of
// the block it jumps to.
type insn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
	to       int // jumps: the target block, -1 for none
}

func loadWord(dst, src uint8, off int16) insn {
	return insn{code: opLoadWord, dst: dst, src: src, off: off, to: -1}
}
func alu(code, dst uint8, imm int32) insn { return insn{code: code, dst: dst, imm: imm, to: -1} }
func mov32(dst, src uint8) insn           { return insn{code: opMov32Reg, dst: dst, src: src, to: -1} }
func jumpNE(dst uint8, imm int32, block int) insn {
	return insn{code: opJumpNEImm, dst: dst, imm: imm, to: block}
}
func exit() insn { return insn{code: opExit, to: -1} }

// deviceFilter compiles OCI device rules into a cgroup device program, the
// cgroup v2 stand-in for v1's devices.allow and devices.deny. As on v1, the
// last rule that matches an access decides it, and what no rule matches is
// denied: the program tests the rules from the last to the first and
// returns at the first match. The program is written by hand, seven
// kinds of instruction, rather than with cilium/ebpf, whose package
// initialisation alone cost every nsrun process (the container's init
// too) 0.2 ms of CPU and 30 page faults.
func deviceFilter(rules []specs.LinuxDeviceCgroup) ([]insn, error) {
	// R1 is the context: R2 type, R3 access, R4 major, R5 minor.
	prologue := []insn{
		loadWord(2, 1, 0),
		alu(opAnd32Imm, 2, 0xffff),
		loadWord(3, 1, 0),
		alu(opRsh32Imm, 3, 16),
		loadWord(4, 1, 4),
		loadWord(5, 1, 8),
	}
	// Block i's tests jump to block i+1 when its rule does not match.
	var blocks [][]insn
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		next := len(blocks) + 1
		var b []insn
		switch r.Type {
		case "", "a":
		case "c":
			b = append(b, jumpNE(2, devChar, next))
		case "b":
			b = append(b, jumpNE(2, devBlock, next))
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: type %q is not a, b or c", i, r.Type)
		}
		acc, err := accessMask(r.Access)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		if acc != accAll {
			// The rule covers an access only if it grants every bit asked.
			b = append(b, mov32(6, 3), alu(opAnd32Imm, 6, ^int32(acc)&accAll), jumpNE(6, 0, next))
		}
		if r.Major != nil && *r.Major >= 0 {
			b = append(b, jumpNE(4, int32(*r.Major), next))
		}
		if r.Minor != nil && *r.Minor >= 0 {
			b = append(b, jumpNE(5, int32(*r.Minor), next))
		}
		verdict := int32(0)
		if r.Allow {
			verdict = 1
		}
		catchAll := len(b) == 0
		blocks = append(blocks, append(b, alu(opMov64Imm, 0, verdict), exit()))
		if catchAll {
			// It matches every access: the earlier rules can never decide
			// and the verifier refuses code that cannot be reached.
			break
		}
	}
	// Unless the last block is a catch-all (a verdict and exit, nothing
	// else), accesses fall through it: deny them.
	if n := len(blocks); n == 0 || len(blocks[n-1]) > 2 {
		blocks = append(blocks, []insn{alu(opMov64Imm, 0, 0), exit()})
	}
	start := make([]int, len(blocks))
	prog := prologue
	for i, b := range blocks {
		start[i] = len(prog)
		prog = append(prog, b...)
	}
	for pc := range prog {
		if to := prog[pc].to; to >= 0 {
			prog[pc].off = int16(start[to] - pc - 1)
		}
	}
	return prog, nil
}

// encode lays the instructions out as the kernel reads them: the register
// nibbles of struct bpf_insn are bit-fields, dst first in memory order.
func encode(prog []insn) []byte {
	out := make([]byte, 0, 8*len(prog))
	little := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	for _, in := range prog {
		regs := in.dst | in.src<<4
		if !little {
			regs = in.dst<<4 | in.src
		}
		out = append(out, in.code, regs)
		out = binary.NativeEndian.AppendUint16(out, uint16(in.off))
		out = binary.NativeEndian.AppendUint32(out, uint32(in.imm))
	}
	return out
}

func accessMask(access string) (uint32, error) {
	if access == "" {
		return accAll, nil
	}
	var m uint32
	for _, c := range access {
		switch c {
		case 'r':
			m |= accRead
		case 'w':
			m |= accWrite
		case 'm':
			m |= accMknod
		default:
			return 0, fmt.Errorf("access %q: %q is not r, w or m", access, c)
		}
	}
	if strings.Count(access, "r") > 1 || strings.Count(access, "w") > 1 || strings.Count(access, "m") > 1 {
		return 0, fmt.Errorf("access %q repeats a letter", access)
	}
	return m, nil
}

// progLoadAttr is the BPF_PROG_LOAD part of union bpf_attr, up to the
// fields nsrun sets. The kernel's __aligned_u64 pointers are Go pointers
// here, so that what they point to stays alive and in place: that needs a
// 64-bit platform, which the array below checks at compile time.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              unsafe.Pointer
	license            unsafe.Pointer
	logLevel           uint32
	logSize            uint32
	logBuf             unsafe.Pointer
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

var _ [unsafe.Sizeof(uintptr(0)) - 8]byte

// progAttachAttr is the BPF_PROG_ATTACH part of union bpf_attr.
type progAttachAttr struct {
	targetFD     uint32
	attachBPFFD  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBPFFD uint32
}

func bpf(cmd uintptr, attr unsafe.Pointer, size uintptr) (int, error) {
	for range 5 {
		fd, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
		// The verifier asks to be called again when it was interrupted.
		if errno == unix.EAGAIN {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
	return -1, unix.EAGAIN
}

// loadProgram loads a cgroup device program and returns its descriptor;
// a program the verifier refuses gets its log in the error.
func loadProgram(prog []insn) (int, error) {
	code := encode(prog)
	license := []byte("Apache-2.0\x00")
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog)),
		insns:    unsafe.Pointer(&code[0]),
		license:  unsafe.Pointer(&license[0]),
	}
	copy(attr.progName[:], "nsrun_devices")
	fd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EINVAL) {
		// Again with the verifier's log, for the error.
		log := make([]byte, 64<<10)
		attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), unsafe.Pointer(&log[0])
		if _, lerr := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); lerr != nil {
			if n := strings.IndexByte(string(log), 0); n > 0 {
				err = fmt.Errorf("%w: verifier: %s", err, strings.TrimSpace(string(log[:n])))
			}
		}
	}
	return fd, err
}

// attachDeviceFilter loads the program for rules and attaches it to the
// cgroup v2 directory dir. The attachment holds the program: it lives as
// long as the cgroup, after nsrun exits.
func attachDeviceFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	prog, err := deviceFilter(rules)
	if err != nil {
		return err
	}
	pfd, err := loadProgram(prog)
	if err != nil {
		return fmt.Errorf("load the device filter for %s (CONFIG_CGROUP_BPF, CONFIG_BPF_SYSCALL): %w", dir, err)
	}
	defer unix.Close(pfd)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	attr := progAttachAttr{targetFD: uint32(fd), attachBPFFD: uint32(pfd), attachType: unix.BPF_CGROUP_DEVICE, attachFlags: unix.BPF_F_ALLOW_MULTI}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); err != nil {
		return fmt.Errorf("attach the device filter to %s: %w", dir, err)
	}
	return nil
}
