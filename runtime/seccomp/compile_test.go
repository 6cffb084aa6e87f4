package seccomp

import (
	"math/rand/v2"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func ptr[T any](v T) *T { return &v }

const (
	retAllow uint32 = unix.SECCOMP_RET_ALLOW
	retKill  uint32 = unix.SECCOMP_RET_KILL_PROCESS
)

func retErrno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e) }

// nr is a call's number on an ABI, from the generated table.
func nr(t testing.TB, name string, a abi) uint32 {
	t.Helper()
	e, ok := lookup(name)
	require.True(t, ok, "syscall %s in the table", name)
	require.GreaterOrEqual(t, e.nr[a.tab], int32(0), "%s exists on %s", name, a.name)
	return uint32(e.nr[a.tab])
}

func deny(errno unix.Errno, names ...string) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: names, Action: specs.ActErrno, ErrnoRet: ptr(uint(errno))}
}

// TestActions: each OCI action's SECCOMP_RET_ value, with and without
// errnoRet.
func TestActions(t *testing.T) {
	for _, tc := range []struct {
		act      specs.LinuxSeccompAction
		errnoRet *uint
		want     uint32
	}{
		{specs.ActKill, nil, unix.SECCOMP_RET_KILL_THREAD},
		{specs.ActKillThread, nil, unix.SECCOMP_RET_KILL_THREAD},
		{specs.ActKillProcess, nil, unix.SECCOMP_RET_KILL_PROCESS},
		{specs.ActTrap, nil, unix.SECCOMP_RET_TRAP},
		{specs.ActErrno, nil, unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{specs.ActErrno, ptr(uint(unix.ENOSYS)), unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{specs.ActErrno, ptr(uint(0)), unix.SECCOMP_RET_ERRNO},
		{specs.ActTrace, nil, unix.SECCOMP_RET_TRACE | uint32(unix.EPERM)},
		{specs.ActTrace, ptr(uint(7)), unix.SECCOMP_RET_TRACE | 7},
		{specs.ActAllow, nil, unix.SECCOMP_RET_ALLOW},
		{specs.ActLog, nil, unix.SECCOMP_RET_LOG},
	} {
		got, err := action(tc.act, tc.errnoRet, "f", "e")
		require.NoError(t, err, tc.act)
		assert.Equal(t, tc.want, got, "%s errnoRet %v", tc.act, tc.errnoRet)
	}
}

// TestArchitectures: the arch word decides which ABI's numbers apply, an
// unlisted ABI (x32 included) kills, and a call's rule follows its number
// on each ABI.
func TestArchitectures(t *testing.T) {
	all := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	getpid := deny(unix.EACCES, "getpid")
	for _, tc := range []struct {
		name   string
		native specs.Arch
		archs  []specs.Arch
		c      call
		want   uint32
	}{
		{"x86_64 call, native only", specs.ArchX86_64, nil, call{audit: unix.AUDIT_ARCH_X86_64, nr: nr(t, "getpid", abiX86_64)}, retErrno(unix.EACCES)},
		{"x86_64 other call", specs.ArchX86_64, nil, call{audit: unix.AUDIT_ARCH_X86_64, nr: nr(t, "getppid", abiX86_64)}, retAllow},
		{"i386 call, x86 unlisted", specs.ArchX86_64, []specs.Arch{specs.ArchX86_64}, call{audit: unix.AUDIT_ARCH_I386, nr: nr(t, "getpid", abiX86)}, retKill},
		{"x32 call, x32 unlisted", specs.ArchX86_64, []specs.Arch{specs.ArchX86_64, specs.ArchX86}, call{audit: unix.AUDIT_ARCH_X86_64, nr: nr(t, "getppid", abiX32)}, retKill},
		{"aarch64 call on x86_64", specs.ArchX86_64, all, call{audit: unix.AUDIT_ARCH_AARCH64, nr: nr(t, "getpid", abiAArch64)}, retKill},
		{"i386 getpid", specs.ArchX86_64, all, call{audit: unix.AUDIT_ARCH_I386, nr: nr(t, "getpid", abiX86)}, retErrno(unix.EACCES)},
		// 39 is x86_64's getpid; on i386 it is mkdir.
		{"i386 number 39", specs.ArchX86_64, all, call{audit: unix.AUDIT_ARCH_I386, nr: 39}, retAllow},
		{"x32 getpid", specs.ArchX86_64, all, call{audit: unix.AUDIT_ARCH_X86_64, nr: nr(t, "getpid", abiX32)}, retErrno(unix.EACCES)},
		{"x32 other call", specs.ArchX86_64, all, call{audit: unix.AUDIT_ARCH_X86_64, nr: nr(t, "getppid", abiX32)}, retAllow},
		{"x86_64 -1 (cancelled by a tracer)", specs.ArchX86_64, []specs.Arch{specs.ArchX86_64}, call{audit: unix.AUDIT_ARCH_X86_64, nr: 0xffffffff}, retAllow},
		{"aarch64 getpid", specs.ArchAARCH64, nil, call{audit: unix.AUDIT_ARCH_AARCH64, nr: nr(t, "getpid", abiAArch64)}, retErrno(unix.EACCES)},
		{"arm call, arm unlisted", specs.ArchAARCH64, nil, call{audit: unix.AUDIT_ARCH_ARM, nr: nr(t, "getpid", abiARM)}, retKill},
		{"arm getpid", specs.ArchAARCH64, []specs.Arch{specs.ArchAARCH64, specs.ArchARM}, call{audit: unix.AUDIT_ARCH_ARM, nr: nr(t, "getpid", abiARM)}, retErrno(unix.EACCES)},
		{"x86_64 call on aarch64", specs.ArchAARCH64, []specs.Arch{specs.ArchAARCH64, specs.ArchARM, specs.ArchX86_64}, call{audit: unix.AUDIT_ARCH_X86_64, nr: 39}, retKill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: tc.archs, Syscalls: []specs.LinuxSyscall{getpid}}
			f, err := Compile(p, tc.native)
			require.NoError(t, err)
			assert.Equal(t, tc.want, vmEval(t, newVM(t, f), tc.c))
			assert.Equal(t, tc.want, refEval(t, p, tc.native, tc.c), "the reference agrees")
		})
	}
}

