package seccomp

import (
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Two ways to tell what a profile does with one call, for tests: run the
// compiled program in x/net/bpf's VM (vmEval), and interpret the profile's
// JSON directly by the rules Compile documents (refEval). They must agree
// on every call; the kernel tests then show the VM agrees with the kernel.

// call is one syscall as the filter sees it.
type call struct {
	audit uint32
	nr    uint32
	args  [6]uint64
}

// vmEval runs f on c's seccomp_data. The VM loads words big-endian, so each
// 32-bit field is stored that way; the program loads the low half of an
// argument from the lower offset, as on a little-endian kernel.
func vmEval(t testing.TB, vm *bpf.VM, c call) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[0:], c.nr)
	binary.BigEndian.PutUint32(data[4:], c.audit)
	for i, a := range c.args {
		binary.BigEndian.PutUint32(data[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[20+8*i:], uint32(a>>32))
	}
	r, err := vm.Run(data)
	require.NoError(t, err)
	return uint32(r)
}

func newVM(t testing.TB, f *Filter) *bpf.VM {
	t.Helper()
	ins, ok := bpf.Disassemble(f.Instructions())
	require.True(t, ok, "the program disassembles")
	vm, err := bpf.NewVM(ins)
	require.NoError(t, err)
	return vm
}

// refEval interprets profile p for call c on a kernel of arch native.
func refEval(t testing.TB, p *specs.LinuxSeccomp, native specs.Arch, c call) uint32 {
	t.Helper()
	def := mustAction(t, p.DefaultAction, p.DefaultErrnoRet)
	fam, err := familyOf(native)
	require.NoError(t, err)
	listed := func(a specs.Arch) bool {
		for _, x := range p.Architectures {
			if x == a {
				return true
			}
		}
		return false
	}
	// Which ABI made the call?
	var which *abi
	switch {
	case c.audit == unix.AUDIT_ARCH_X86_64 && native == specs.ArchX86_64 && c.nr&x32Bit != 0 && c.nr != 0xffffffff:
		if !listed(specs.ArchX32) {
			return unix.SECCOMP_RET_KILL_PROCESS
		}
		which = &abiX32
	case c.audit == fam.native.audit:
		which = &fam.native
	default:
		for i := range fam.compat {
			if fam.compat[i].audit == c.audit && listed(fam.compat[i].name) {
				which = &fam.compat[i]
			}
		}
		if which == nil {
			return unix.SECCOMP_RET_KILL_PROCESS
		}
	}
	// The rules for this number on this ABI, in profile order; the highest
	// number the profile names on the ABI.
	type refRule struct {
		action uint32
		args   []specs.LinuxSeccompArg
	}
	var rules []refRule
	max := int64(-1)
	for _, sc := range p.Syscalls {
		act := mustAction(t, sc.Action, sc.ErrnoRet)
		for _, name := range sc.Names {
			e, ok := lookup(name)
			if !ok || e.nr[which.tab] < 0 {
				continue
			}
			max = maxInt64(max, int64(e.nr[which.tab]))
			if uint32(e.nr[which.tab]) != c.nr || act == def {
				continue
			}
			// runc: several conditions on one argument are alternatives.
			seen := map[uint]bool{}
			dup := false
			for _, a := range sc.Args {
				dup = dup || seen[a.Index]
				seen[a.Index] = true
			}
			if dup {
				for _, a := range sc.Args {
					rules = append(rules, refRule{act, []specs.LinuxSeccompArg{a}})
				}
			} else {
				rules = append(rules, refRule{act, sc.Args})
			}
		}
	}
	for _, r := range rules {
		if len(r.args) == 0 {
			return r.action
		}
	}
	for _, r := range rules {
		all := true
		for _, a := range r.args {
			all = all && holds(a, c.args[a.Index], which.bits32)
		}
		if all {
			return r.action
		}
	}
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	permissive := def&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ALLOW || def&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_LOG || def&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_TRACE
	if !permissive && def != enosys && listed(which.name) && max >= 0 && int64(c.nr) > max {
		return enosys
	}
	return def
}

// holds is the comparison on the full values; 32-bit ABIs see 32 bits.
func holds(a specs.LinuxSeccompArg, x uint64, bits32 bool) bool {
	v, v2 := a.Value, a.ValueTwo
	if bits32 {
		x, v, v2 = uint64(uint32(x)), uint64(uint32(v)), uint64(uint32(v2))
	}
	switch a.Op {
	case specs.OpEqualTo:
		return x == v
	case specs.OpNotEqual:
		return x != v
	case specs.OpGreaterThan:
		return x > v
	case specs.OpGreaterEqual:
		return x >= v
	case specs.OpLessThan:
		return x < v
	case specs.OpLessEqual:
		return x <= v
	case specs.OpMaskedEqual:
		return x&v == v2
	}
	panic("unknown operator " + a.Op)
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func mustAction(t testing.TB, a specs.LinuxSeccompAction, errnoRet *uint) uint32 {
	t.Helper()
	v, err := action(a, errnoRet, "a", "e")
	require.NoError(t, err)
	return v
}
