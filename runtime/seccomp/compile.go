package seccomp

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Filter is a compiled linux.seccomp: what `create` hands to the container's
// init, which only has to load it.
type Filter struct {
	// Program is the classic BPF program as seccomp(2) takes it: struct
	// sock_filter entries in host byte order.
	Program []byte `json:"program"`
	// Flags are the SECCOMP_FILTER_FLAG_ bits to load it with.
	Flags uint `json:"flags,omitempty"`
	// Ignored are syscall names that no ABI of the filter knows. They add no
	// rule, as in runc (a profile names calls of every architecture and of
	// newer kernels).
	Ignored []string `json:"-"`
	// actions are the distinct SECCOMP_RET_ actions the program returns,
	// for Check.
	actions []uint32
}

// Len is the program's length in instructions.
func (f *Filter) Len() int { return len(f.Program) / 8 }

// Instructions decodes the program (for tests and dumps).
func (f *Filter) Instructions() []bpf.RawInstruction {
	out := make([]bpf.RawInstruction, f.Len())
	for i := range out {
		b := f.Program[i*8:]
		out[i] = bpf.RawInstruction{
			Op: binary.NativeEndian.Uint16(b), Jt: b[2], Jf: b[3], K: binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return out
}

// Error is a problem with one field of linux.seccomp; Field is its JSON path
// (linux.seccomp.syscalls[3].action).
type Error struct {
	Field, Msg string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

func bad(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// defaultErrno is the errno of SCMP_ACT_ERRNO and SCMP_ACT_TRACE without an
// errnoRet: EPERM, as runc.
const defaultErrno = uint(unix.EPERM)

// maxErrno is MAX_ERRNO: the kernel clamps larger SECCOMP_RET_ERRNO data.
const maxErrno = 4095

// The offsets of struct seccomp_data's fields (little-endian hosts: the
// low word of an argument comes first).
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

type cond struct {
	arg  uint
	op   specs.LinuxSeccompOperator
	a, b uint64
}

type rule struct {
	action uint32
	// conds must all hold; none: the rule always applies.
	conds []cond
}

// section is the rules of one ABI.
type section struct {
	abi abi
	// listed: named in architectures (the -ENOSYS stub only covers those).
	listed bool
	// refs are the calls with rules, sorted by number; a number's refs
	// keep the profile's order.
	refs []ref
	// max is the highest number of a call the profile names on this ABI
	// (any action), or -1.
	max int64
}

// ref is one name of one syscalls[] entry on one ABI: call number nr gets
// the rules of entry (an index into compiler.rules, shared by the entry's
// names).
type ref struct {
	nr, entry uint32
}

// Compile turns a linux.seccomp profile into a filter for a kernel whose
// native architecture is native (see HostArch). A nil profile, or one with
// neither defaultAction nor syscalls, means no filter: (nil, nil), as runc.
//
// What it does, and where nsrun follows runc 1.1.5 with libseccomp 2.5:
//   - The filter checks the arch word: native and listed ABIs of its family
//     (x86_64 with x86 and x32, aarch64 with arm) get their rules, any
//     other ABI kills the process. On x86_64 a call with the x32 bit set is
//     x32's, and kills unless SCMP_ARCH_X32 is listed.
//   - Rules: a syscall name unknown to every ABI of the filter is ignored, a
//     rule whose action is the default action is dropped, a call's
//     unconditional rule wins over its conditional ones (the first
//     unconditional one if there are several), conditional rules are tried
//     in the profile's order, and conditions on the same argument index in
//     one rule are split into one rule each (runc's "old behavior").
//   - 64-bit ABIs compare all 64 bits of an argument, as two 32-bit halves;
//     32-bit ABIs (x86, x32, arm) the low 32 bits, as libseccomp.
//   - Unless the default action allows the call (ALLOW, LOG, TRACE) or is
//     already ERRNO(ENOSYS), a call numbered above every call the profile
//     names on a listed ABI returns ENOSYS: newer syscalls than the profile
//     knows then fail the way a C library falls back from (runc's patch).
//
// Refused, with the field named: SCMP_ACT_NOTIFY, listenerPath and
// listenerMetadata (user notification), unknown actions, operators,
// architectures and flags, argument indexes above 5, empty names, errnoRet
// above 4095 or on an action that returns no errno (the runtime-spec says a
// runtime must fail there; runc ignores it), and programs beyond the
// kernel's 4096 instructions.
func Compile(p *specs.LinuxSeccomp, native specs.Arch) (*Filter, error) {
	if p == nil || p.DefaultAction == "" && len(p.Syscalls) == 0 {
		return nil, nil
	}
	fam, err := familyOf(native)
	if err != nil {
		return nil, err
	}
	if err := Validate(p); err != nil {
		return nil, err
	}
	def, _ := action(p.DefaultAction, p.DefaultErrnoRet, "", "")
	f := &Filter{}
	f.Flags, _ = flags(p.Flags)
	sections := sectionsFor(fam, p.Architectures)
	acts := []uint32{def, unix.SECCOMP_RET_KILL_PROCESS} // the default and bad-arch actions
	n := 0
	for _, sc := range p.Syscalls {
		n += len(sc.Names)
	}
	for _, s := range sections {
		s.refs = make([]ref, 0, n)
	}
	c := &compiler{p: newProgram(), def: def, rules: make([][]rule, len(p.Syscalls))}
	var names cursor
	for i, sc := range p.Syscalls {
		act, _ := action(sc.Action, sc.ErrnoRet, "", "")
		rules := rulesOf(sc.Args, act)
		if act != def {
			acts = addAction(acts, act)
		}
		c.rules[i] = rules
		for _, name := range sc.Names {
			e, ok := names.find(name)
			known := false
			for _, s := range sections {
				if !ok || e.nr[s.abi.tab] < 0 {
					continue
				}
				known = true
				nr := uint32(e.nr[s.abi.tab])
				s.max = max(s.max, int64(nr))
				if act != def {
					s.refs = append(s.refs, ref{nr, uint32(i)})
				}
			}
			if !known && !slices.Contains(f.Ignored, name) {
				f.Ignored = append(f.Ignored, name)
			}
		}
	}
	sort.Strings(f.Ignored)
	for _, s := range sections {
		s.refs = sortRefs(s.refs)
	}

	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	stub := !allows(def) && def != enosys
	if stub {
		acts = addAction(acts, enosys)
	}
	raw, err := c.compile(sections, stub)
	if err != nil {
		return nil, bad("linux.seccomp", "%v", err)
	}
	f.Program = make([]byte, 8*len(raw))
	for i, r := range raw {
		b := f.Program[i*8:]
		binary.NativeEndian.PutUint16(b, r.Op)
		b[2], b[3] = r.Jt, r.Jf
		binary.NativeEndian.PutUint32(b[4:], r.K)
	}
	f.actions = acts
	return f, nil
}

// Validate checks p for everything Compile refuses in a profile (not the
// host's architecture, nor the program's size), without compiling: the
// config's validation runs it before anything is created.
func Validate(p *specs.LinuxSeccomp) error {
	if p == nil || p.DefaultAction == "" && len(p.Syscalls) == 0 {
		return nil
	}
	if p.ListenerPath != "" {
		return bad("linux.seccomp.listenerPath", "seccomp user notification (SCMP_ACT_NOTIFY) is not supported by nsrun; remove it (and SCMP_ACT_NOTIFY rules) or use runc/crun")
	}
	if p.ListenerMetadata != "" {
		return bad("linux.seccomp.listenerMetadata", "only used with a listenerPath, which nsrun does not support; remove it")
	}
	if _, err := action(p.DefaultAction, p.DefaultErrnoRet, "linux.seccomp.defaultAction", "linux.seccomp.defaultErrnoRet"); err != nil {
		return err
	}
	if _, err := flags(p.Flags); err != nil {
		return err
	}
	for i, a := range p.Architectures {
		if !slices.Contains(knownArchs(), a) {
			return bad(fmt.Sprintf("linux.seccomp.architectures[%d]", i), "unknown architecture %q (known: %s)", a, joinNames(Archs()))
		}
	}
	for i, sc := range p.Syscalls {
		if _, err := action(sc.Action, sc.ErrnoRet, ".action", ".errnoRet"); err != nil {
			return inEntry(err, i)
		}
		if err := checkArgs(sc.Args); err != nil {
			return inEntry(err, i)
		}
		for j, name := range sc.Names {
			if name == "" {
				return bad(fmt.Sprintf("linux.seccomp.syscalls[%d].names[%d]", i, j), "empty syscall name")
			}
		}
	}
	return nil
}

// sectionsFor lists the ABIs a filter has rules for: the native one always
// (as libseccomp), the listed ones of its family. Other families' are
// valid names but never seen on this kernel.
func sectionsFor(fam family, archs []specs.Arch) []*section {
	sections := []*section{{abi: fam.native, max: -1}}
	for _, a := range archs {
		if a == fam.native.name {
			sections[0].listed = true
			continue
		}
		j := slices.IndexFunc(fam.compat, func(c abi) bool { return c.name == a })
		if j < 0 {
			continue // validated: another family's
		}
		if !slices.ContainsFunc(sections, func(s *section) bool { return s.abi.name == a }) {
			sections = append(sections, &section{abi: fam.compat[j], listed: true, max: -1})
		}
	}
	return sections
}

// sortRefs orders refs by number, keeping the profile's order within a
// number. Numbers are dense (below 1024 past an ABI's base: 0, or the x32
// bit), so a counting sort does it in linear time; the few others (arm's
// private calls) are sorted apart and merged in.
func sortRefs(refs []ref) []ref {
	const span = 2048
	if len(refs) == 0 {
		return refs
	}
	base := refs[0].nr & x32Bit
	var count [span + 1]uint16
	var far []ref
	for _, r := range refs {
		if off := r.nr - base; r.nr >= base && off < span {
			count[off+1]++
		} else {
			far = append(far, r)
		}
	}
	for i := 1; i <= span; i++ {
		count[i] += count[i-1]
	}
	out := make([]ref, len(refs)-len(far), len(refs))
	for _, r := range refs {
		if off := r.nr - base; r.nr >= base && off < span {
			out[count[off]] = r
			count[off]++
		}
	}
	if len(far) == 0 {
		return out
	}
	slices.SortStableFunc(far, func(a, b ref) int { return cmp.Compare(a.nr, b.nr) })
	// far holds numbers below base or from base+span up: put each side.
	i := 0
	for i < len(far) && far[i].nr < base {
		i++
	}
	return append(append(far[:i:i], out...), far[i:]...)
}

func addAction(acts []uint32, a uint32) []uint32 {
	if slices.Contains(acts, a) {
		return acts
	}
	return append(acts, a)
}

// inEntry puts an error about a field of a syscalls[] entry into place:
// the field names are made only when something is wrong.
func inEntry(err error, i int) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Field: fmt.Sprintf("linux.seccomp.syscalls[%d]%s", i, e.Field), Msg: e.Msg}
	}
	return err
}

// allows: actions that let the call run (runc's "permissive" defaults,
// which get no -ENOSYS stub).
func allows(a uint32) bool {
	switch a & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_LOG, unix.SECCOMP_RET_TRACE:
		return true
	}
	return false
}