// TestARMPrivateCalls: names that only arm's header defines resolve.
func TestARMPrivateCalls(t *testing.T) {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchARM},
		Syscalls: []specs.LinuxSyscall{deny(unix.EPERM, "cacheflush", "sync_file_range2")}}
	f, err := Compile(p, specs.ArchAARCH64)
	require.NoError(t, err)
	vm := newVM(t, f)
	assert.Equal(t, retErrno(unix.EPERM), vmEval(t, vm, call{audit: unix.AUDIT_ARCH_ARM, nr: 0x0f0002}))
	assert.Equal(t, retErrno(unix.EPERM), vmEval(t, vm, call{audit: unix.AUDIT_ARCH_ARM, nr: nr(t, "arm_sync_file_range", abiARM)}))
	assert.Equal(t, retAllow, vmEval(t, vm, call{audit: unix.AUDIT_ARCH_ARM, nr: 0x0f0005}), "set_tls is not denied")
}

// TestComparisons: every operator on 64-bit and 32-bit ABIs, at the
// boundaries of both halves.
func TestComparisons(t *testing.T) {
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual}
	values := []uint64{0, 1, 0xffffffff, 0x100000000, 0x1_0000_0005, 0x5_0000_0000, 0xffff_ffff_ffff_ffff, 0x8000_0000_0000_0000}
	// Probes: each value, one either side, and the same low half with
	// another high half (where a low-half-only compare goes wrong).
	probes := func(v uint64) []uint64 {
		return []uint64{v, v - 1, v + 1, v ^ 0x1_0000_0000, v ^ 0x8000_0000_0000_0000, uint64(uint32(v)), v | 0xffffffff_00000000}
	}
	for _, native := range []struct {
		arch   specs.Arch
		native abi
		compat abi
	}{{specs.ArchX86_64, abiX86_64, abiX86}, {specs.ArchAARCH64, abiAArch64, abiARM}} {
		for _, op := range ops {
			for _, v := range values {
				arg := specs.LinuxSeccompArg{Index: 2, Value: v, Op: op}
				p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{native.arch, native.compat.name},
					Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.EDOM)), Args: []specs.LinuxSeccompArg{arg}}}}
				f, err := Compile(p, native.arch)
				require.NoError(t, err)
				vm := newVM(t, f)
				for _, a := range []abi{native.native, native.compat} {
					for _, x := range probes(v) {
						c := call{audit: a.audit, nr: nr(t, "getpid", a)}
						c.args[2] = x
						want := retAllow
						if holds(arg, x, a.bits32) {
							want = retErrno(unix.EDOM)
						}
						if !assert.Equal(t, want, vmEval(t, vm, c), "%s: arg %#x %s %#x", a.name, x, op, v) {
							return
						}
					}
				}
			}
		}
	}
}

