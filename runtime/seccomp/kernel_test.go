package seccomp

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/sysprobe"
)

// TestKernelActions: each action does in the kernel what it should.
func TestKernelActions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		act   specs.LinuxSeccompAction
		errno *uint
		check func(t *testing.T, o outcome)
	}{
		{"errno", specs.ActErrno, ptr(uint(unix.EXDEV)), func(t *testing.T, o outcome) {
			r := o.results(t)
			assert.Equal(t, "EXDEV", r[0].Errno)
			assert.Empty(t, r[1].Errno, "getppid is not denied")
		}},
		{"errno without errnoRet is EPERM", specs.ActErrno, nil, func(t *testing.T, o outcome) {
			assert.Equal(t, "EPERM", o.results(t)[0].Errno)
		}},
		{"trace without a tracer fails the call", specs.ActTrace, nil, func(t *testing.T, o outcome) {
			assert.Equal(t, "ENOSYS", o.results(t)[0].Errno)
		}},
		{"log lets it run", specs.ActLog, nil, func(t *testing.T, o outcome) {
			r := o.results(t)
			assert.Empty(t, r[0].Errno)
			assert.Positive(t, r[0].Ret)
		}},
		{"kill process", specs.ActKillProcess, nil, func(t *testing.T, o outcome) {
			assert.Equal(t, unix.SIGSYS, o.signal, "exit %d: %s", o.code, o.stderr)
		}},
		{"kill (thread)", specs.ActKill, nil, func(t *testing.T, o outcome) {
			require.NotNil(t, o.rep, "the process lives on: %v %d %s", o.signal, o.code, o.stderr)
			assert.True(t, o.rep.ThreadGone, "the calling thread is gone")
		}},
		{"trap raises SIGSYS", specs.ActTrap, nil, func(t *testing.T, o outcome) {
			// Go's runtime dies of a SIGSYS it did not send (sigcode 1 is
			// SYS_SECCOMP).
			assert.Equal(t, 2, o.code)
			assert.Contains(t, o.stderr, "SIGSYS: bad system call")
			assert.Contains(t, o.stderr, "sigcode=1")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := compileT(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getpid"}, Action: tc.act, ErrnoRet: tc.errno}}})
			job := childJob{Filter: f, Calls: []childCall{native(t, "getpid"), native(t, "getppid")}}
			job.OwnThread = tc.act == specs.ActKill
			tc.check(t, runChild(t, job))
		})
	}
}

// TestKernelComparisons: argument comparisons in the kernel give what the
// reference interpretation says, on calls that ignore their arguments.
func TestKernelComparisons(t *testing.T) {
	names := []string{"getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "gettid"}
	ops := []specs.LinuxSeccompOperator{specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual}
	const v = 0x1_0000_0005
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}
	for i, op := range ops {
		arg := specs.LinuxSeccompArg{Index: 1, Value: v, Op: op}
		if op == specs.OpMaskedEqual {
			arg.Value, arg.ValueTwo = 0xff_0000_00ff, 0x01_0000_0005
		}
		p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{names[i]}, Action: specs.ActErrno, ErrnoRet: ptr(uint(100 + i)), Args: []specs.LinuxSeccompArg{arg}})
	}
	f := compileT(t, p)
	host, _ := HostArch()
	var calls []childCall
	var want []string
	for _, name := range names {
		for _, x := range []uint64{v, v - 1, v + 1, 5, 0x2_0000_0005, 0x0_ffff_ffff, 0x7_0000_0005} {
			c := native(t, name, 0, x)
			calls = append(calls, c)
			ret := refEval(t, p, host, call{audit: fam(t, host).native.audit, nr: c.Nr, args: c.Args})
			w := ""
			if ret != retAllow {
				w = sysprobe.ErrnoName(unix.Errno(ret & unix.SECCOMP_RET_DATA))
			}
			want = append(want, w)
		}
	}
	r := runChild(t, childJob{Filter: f, Calls: calls}).results(t)
	denied := 0
	for i := range calls {
		assert.Equal(t, want[i], r[i].Errno, "%s(0, %#x)", names[i/7], calls[i].Args[1])
		if want[i] != "" {
			denied++
		}
	}
	assert.Greater(t, denied, 10, "the cases deny some calls and allow others")
	assert.Less(t, denied, len(calls)-10)
}

