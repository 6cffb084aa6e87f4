package cgroups

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
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

// deviceFilter compiles OCI device rules into a cgroup device program, the
// cgroup v2 stand-in for v1's devices.allow and devices.deny. As on v1, the
// last rule that matches an access decides it, and what no rule matches is
// denied: the program tests the rules from the last to the first and
// returns at the first match.
func deviceFilter(rules []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	prologue := asm.Instructions{
		// R1 is the context: R2 type, R3 access, R4 major, R5 minor.
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xffff),
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
	}
	var blocks []asm.Instructions
	for i := len(rules) - 1; i >= 0; i-- {
		r := rules[i]
		next := fmt.Sprintf("rule%d", len(blocks))
		var b asm.Instructions
		switch r.Type {
		case "", "a":
		case "c":
			b = append(b, asm.JNE.Imm(asm.R2, devChar, next))
		case "b":
			b = append(b, asm.JNE.Imm(asm.R2, devBlock, next))
		default:
			return nil, fmt.Errorf("linux.resources.devices[%d]: type %q is not a, b or c", i, r.Type)
		}
		acc, err := accessMask(r.Access)
		if err != nil {
			return nil, fmt.Errorf("linux.resources.devices[%d]: %w", i, err)
		}
		if acc != accAll {
			// The rule covers an access only if it grants every bit asked.
			b = append(b,
				asm.Mov.Reg32(asm.R6, asm.R3),
				asm.And.Imm32(asm.R6, ^int32(acc)&accAll),
				asm.JNE.Imm(asm.R6, 0, next))
		}
		if r.Major != nil && *r.Major >= 0 {
			b = append(b, asm.JNE.Imm(asm.R4, int32(*r.Major), next))
		}
		if r.Minor != nil && *r.Minor >= 0 {
			b = append(b, asm.JNE.Imm(asm.R5, int32(*r.Minor), next))
		}
		verdict := int32(0)
		if r.Allow {
			verdict = 1
		}
		catchAll := len(b) == 0
		blocks = append(blocks, append(b, asm.Mov.Imm(asm.R0, verdict), asm.Return()))
		if catchAll {
			// It matches every access: the earlier rules can never decide
			// and the verifier refuses code that cannot be reached.
			break
		}
	}
	insns := prologue
	for i, b := range blocks {
		if i > 0 {
			// The previous block jumps here when its rule does not match.
			b[0] = b[0].WithSymbol(fmt.Sprintf("rule%d", i-1))
		}
		insns = append(insns, b...)
	}
	// Unless the last block is a catch-all (a verdict and exit, nothing
	// else), accesses fall through it: deny them.
	if n := len(blocks); n == 0 || len(blocks[n-1]) > 2 {
		deny := asm.Mov.Imm(asm.R0, 0)
		if n > 0 {
			deny = deny.WithSymbol(fmt.Sprintf("rule%d", n-1))
		}
		insns = append(insns, deny, asm.Return())
	}
	return insns, nil
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

// attachDeviceFilter loads the program for rules and attaches it to the
// cgroup v2 directory dir. The attachment holds the program: it lives as
// long as the cgroup, after nsrun exits.
func attachDeviceFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	insns, err := deviceFilter(rules)
	if err != nil {
		return err
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "nsrun_devices",
		Type:         ebpf.CGroupDevice,
		Instructions: insns,
		License:      "Apache-2.0",
	})
	if err != nil {
		return fmt.Errorf("load the device filter for %s (CONFIG_CGROUP_BPF, CONFIG_BPF_SYSCALL): %w", dir, err)
	}
	defer prog.Close()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target:  fd,
		Program: prog,
		Attach:  ebpf.AttachCGroupDevice,
		Flags:   unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("attach the device filter to %s: %w", dir, err)
	}
	return nil
}