// TestMaskedEqual: (arg & value) == valueTwo, with masks in either half
// and a mask whose half is zero.
func TestMaskedEqual(t *testing.T) {
	for _, tc := range []struct {
		mask, want uint64
		arg        uint64
		match      bool
	}{
		{0x7e020000, 0, 0x11, true},                       // docker's clone: no namespace flag
		{0x7e020000, 0, unix.CLONE_NEWUSER | 0x11, false}, // a namespace flag
		{0xff_0000_0000, 0x12_0000_0000, 0x12_0000_0077, true},
		{0xff_0000_0000, 0x12_0000_0000, 0x13_0000_0000, false},
		{0xff, 0x1_0000_0000, 0x1_0000_0000, false}, // valueTwo has bits the mask cannot yield
		{0, 0, 0xdead_beef_dead_beef, true},
		{0xffffffff_ffffffff, 0x1234, 0x1234, true},
		{0xffffffff_ffffffff, 0x1234, 0x1_0000_1234, false},
	} {
		arg := specs.LinuxSeccompArg{Index: 0, Value: tc.mask, ValueTwo: tc.want, Op: specs.OpMaskedEqual}
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.EPERM)), Args: []specs.LinuxSeccompArg{arg}}}}
		f, err := Compile(p, specs.ArchX86_64)
		require.NoError(t, err)
		c := call{audit: unix.AUDIT_ARCH_X86_64, nr: nr(t, "clone", abiX86_64), args: [6]uint64{tc.arg}}
		want := retAllow
		if tc.match {
			want = retErrno(unix.EPERM)
		}
		assert.Equal(t, want, vmEval(t, newVM(t, f), c), "(%#x & %#x) == %#x", tc.arg, tc.mask, tc.want)
		assert.Equal(t, tc.match, holds(arg, tc.arg, false), "the reference agrees")
	}
}

// TestRuleOrder: conditions on different arguments must all hold; on the
// same argument they are alternatives (runc); an unconditional rule beats
// conditional ones; a rule with the default action is dropped.
func TestRuleOrder(t *testing.T) {
	eq := func(i uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: v, Op: specs.OpEqualTo}
	}
	rule := func(act specs.LinuxSeccompAction, errno unix.Errno, args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		r := specs.LinuxSyscall{Names: []string{"getpid"}, Action: act, Args: args}
		if act == specs.ActErrno {
			r.ErrnoRet = ptr(uint(errno))
		}
		return r
	}
	for _, tc := range []struct {
		name  string
		def   specs.LinuxSeccompAction
		rules []specs.LinuxSyscall
		args  [6]uint64
		want  uint32
	}{
		{"and: both hold", specs.ActAllow, []specs.LinuxSyscall{rule(specs.ActErrno, unix.EIO, eq(0, 1), eq(1, 2))}, [6]uint64{1, 2}, retErrno(unix.EIO)},
		{"and: one fails", specs.ActAllow, []specs.LinuxSyscall{rule(specs.ActErrno, unix.EIO, eq(0, 1), eq(1, 2))}, [6]uint64{1, 3}, retAllow},
		{"same index: either", specs.ActAllow, []specs.LinuxSyscall{rule(specs.ActErrno, unix.EIO, eq(0, 1), eq(0, 2))}, [6]uint64{2}, retErrno(unix.EIO)},
		{"same index: neither", specs.ActAllow, []specs.LinuxSyscall{rule(specs.ActErrno, unix.EIO, eq(0, 1), eq(0, 2))}, [6]uint64{3}, retAllow},
		{"unconditional after conditional wins", specs.ActAllow, []specs.LinuxSyscall{rule(specs.ActErrno, unix.EIO, eq(0, 1)), rule(specs.ActErrno, unix.EROFS)}, [6]uint64{1}, retErrno(unix.EROFS)},
		{"first unconditional wins", specs.ActAllow, []specs.LinuxSyscall{rule(specs.ActErrno, unix.EIO), rule(specs.ActErrno, unix.EROFS)}, [6]uint64{}, retErrno(unix.EIO)},
		{"conditional in order", specs.ActAllow, []specs.LinuxSyscall{rule(specs.ActErrno, unix.EIO, eq(0, 1)), rule(specs.ActErrno, unix.EROFS, eq(1, 2))}, [6]uint64{1, 2}, retErrno(unix.EIO)},
		{"second conditional", specs.ActAllow, []specs.LinuxSyscall{rule(specs.ActErrno, unix.EIO, eq(0, 1)), rule(specs.ActErrno, unix.EROFS, eq(1, 2))}, [6]uint64{0, 2}, retErrno(unix.EROFS)},
		{"no conditional holds: default", specs.ActKillProcess, []specs.LinuxSyscall{rule(specs.ActAllow, 0, eq(0, 1)), rule(specs.ActAllow, 0, eq(0, 2))}, [6]uint64{3}, retKill},
		{"default-action rule dropped", specs.ActAllow, []specs.LinuxSyscall{rule(specs.ActAllow, 0), rule(specs.ActErrno, unix.EIO)}, [6]uint64{}, retErrno(unix.EIO)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &specs.LinuxSeccomp{DefaultAction: tc.def, Syscalls: tc.rules}
			f, err := Compile(p, specs.ArchX86_64)
			require.NoError(t, err)
			c := call{audit: unix.AUDIT_ARCH_X86_64, nr: nr(t, "getpid", abiX86_64), args: tc.args}
			assert.Equal(t, tc.want, vmEval(t, newVM(t, f), c))
			assert.Equal(t, tc.want, refEval(t, p, specs.ArchX86_64, c), "the reference agrees")
		})
	}
}

