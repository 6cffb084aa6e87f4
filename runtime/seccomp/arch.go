package seccomp

import (
	"fmt"
	goruntime "runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// x32Bit is __X32_SYSCALL_BIT: an x32 task's calls reach the filter as
// AUDIT_ARCH_X86_64 with this bit set in the number.
const x32Bit = 0x40000000

// abi is one syscall ABI the compiler has a table for.
type abi struct {
	name specs.Arch
	// audit is the AUDIT_ARCH_ value the kernel reports in seccomp_data.
	audit uint32
	// tab is the ABI's column in syscallTable.
	tab int
	// bits32 ABIs get only the low 32 bits of an argument compared, as
	// libseccomp does: their registers are 32 bits wide.
	bits32 bool
}

var (
	abiX86_64  = abi{specs.ArchX86_64, unix.AUDIT_ARCH_X86_64, tabX86_64, false}
	abiX86     = abi{specs.ArchX86, unix.AUDIT_ARCH_I386, tabX86, true}
	abiX32     = abi{specs.ArchX32, unix.AUDIT_ARCH_X86_64, tabX32, true}
	abiAArch64 = abi{specs.ArchAARCH64, unix.AUDIT_ARCH_AARCH64, tabAArch64, false}
	abiARM     = abi{specs.ArchARM, unix.AUDIT_ARCH_ARM, tabARM, true}
)

// family is the set of ABIs a kernel of one native architecture runs: the
// only ones a filter on that kernel can ever see.
type family struct {
	native abi
	compat []abi
}

func familyOf(native specs.Arch) (family, error) {
	switch native {
	case specs.ArchX86_64:
		return family{abiX86_64, []abi{abiX86, abiX32}}, nil
	case specs.ArchAARCH64:
		return family{abiAArch64, []abi{abiARM}}, nil
	}
	return family{}, fmt.Errorf("nsrun's seccomp compiler supports x86_64 and aarch64 hosts, not %s", native)
}

// HostArch is the native architecture of this build of nsrun, as the
// runtime-spec names it.
func HostArch() (specs.Arch, error) {
	switch goruntime.GOARCH {
	case "amd64":
		return specs.ArchX86_64, nil
	case "arm64":
		return specs.ArchAARCH64, nil
	}
	return "", fmt.Errorf("nsrun's seccomp compiler supports amd64 and arm64 builds, not %s", goruntime.GOARCH)
}