// action converts an OCI action and its errnoRet to a SECCOMP_RET_ value.
func action(a specs.LinuxSeccompAction, errnoRet *uint, field, errnoField string) (uint32, error) {
	var base uint32
	withErrno := false
	switch a {
	case specs.ActKill, specs.ActKillThread:
		base = unix.SECCOMP_RET_KILL_THREAD
	case specs.ActKillProcess:
		base = unix.SECCOMP_RET_KILL_PROCESS
	case specs.ActTrap:
		base = unix.SECCOMP_RET_TRAP
	case specs.ActErrno:
		base, withErrno = unix.SECCOMP_RET_ERRNO, true
	case specs.ActTrace:
		base, withErrno = unix.SECCOMP_RET_TRACE, true
	case specs.ActAllow:
		base = unix.SECCOMP_RET_ALLOW
	case specs.ActLog:
		base = unix.SECCOMP_RET_LOG
	case specs.ActNotify:
		return 0, bad(field, "SCMP_ACT_NOTIFY (user notification) is not supported by nsrun; use another action or runc/crun")
	case "":
		return 0, bad(field, "missing: give an action such as SCMP_ACT_ERRNO or SCMP_ACT_ALLOW")
	default:
		return 0, bad(field, "unknown action %q (known: %s)", a, joinNames(Actions()))
	}
	if !withErrno {
		if errnoRet != nil {
			return 0, bad(errnoField, "%d given, but %s returns no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do); remove it", *errnoRet, a)
		}
		return base, nil
	}
	e := defaultErrno
	if errnoRet != nil {
		e = *errnoRet
	}
	if base == unix.SECCOMP_RET_ERRNO && e > maxErrno || e > 0xffff {
		return 0, bad(errnoField, "%d is out of range (errno values go up to %d)", e, maxErrno)
	}
	return base | uint32(e), nil
}