// TestENOSYSStub: with a denying default, calls above the highest the
// profile names on a listed ABI return ENOSYS (runc's patch), so a C
// library falls back from syscalls newer than the profile.
func TestENOSYSStub(t *testing.T) {
	named := []specs.LinuxSyscall{{Names: []string{"read", "getpid"}, Action: specs.ActAllow}}
	above := nr(t, "getpid", abiX86_64) + 1
	below := nr(t, "getpid", abiX86_64) - 1
	for _, tc := range []struct {
		name     string
		def      specs.LinuxSeccompAction
		errnoRet *uint
		archs    []specs.Arch
		nr       uint32
		want     uint32
	}{
		{"above the profile", specs.ActErrno, nil, []specs.Arch{specs.ArchX86_64}, above, retErrno(unix.ENOSYS)},
		{"gap below", specs.ActErrno, nil, []specs.Arch{specs.ArchX86_64}, below, retErrno(unix.EPERM)},
		{"arch not listed: no stub (runc)", specs.ActErrno, nil, nil, above, retErrno(unix.EPERM)},
		{"allowing default: no stub", specs.ActLog, nil, []specs.Arch{specs.ArchX86_64}, above, unix.SECCOMP_RET_LOG},
		{"kill default", specs.ActKillProcess, nil, []specs.Arch{specs.ArchX86_64}, above, retErrno(unix.ENOSYS)},
		{"ENOSYS default", specs.ActErrno, ptr(uint(unix.ENOSYS)), []specs.Arch{specs.ArchX86_64}, above, retErrno(unix.ENOSYS)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &specs.LinuxSeccomp{DefaultAction: tc.def, DefaultErrnoRet: tc.errnoRet, Architectures: tc.archs, Syscalls: named}
			f, err := Compile(p, specs.ArchX86_64)
			require.NoError(t, err)
			c := call{audit: unix.AUDIT_ARCH_X86_64, nr: tc.nr}
			assert.Equal(t, tc.want, vmEval(t, newVM(t, f), c))
			assert.Equal(t, tc.want, refEval(t, p, specs.ArchX86_64, c), "the reference agrees")
		})
	}
}

// TestUnknownNames: a name no ABI of the filter knows is ignored (runc);
// one that only a compat ABI knows applies there.
func TestUnknownNames(t *testing.T) {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{deny(unix.EPERM, "no_such_call", "socketcall", "cacheflush")}}
	f, err := Compile(p, specs.ArchX86_64)
	require.NoError(t, err)
	assert.Equal(t, []string{"cacheflush", "no_such_call"}, f.Ignored)
	assert.Equal(t, retErrno(unix.EPERM), vmEval(t, newVM(t, f), call{audit: unix.AUDIT_ARCH_I386, nr: nr(t, "socketcall", abiX86)}))
}

