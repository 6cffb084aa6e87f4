package seccomp

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Code generation: the arch dispatch, a binary search over syscall number
// ranges per arch word, one block per call with conditional rules, and the
// shared returns.

type compiler struct {
	p   *program
	def uint32
	// rules are each syscalls[] entry's rules.
	rules [][]rule
	// blocks are the calls with conditional rules, emitted after the
	// dispatch trees.
	blocks []block
}

type block struct {
	l     label
	abi   abi
	rules []rule
}

// interval maps the syscall numbers lo..hi (inclusive) to a target.
type interval struct {
	lo, hi uint64
	t      label
}

func (c *compiler) compile(sections []*section, stub bool) ([]bpf.RawInstruction, error) {
	p := c.p
	// Sections that share an arch word (x86_64 and x32) share a dispatch.
	type group struct {
		audit uint32
		secs  []*section
		l     label
	}
	var groups []*group
	for _, s := range sections {
		var g *group
		for _, x := range groups {
			if x.audit == s.abi.audit {
				g = x
			}
		}
		if g == nil {
			g = &group{audit: s.abi.audit, l: p.newLabel()}
			groups = append(groups, g)
		}
		g.secs = append(g.secs, s)
	}
	badArch := p.retLabel(unix.SECCOMP_RET_KILL_PROCESS)
	p.load(offArch)
	for i, g := range groups {
		f := next
		if i == len(groups)-1 {
			f = badArch
		}
		p.jump(bpf.JumpEqual, g.audit, g.l, f)
	}
	for _, g := range groups {
		p.bind(g.l)
		p.load(offNr)
		c.tree(c.intervals(g.secs, stub, badArch), next)
	}
	for _, b := range c.blocks {
		c.block(b)
	}
	p.finish()
	return p.assemble()
}

