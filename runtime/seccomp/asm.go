package seccomp

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// The compiler emits instructions whose jumps name labels; assemble lays
// them out. Classic BPF can only jump forward, and a conditional jump only
// 255 instructions far; a longer one is rewritten to go through an
// unconditional jump (32-bit offset) placed right after it.

// label is a position in the program, bound when the code it names is
// emitted. next (the zero label) means "the following instruction".
type label int

const next label = 0

// maxInsns is BPF_MAXINSNS, the kernel's limit for one filter.
const maxInsns = 4096

type insKind uint8

const (
	kLoad insKind = iota // A = seccomp_data word at k
	kAnd                 // A &= k
	kJump                // if A cond k goto t else goto f
	kJa                  // goto t
	kRet                 // return k
)

type ins struct {
	kind insKind
	cond bpf.JumpTest
	k    uint32
	t, f label
	// farT, farF: the branch is too long for 8 bits and goes through a
	// trampoline ja placed after the instruction.
	farT, farF bool
}

// program is code under construction.
type program struct {
	code []ins
	// at[l] is the index in code of the instruction label l names.
	at []int
	// rets are the shared return instructions, one per action value (a
	// handful: a slice beats a map).
	rets []retAt
}

type retAt struct {
	action uint32
	l      label
}

func newProgram() *program {
	// Docker's default profile needs about 900 instructions and 500 labels.
	p := &program{code: make([]ins, 0, 1024), at: make([]int, 1, 512)}
	p.at[0] = -1
	return p
}

func (p *program) newLabel() label {
	p.at = append(p.at, -1)
	return label(len(p.at) - 1)
}

// bind makes l name the next instruction emitted.
func (p *program) bind(l label) {
	if p.at[l] >= 0 {
		panic(fmt.Sprintf("seccomp: label %d bound twice", l))
	}
	p.at[l] = len(p.code)
}

func (p *program) emit(i ins) { p.code = append(p.code, i) }

func (p *program) load(off uint32) { p.emit(ins{kind: kLoad, k: off}) }
func (p *program) and(mask uint32) { p.emit(ins{kind: kAnd, k: mask}) }
func (p *program) ja(t label)      { p.emit(ins{kind: kJa, t: t}) }
func (p *program) ret(k uint32)    { p.emit(ins{kind: kRet, k: k}) }
func (p *program) jump(c bpf.JumpTest, k uint32, t, f label) {
	if t == next && f == next {
		return
	}
	p.emit(ins{kind: kJump, cond: c, k: k, t: t, f: f})
}

// retLabel is the label of a shared `ret action`, emitted by finish.
func (p *program) retLabel(action uint32) label {
	for _, r := range p.rets {
		if r.action == action {
			return r.l
		}
	}
	l := p.newLabel()
	p.rets = append(p.rets, retAt{action, l})
	return l
}

// finish emits the shared returns in the order they were first asked
// for, so the same profile always compiles to the same bytes.
func (p *program) finish() {
	for _, r := range p.rets {
		p.bind(r.l)
		p.ret(r.action)
	}
}

// assemble resolves the labels and returns the kernel's instructions.
func (p *program) assemble() ([]bpf.RawInstruction, error) {
	for l, at := range p.at[1:] {
		if at < 0 {
			return nil, fmt.Errorf("seccomp: label %d never bound", l+1)
		}
	}
	// Lay out; widen what does not reach; repeat until nothing changes.
	// Widening only grows the program, so this ends.
	pos := make([]int, len(p.code)+1)
	for {
		p.layout(pos)
		changed := false
		for i := range p.code {
			in := &p.code[i]
			if in.kind != kJump {
				continue
			}
			if !in.farT && p.dist(pos, i, 0, in.t) > 255 {
				in.farT, changed = true, true
			}
			if !in.farF && p.dist(pos, i, 0, in.f) > 255 {
				in.farF, changed = true, true
			}
		}
		if !changed {
			break
		}
	}
	total := pos[len(p.code)]
	if total > maxInsns {
		return nil, fmt.Errorf("the profile compiles to %d BPF instructions, more than the kernel's limit of %d", total, maxInsns)
	}
	out := make([]bpf.RawInstruction, 0, total)
	for i, in := range p.code {
		var raw bpf.RawInstruction
		var err error
		switch in.kind {
		case kLoad:
			raw, err = bpf.LoadAbsolute{Off: in.k, Size: 4}.Assemble()
		case kAnd:
			raw, err = bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: in.k}.Assemble()
		case kRet:
			raw, err = bpf.RetConstant{Val: in.k}.Assemble()
		case kJa:
			d := p.dist(pos, i, 0, in.t)
			if d < 0 {
				return nil, fmt.Errorf("seccomp: backward jump at %d", i)
			}
			raw, err = bpf.Jump{Skip: uint32(d)}.Assemble()
		case kJump:
			// A far branch goes through a trampoline in the slots right
			// after the jump: the true branch's first.
			jt, tt, err1 := p.branch(pos, i, in.farT, in.t, 0)
			slot := 0
			if in.farT {
				slot = 1
			}
			jf, tf, err2 := p.branch(pos, i, in.farF, in.f, slot)
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
			raw, err = bpf.JumpIf{Cond: in.cond, Val: in.k, SkipTrue: jt, SkipFalse: jf}.Assemble()
			if err != nil {
				return nil, err
			}
			out = append(out, raw)
			for _, tr := range []struct {
				far  bool
				skip uint32
			}{{in.farT, tt}, {in.farF, tf}} {
				if tr.far {
					r, err := bpf.Jump{Skip: tr.skip}.Assemble()
					if err != nil {
						return nil, err
					}
					out = append(out, r)
				}
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, nil
}

// branch returns a conditional jump's offset for one branch and, for a far
// branch, its trampoline's (which sits in slot after the jump).
func (p *program) branch(pos []int, i int, far bool, l label, slot int) (off uint8, tramp uint32, err error) {
	if far {
		return uint8(slot), uint32(p.dist(pos, i, 1+slot, l)), nil
	}
	d := p.dist(pos, i, 0, l)
	if d < 0 || d > 255 {
		return 0, 0, fmt.Errorf("seccomp: jump of %d at %d", d, i)
	}
	return uint8(d), 0, nil
}

// layout fills pos with each instruction's offset in the output
// (trampolines included); pos[len(code)] is the total length.
func (p *program) layout(pos []int) {
	n := 0
	for i, in := range p.code {
		pos[i] = n
		n++
		if in.farT {
			n++
		}
		if in.farF {
			n++
		}
	}
	pos[len(p.code)] = n
}

// dist is how many output instructions lie between the one after output
// slot (pos[i]+extra) and label l's target: the jump offset the kernel
// takes. next is 0 from the instruction itself (extra 0).
func (p *program) dist(pos []int, i, extra int, l label) int {
	from := pos[i] + extra + 1
	if l == next {
		// Past the instruction and its trampolines.
		return pos[i+1] - from
	}
	return pos[p.at[l]] - from
}