// TestRefused: what cannot be applied is refused, naming the field.
func TestRefused(t *testing.T) {
	ok := specs.LinuxSyscall{Names: []string{"getpid"}, Action: specs.ActAllow}
	for _, tc := range []struct {
		name string
		p    specs.LinuxSeccomp
		want string
	}{
		{"notify default", specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY"},
		{"notify rule", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{ok, {Names: []string{"mount"}, Action: specs.ActNotify}}}, "linux.seccomp.syscalls[1].action: SCMP_ACT_NOTIFY"},
		{"listener path", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent.sock"}, "linux.seccomp.listenerPath: seccomp user notification"},
		{"listener metadata", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerMetadata: "x"}, "linux.seccomp.listenerMetadata"},
		{"unknown action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, `linux.seccomp.defaultAction: unknown action "SCMP_ACT_MAYBE"`},
		{"no default action", specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{ok}}, "linux.seccomp.defaultAction: missing"},
		{"unknown operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Op: "SCMP_CMP_ABOUT"}}}}}, `linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_ABOUT"`},
		{"argument 6", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "linux.seccomp.syscalls[0].args[0].index: 6 is out of range"},
		{"empty name", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid", ""}, Action: specs.ActErrno}}}, "linux.seccomp.syscalls[0].names[1]: empty"},
		{"unknown arch", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, "SCMP_ARCH_Z80"}}, `linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_Z80"`},
		{"unknown flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_FAST"}}, `linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FAST"`},
		{"notify flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagWaitKillableRecv}}, "linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only applies to user notification"},
		{"errnoRet on allow", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow, ErrnoRet: ptr(uint(1))}}}, "linux.seccomp.syscalls[0].errnoRet: 1 given, but SCMP_ACT_ALLOW returns no errno"},
		{"defaultErrnoRet on kill", specs.LinuxSeccomp{DefaultAction: specs.ActKillProcess, DefaultErrnoRet: ptr(uint(1))}, "linux.seccomp.defaultErrnoRet: 1 given"},
		{"errno out of range", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: ptr(uint(5000))}, "linux.seccomp.defaultErrnoRet: 5000 is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(&tc.p, specs.ArchX86_64)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, specs.ArchPPC64LE)
	assert.ErrorContains(t, err, "supports x86_64 and aarch64 hosts")
}

// TestNoFilter: no profile, or one with nothing in it, is no filter (runc).
func TestNoFilter(t *testing.T) {
	for _, p := range []*specs.LinuxSeccomp{nil, {}, {Architectures: []specs.Arch{specs.ArchX86_64}}} {
		f, err := Compile(p, specs.ArchX86_64)
		require.NoError(t, err)
		assert.Nil(t, f)
	}
}

// TestForeignArchitectures: the runtime-spec's other architectures are
// valid and change nothing.
func TestForeignArchitectures(t *testing.T) {
	base := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64}, Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActAllow}}}
	f1, err := Compile(base, specs.ArchX86_64)
	require.NoError(t, err)
	withForeign := *base
	withForeign.Architectures = append([]specs.Arch{specs.ArchS390X, specs.ArchAARCH64, specs.ArchARM, specs.ArchRISCV64}, base.Architectures...)
	f2, err := Compile(&withForeign, specs.ArchX86_64)
	require.NoError(t, err)
	assert.Equal(t, f1.Program, f2.Program)
}

// TestLongPrograms: jumps longer than 255 instructions go through
// trampolines, and a program beyond the kernel's 4096 is refused.
func TestLongPrograms(t *testing.T) {
	// Conditional rules on many calls make long blocks that the dispatch
	// tree jumps across.
	var rules []specs.LinuxSyscall
	for _, name := range []string{"read", "write", "openat", "close", "getpid", "getppid", "mmap", "futex", "kill", "ioctl"} {
		for i := uint64(0); i < 20; i++ {
			rules = append(rules, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: ptr(uint(i + 1)),
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: i << 33, Op: specs.OpEqualTo}, {Index: 2, Value: i, Op: specs.OpGreaterThan}}})
		}
	}
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86}, Syscalls: rules}
	f, err := Compile(p, specs.ArchX86_64)
	require.NoError(t, err)
	require.Greater(t, f.Len(), 1000)
	vm := newVM(t, f)
	for _, a := range []abi{abiX86_64, abiX86} {
		for _, name := range []string{"read", "kill", "ioctl"} {
			for _, i := range []uint64{0, 7, 19} {
				c := call{audit: a.audit, nr: nr(t, name, a), args: [6]uint64{0, i << 33, i + 1}}
				assert.Equal(t, refEval(t, p, specs.ArchX86_64, c), vmEval(t, vm, c), "%s %s %d", a.name, name, i)
			}
		}
	}

	// 400 calls with a six-condition rule each cannot fit.
	var huge []specs.LinuxSyscall
	for i := 0; i < 400 && i < len(syscallTable); i++ {
		args := make([]specs.LinuxSeccompArg, 6)
		for j := range args {
			args[j] = specs.LinuxSeccompArg{Index: uint(j), Value: uint64(j) << 40, Op: specs.OpEqualTo}
		}
		huge = append(huge, specs.LinuxSyscall{Names: []string{syscallTable[i].name}, Action: specs.ActKillProcess, Args: args})
	}
	_, err = Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: huge}, specs.ArchX86_64)
	assert.ErrorContains(t, err, "more than the kernel's limit of 4096")
}

