package seccomp

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// What nsrun's seccomp supports, for `nsrun features` (the runtime-spec
// features document's linux.seccomp) and for error messages. Each call
// returns a fresh slice.

// Actions are the actions Compile accepts (SCMP_ACT_NOTIFY is not one).
func Actions() []string {
	return []string{
		string(specs.ActAllow), string(specs.ActErrno), string(specs.ActKill), string(specs.ActKillProcess),
		string(specs.ActKillThread), string(specs.ActLog), string(specs.ActTrace), string(specs.ActTrap),
	}
}

// Operators are the argument comparisons Compile accepts: all of them.
func Operators() []string {
	return []string{
		string(specs.OpEqualTo), string(specs.OpGreaterEqual), string(specs.OpGreaterThan), string(specs.OpLessEqual),
		string(specs.OpLessThan), string(specs.OpMaskedEqual), string(specs.OpNotEqual),
	}
}

// Archs are the architectures whose calls a filter checks: the families of
// x86_64 (x86, x32) and aarch64 (arm). The runtime-spec's others are
// accepted too (KnownArchs) but add nothing: no task on those kernels
// reports them.
func Archs() []string {
	return []string{
		string(specs.ArchAARCH64), string(specs.ArchARM), string(specs.ArchX32), string(specs.ArchX86), string(specs.ArchX86_64),
	}
}

// KnownArchs are all architecture names Compile accepts.
func KnownArchs() []string {
	out := make([]string, 0, len(knownArchs()))
	for _, a := range knownArchs() {
		out = append(out, string(a))
	}
	return out
}

func knownArchs() []specs.Arch {
	return []specs.Arch{
		specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
		specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
		specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64,
		specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
	}
}

// Flags are the seccomp(2) flags Compile accepts.
func Flags() []string {
	return []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow), string(flagTsync)}
}

// KnownFlags are the flags Compile recognises: Flags and those it refuses
// by name because they serve user notification.
func KnownFlags() []string {
	return append(Flags(), string(specs.LinuxSeccompFlagWaitKillableRecv), "SECCOMP_FILTER_FLAG_NEW_LISTENER", "SECCOMP_FILTER_FLAG_TSYNC_ESRCH")
}

// SupportedFlags are the Flags the running kernel takes.
func SupportedFlags() []string {
	var out []string
	for _, name := range Flags() {
		bits, _ := flags([]specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(name)})
		if kernelTakesFlags(bits) == nil {
			out = append(out, name)
		}
	}
	return out
}

func joinNames(names []string) string { return strings.Join(names, ", ") }