// TestKernelFlags: TSYNC puts the filter on the process's other threads;
// LOG and SPEC_ALLOW are taken.
func TestKernelFlags(t *testing.T) {
	deny := []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.EXDEV))}}
	for _, tc := range []struct {
		flags []specs.LinuxSeccompFlag
		other bool
		want  string
	}{
		{nil, true, ""}, // without TSYNC another thread is not filtered
		{[]specs.LinuxSeccompFlag{flagTsync}, true, "EXDEV"},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog}, false, "EXDEV"},
		{[]specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}, false, "EXDEV"},
	} {
		f := compileT(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: tc.flags, Syscalls: deny})
		r := runChild(t, childJob{Filter: f, Calls: []childCall{native(t, "getpid")}, OtherThread: tc.other}).results(t)
		assert.Equal(t, tc.want, r[0].Errno, "flags %v, call on another thread: %v", tc.flags, tc.other)
	}
}

// TestKernelENOSYSStub: a call newer than every call the profile names gets
// ENOSYS, one in a gap the default action.
func TestKernelENOSYSStub(t *testing.T) {
	host, _ := HostArch()
	native := fam(t, host).native
	top := nr(t, "getrandom", native)
	// Allow everything up to getrandom (the Go runtime of the child needs
	// its calls) except unshare.
	var allow []string
	for _, e := range syscallTable {
		if n := e.nr[native.tab]; n >= 0 && uint32(n) <= top && e.name != "unshare" {
			allow = append(allow, e.name)
		}
	}
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{host}, Syscalls: []specs.LinuxSyscall{{Names: allow, Action: specs.ActAllow}}}
	require.Greater(t, nr(t, "memfd_create", native), top)
	calls := []childCall{{ABI: callNative, Nr: nr(t, "unshare", native), Args: [6]uint64{1}}, {ABI: callNative, Nr: nr(t, "memfd_create", native)}}
	unfiltered := runChild(t, childJob{Calls: calls}).results(t)
	assert.Equal(t, []string{"EINVAL", "EFAULT"}, []string{unfiltered[0].Errno, unfiltered[1].Errno}, "the kernel's own answers")
	r := runChild(t, childJob{Filter: compileT(t, p), Calls: calls}).results(t)
	assert.Equal(t, []string{"EPERM", "ENOSYS"}, []string{r[0].Errno, r[1].Errno})
}

// TestKernelProfiles: docker's and podman's default profiles in the kernel.
// Every probe's result is what the reference interpretation of the profile
// says: the filter's errno where it denies, the kernel's own answer where
// it allows, which the unfiltered run shows to differ.
func TestKernelProfiles(t *testing.T) {
	host, _ := HostArch()
	for _, prof := range []struct {
		name   string
		p      *specs.LinuxSeccomp
		denied []string // probes the profile must deny, for the README
	}{
		{"docker", dockerProfile(t), []string{"unshare", "keyctl", "add_key", "clone3", "clone-newuser", "socket-vsock"}},
		{"podman", podmanProfile(t), []string{"add_key", "vmsplice"}},
	} {
		t.Run(prof.name, func(t *testing.T) {
			f := compileT(t, prof.p)
			probes := sysprobe.Calls()
			var calls []childCall
			for _, pc := range probes {
				calls = append(calls, childCall{ABI: callNative, Nr: uint32(pc.Nr), Args: pc.Args})
			}
			calls = append(calls, compatCalls(t, host, probes)...)
			unfiltered := runChild(t, childJob{Calls: calls}).results(t)
			filtered := runChild(t, childJob{Filter: f, Calls: calls}).results(t)
			var deniedHere []string
			for i, c := range calls {
				a := fam(t, host).native
				switch c.ABI {
				case callI386:
					a = abiX86
				case callX32:
					a = abiX32
				}
				probe := probes[i%len(probes)].Name
				n := c.Nr
				if c.ABI == callX32 {
					n |= x32Bit
				}
				ret := refEval(t, prof.p, host, call{audit: a.audit, nr: n, args: c.Args})
				if ret == retAllow {
					assert.Equal(t, unfiltered[i].Errno, filtered[i].Errno, "%s %s: allowed, the kernel answers", c.ABI, probe)
					continue
				}
				want := sysprobe.ErrnoName(unix.Errno(ret & unix.SECCOMP_RET_DATA))
				assert.Equal(t, uint32(unix.SECCOMP_RET_ERRNO), ret&unix.SECCOMP_RET_ACTION_FULL, "%s %s", c.ABI, probe)
				assert.Equal(t, want, filtered[i].Errno, "%s %s: denied by the profile", c.ABI, probe)
				// A kernel without x32 answers every x32 call ENOSYS itself.
				if c.ABI != callX32 {
					assert.NotEqual(t, want, unfiltered[i].Errno, "%s %s: the kernel alone answers otherwise", c.ABI, probe)
				}
				if c.ABI == callNative {
					deniedHere = append(deniedHere, probe)
				}
				t.Logf("%s profile, %s %s: %s (the kernel alone: %s)", prof.name, c.ABI, probe, want, orOK(unfiltered[i].Errno))
			}
			for _, d := range prof.denied {
				assert.Contains(t, deniedHere, d)
			}
		})
	}
}