// intervals covers all 2^32 syscall numbers of one arch word with targets.
func (c *compiler) intervals(secs []*section, stub bool, badArch label) []interval {
	p := c.p
	defLabel := p.retLabel(c.def)
	above := func(s *section) label {
		if stub && s.listed && s.max >= 0 {
			return p.retLabel(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
		}
		return defLabel
	}
	type seg struct {
		lo, hi uint64
		s      *section
	}
	var segs []seg
	var native, x32 *section
	for _, s := range secs {
		if s.abi.tab == tabX32 {
			x32 = s
		} else {
			native = s
		}
	}
	if native.abi.audit == abiX86_64.audit {
		// x86_64's numbers below the x32 bit; x32's (or a bad arch) from it
		// up; 0xffffffff (-1, a call a tracer cancelled) is x86_64's.
		segs = append(segs, seg{0, x32Bit - 1, native})
		if x32 != nil {
			segs = append(segs, seg{x32Bit, 0xfffffffe, x32})
		} else {
			segs = append(segs, seg{x32Bit, 0xfffffffe, nil})
		}
		segs = append(segs, seg{0xffffffff, 0xffffffff, native})
	} else {
		segs = append(segs, seg{0, 0xffffffff, native})
	}

	var out []interval
	add := func(lo, hi uint64, t label) {
		if lo > hi {
			return
		}
		if n := len(out); n > 0 && out[n-1].t == t && out[n-1].hi+1 == lo {
			out[n-1].hi = hi
			return
		}
		out = append(out, interval{lo, hi, t})
	}
	for _, sg := range segs {
		if sg.s == nil {
			add(sg.lo, sg.hi, badArch)
			continue
		}
		// base is what a number without rules gets: the default action up
		// to the highest call the profile names, the stub's above it.
		base := func(lo, hi uint64) {
			if top := sg.s.max; top >= 0 && uint64(top) >= lo {
				split := min(uint64(top), hi)
				add(lo, split, defLabel)
				lo = split + 1
			}
			add(lo, hi, above(sg.s))
		}
		cur := sg.lo
		refs := sg.s.refs
		for len(refs) > 0 {
			nr := refs[0].nr
			n := 1
			for n < len(refs) && refs[n].nr == nr {
				n++
			}
			same := refs[:n]
			refs = refs[n:]
			if uint64(nr) < sg.lo || uint64(nr) > sg.hi {
				continue
			}
			if uint64(nr) > cur {
				base(cur, uint64(nr)-1)
			}
			add(uint64(nr), uint64(nr), c.target(sg.s.abi, same))
			cur = uint64(nr) + 1
		}
		base(cur, sg.hi)
	}
	return out
}

// target is where a call with rules (refs, all of one number) goes: its unconditional rule's return
// (libseccomp: an unconditional rule replaces conditional ones), or a block
// that tries the conditional rules.
func (c *compiler) target(a abi, refs []ref) label {
	for _, rf := range refs {
		for _, r := range c.rules[rf.entry] {
			if len(r.conds) == 0 {
				return c.p.retLabel(r.action)
			}
		}
	}
	var rules []rule
	for _, rf := range refs {
		rules = append(rules, c.rules[rf.entry]...)
	}
	l := c.p.newLabel()
	c.blocks = append(c.blocks, block{l: l, abi: a, rules: rules})
	return l
}

// tree emits a binary search over the intervals, bound at self. A single
// interval needs no instruction of its own: its target is the parent's jump
// target (only a tree of one interval jumps there).
func (c *compiler) tree(iv []interval, self label) {
	if self != next {
		c.p.bind(self)
	}
	if len(iv) == 1 {
		c.p.ja(iv[0].t)
		return
	}
	mid := len(iv) / 2
	left, right := iv[:mid], iv[mid:]
	sub := func(part []interval) label {
		if len(part) == 1 {
			return part[0].t
		}
		return c.p.newLabel()
	}
	lt, rt := sub(left), sub(right)
	c.p.jump(bpf.JumpGreaterOrEqual, uint32(right[0].lo), rt, lt)
	if len(left) > 1 {
		c.tree(left, lt)
	}
	if len(right) > 1 {
		c.tree(right, rt)
	}
}

// block emits a call's conditional rules, tried in order; when none
// matches, the default action.
func (c *compiler) block(b block) {
	p := c.p
	p.bind(b.l)
	for _, r := range b.rules {
		fail := p.newLabel()
		for i, cd := range r.conds {
			pass := next
			if i == len(r.conds)-1 {
				pass = p.retLabel(r.action)
			}
			c.cond(b.abi, cd, pass, fail)
		}
		p.bind(fail)
	}
	p.ja(p.retLabel(c.def))
}

// cond emits one argument comparison: on to pass when it holds, to fail
// when not. An ABI with 32-bit registers compares the low halves only.
func (c *compiler) cond(a abi, cd cond, pass, fail label) {
	p := c.p
	if pass == next {
		// "next" inside the sequence below would mean its next
		// instruction: name the end of the sequence instead.
		pass = p.newLabel()
		defer p.bind(pass)
	}
	lo := uint32(offArgs + 8*cd.arg)
	hi := lo + 4
	vlo, vhi := uint32(cd.a), uint32(cd.a>>32)
	if a.bits32 {
		p.load(lo)
		switch cd.op {
		case specs.OpEqualTo:
			p.jump(bpf.JumpEqual, vlo, pass, fail)
		case specs.OpNotEqual:
			p.jump(bpf.JumpEqual, vlo, fail, pass)
		case specs.OpGreaterThan:
			p.jump(bpf.JumpGreaterThan, vlo, pass, fail)
		case specs.OpGreaterEqual:
			p.jump(bpf.JumpGreaterOrEqual, vlo, pass, fail)
		case specs.OpLessThan:
			p.jump(bpf.JumpGreaterOrEqual, vlo, fail, pass)
		case specs.OpLessEqual:
			p.jump(bpf.JumpGreaterThan, vlo, fail, pass)
		case specs.OpMaskedEqual:
			p.and(vlo)
			p.jump(bpf.JumpEqual, uint32(cd.b), pass, fail)
		}
		return
	}
	switch cd.op {
	case specs.OpEqualTo:
		p.load(hi)
		p.jump(bpf.JumpEqual, vhi, next, fail)
		p.load(lo)
		p.jump(bpf.JumpEqual, vlo, pass, fail)
	case specs.OpNotEqual:
		p.load(hi)
		p.jump(bpf.JumpEqual, vhi, next, pass)
		p.load(lo)
		p.jump(bpf.JumpEqual, vlo, fail, pass)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		// hi > vhi: holds; hi < vhi: fails; equal: the low halves decide.
		p.load(hi)
		p.jump(bpf.JumpGreaterThan, vhi, pass, next)
		p.jump(bpf.JumpEqual, vhi, next, fail)
		p.load(lo)
		t := bpf.JumpGreaterThan
		if cd.op == specs.OpGreaterEqual {
			t = bpf.JumpGreaterOrEqual
		}
		p.jump(t, vlo, pass, fail)
	case specs.OpLessThan, specs.OpLessEqual:
		// hi < vhi: holds; hi > vhi: fails; equal: the low halves decide.
		p.load(hi)
		p.jump(bpf.JumpGreaterOrEqual, vhi, next, pass)
		p.jump(bpf.JumpGreaterThan, vhi, fail, next)
		p.load(lo)
		if cd.op == specs.OpLessThan {
			p.jump(bpf.JumpGreaterOrEqual, vlo, fail, pass)
		} else {
			p.jump(bpf.JumpGreaterThan, vlo, fail, pass)
		}
	case specs.OpMaskedEqual:
		// (arg & a) == b, half by half; a half with a zero mask is equal
		// exactly when b's half is zero.
		for _, h := range []struct {
			off        uint32
			mask, want uint32
			last       bool
		}{{hi, vhi, uint32(cd.b >> 32), false}, {lo, vlo, uint32(cd.b), true}} {
			t := next
			if h.last {
				t = pass
			}
			if h.mask == 0 {
				if h.want != 0 {
					p.ja(fail)
					return
				}
				if h.last {
					p.ja(pass)
				}
				continue
			}
			p.load(h.off)
			if h.mask != 0xffffffff {
				p.and(h.mask)
			}
			p.jump(bpf.JumpEqual, h.want, t, fail)
		}
	}
}