// TestRandomProfiles: random profiles and calls; the compiled program and
// the reference interpretation must agree everywhere.
func TestRandomProfiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"read", "write", "getpid", "clone", "socket", "personality", "socketcall", "cacheflush", "mmap2", "unshare"}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual}
	acts := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActLog, specs.ActTrap}
	values := []uint64{0, 1, 2, 0xffffffff, 0x100000000, 0x1_0000_0001, 0xffff_ffff_ffff_ffff}
	pick := func(n int) int { return rng.IntN(n) }
	for round := 0; round < 300; round++ {
		native := specs.ArchX86_64
		archs := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
		audits := []uint32{unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_I386}
		if round%2 == 1 {
			native, archs, audits = specs.ArchAARCH64, []specs.Arch{specs.ArchAARCH64, specs.ArchARM}, []uint32{unix.AUDIT_ARCH_AARCH64, unix.AUDIT_ARCH_ARM}
		}
		archs = archs[:1+pick(len(archs))]
		p := &specs.LinuxSeccomp{DefaultAction: acts[pick(len(acts))], Architectures: archs}
		if p.DefaultAction == specs.ActErrno {
			p.DefaultErrnoRet = ptr(uint(1 + pick(3)))
		}
		for r := pick(8); r >= 0; r-- {
			sc := specs.LinuxSyscall{Names: []string{names[pick(len(names))]}, Action: acts[pick(len(acts))]}
			if sc.Action == specs.ActErrno {
				sc.ErrnoRet = ptr(uint(1 + pick(3)))
			}
			for k := pick(4); k > 0; k-- {
				sc.Args = append(sc.Args, specs.LinuxSeccompArg{Index: uint(pick(3)), Value: values[pick(len(values))], ValueTwo: values[pick(len(values))], Op: ops[pick(len(ops))]})
			}
			p.Syscalls = append(p.Syscalls, sc)
		}
		f, err := Compile(p, native)
		require.NoError(t, err)
		vm := newVM(t, f)
		for k := 0; k < 40; k++ {
			c := call{audit: audits[pick(len(audits))]}
			e, _ := lookup(names[pick(len(names))])
			tab := map[uint32]int{unix.AUDIT_ARCH_X86_64: tabX86_64, unix.AUDIT_ARCH_I386: tabX86, unix.AUDIT_ARCH_AARCH64: tabAArch64, unix.AUDIT_ARCH_ARM: tabARM}[c.audit]
			if c.audit == unix.AUDIT_ARCH_X86_64 && pick(3) == 0 {
				tab = tabX32
			}
			c.nr = uint32(e.nr[tab])
			if e.nr[tab] < 0 {
				c.nr = uint32(pick(600))
			}
			for i := range 3 {
				c.args[i] = values[pick(len(values))] + uint64(pick(3)) - 1
			}
			if !assert.Equal(t, refEval(t, p, native, c), vmEval(t, vm, c), "round %d: %+v on %+v", round, p, c) {
				return
			}
		}
	}
}

// TestSortRefs: by number, the profile's order kept within a number, with
// numbers far from the ABI's base (arm's private calls) in place.
func TestSortRefs(t *testing.T) {
	in := []ref{{0x0f0002, 0}, {5, 1}, {3, 2}, {5, 3}, {0x0f0001, 4}, {3, 5}, {0, 6}}
	assert.Equal(t, []ref{{0, 6}, {3, 2}, {3, 5}, {5, 1}, {5, 3}, {0x0f0001, 4}, {0x0f0002, 0}}, sortRefs(in))
	x32 := []ref{{x32Bit | 9, 0}, {x32Bit | 1, 1}, {x32Bit | 9, 2}}
	assert.Equal(t, []ref{{x32Bit | 1, 1}, {x32Bit | 9, 0}, {x32Bit | 9, 2}}, sortRefs(x32))
	assert.Empty(t, sortRefs(nil))
}