func orOK(errno string) string {
	if errno == "" {
		return "success"
	}
	return errno
}

// compatCalls are the probes as i386 and x32 calls, where this host can
// make them (x86_64 with ia32 emulation; x32 calls reach the filter even
// where the kernel runs no x32 code).
func compatCalls(t *testing.T, host specs.Arch, probes []sysprobe.Call) []childCall {
	t.Helper()
	if host != specs.ArchX86_64 {
		t.Logf("no compat calls from %s", host)
		return nil
	}
	var out []childCall
	for _, kind := range []struct {
		abi  string
		tab  abi
		skip string
	}{{callI386, abiX86, ia32Missing(t)}, {callX32, abiX32, ""}} {
		if kind.skip != "" {
			t.Logf("no i386 calls: %s", kind.skip)
			continue
		}
		for _, pc := range probes {
			e, ok := lookup(pc.Syscall)
			require.True(t, ok)
			n := e.nr[kind.tab.tab]
			require.GreaterOrEqual(t, n, int32(0), "%s on %s", pc.Syscall, kind.abi)
			c := childCall{ABI: kind.abi, Nr: uint32(n) &^ x32Bit, Args: pc.Args}
			out = append(out, c)
		}
	}
	return out
}

// ia32Missing says why this kernel runs no i386 calls, or "".
func ia32Missing(t *testing.T) string {
	t.Helper()
	o := runChild(t, childJob{Calls: []childCall{{ABI: callI386, Nr: 20}}}) // i386 getpid
	switch {
	case o.rep == nil:
		return fmt.Sprintf("int $0x80 ends the process (signal %v, exit %d): no ia32 emulation", o.signal, o.code)
	case o.rep.Results[0].Errno != "":
		return "i386 getpid: " + o.rep.Results[0].Errno
	}
	return ""
}

// TestKernelArchitectures: i386 and x32 calls reach their sections, and an
// ABI the profile does not list kills the process.
func TestKernelArchitectures(t *testing.T) {
	host, _ := HostArch()
	if host != specs.ArchX86_64 {
		t.Skipf("compat calls are made from x86_64 builds only (this is %s)", host)
	}
	if why := ia32Missing(t); why != "" {
		t.Skip(why)
	}
	deny := []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: ptr(uint(unix.EXDEV))}}
	all := []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}
	getpid32 := childCall{ABI: callI386, Nr: nr(t, "getpid", abiX86)}
	getppid32 := childCall{ABI: callI386, Nr: nr(t, "getppid", abiX86)}
	getpidX32 := childCall{ABI: callX32, Nr: nr(t, "getpid", abiX32) &^ x32Bit}
	getppidX32 := childCall{ABI: callX32, Nr: nr(t, "getppid", abiX32) &^ x32Bit}

	r := runChild(t, childJob{Filter: compileT(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: all, Syscalls: deny}),
		Calls: []childCall{getpid32, getppid32, getpidX32, getppidX32}}).results(t)
	assert.Equal(t, "EXDEV", r[0].Errno, "i386 getpid")
	assert.Empty(t, r[1].Errno, "i386 getppid runs")
	assert.Equal(t, strconv.Itoa(os.Getpid()), strconv.FormatInt(r[1].Ret, 10), "i386 getppid answers the test's pid")
	assert.Equal(t, "EXDEV", r[2].Errno, "x32 getpid")
	assert.NotEqual(t, "EXDEV", r[3].Errno, "x32 getppid is not denied (the kernel may run no x32: ENOSYS)")

	for _, tc := range []struct {
		archs []specs.Arch
		c     childCall
	}{
		{[]specs.Arch{specs.ArchX86_64, specs.ArchX32}, getppid32},
		{[]specs.Arch{specs.ArchX86_64, specs.ArchX86}, getppidX32},
		{nil, getppidX32},
	} {
		o := runChild(t, childJob{Filter: compileT(t, &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: tc.archs, Syscalls: deny}), Calls: []childCall{tc.c}})
		assert.Equal(t, unix.SIGSYS, o.signal, "%s call with architectures %v kills: %+v %s", tc.c.ABI, tc.archs, o.rep, strings.TrimSpace(o.stderr))
	}
}