// flags converts the profile's flags to SECCOMP_FILTER_FLAG_ bits.
func flags(fs []specs.LinuxSeccompFlag) (uint, error) {
	var out uint
	for i, f := range fs {
		field := fmt.Sprintf("linux.seccomp.flags[%d]", i)
		switch f {
		case flagTsync:
			// nsrun loads the filter on the thread that execs; TSYNC puts
			// it on the init's other (Go runtime) threads too, which die at
			// execve anyway. It is honoured all the same.
			out |= unix.SECCOMP_FILTER_FLAG_TSYNC
		case specs.LinuxSeccompFlagLog:
			out |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			out |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case specs.LinuxSeccompFlagWaitKillableRecv, "SECCOMP_FILTER_FLAG_NEW_LISTENER", "SECCOMP_FILTER_FLAG_TSYNC_ESRCH":
			return 0, bad(field, "%s only applies to user notification (SCMP_ACT_NOTIFY), which nsrun does not support; remove it", f)
		default:
			return 0, bad(field, "unknown flag %q (known: %s)", f, joinNames(Flags()))
		}
	}
	return out, nil
}

const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// checkArgs refuses what no rule can compare: an argument index above 5,
// an unknown operator. Fields are relative to the entry (".args[0].op").
func checkArgs(args []specs.LinuxSeccompArg) error {
	for k, a := range args {
		if a.Index > 5 {
			return bad(fmt.Sprintf(".args[%d].index", k), "%d is out of range: a syscall has arguments 0 to 5", a.Index)
		}
		switch a.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpGreaterEqual,
			specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual:
		case "":
			return bad(fmt.Sprintf(".args[%d].op", k), "missing: give an operator such as SCMP_CMP_EQ")
		default:
			return bad(fmt.Sprintf(".args[%d].op", k), "unknown operator %q (known: %s)", a.Op, joinNames(Operators()))
		}
	}
	return nil
}

// rulesOf turns one syscalls[] entry's (checked) args into rules with
// action act. Like runc, conditions that share an argument index become
// one rule each (so they are alternatives); otherwise all must hold.
func rulesOf(args []specs.LinuxSeccompArg, act uint32) []rule {
	if len(args) == 0 {
		return []rule{{action: act}}
	}
	conds := make([]cond, 0, len(args))
	var perIndex [6]int
	split := false
	for _, a := range args {
		perIndex[a.Index]++
		if perIndex[a.Index] > 1 {
			split = true
		}
		conds = append(conds, cond{arg: a.Index, op: a.Op, a: a.Value, b: a.ValueTwo})
	}
	if !split {
		return []rule{{action: act, conds: conds}}
	}
	out := make([]rule, len(conds))
	for i, c := range conds {
		out[i] = rule{action: act, conds: []cond{c}}
	}
	return out
}
