// Package systables builds the syscall name tables of runtime/seccomp from
// their sources, so that no syscall number in nsbench is typed by hand:
//
//   - golang.org/x/sys's unix/zsysnum_linux_{amd64,386,arm64,arm}.go, which the
//     Go project generates from the kernel's own headers with a C
//     preprocessor (the newest kernel of the four ABIs' tables);
//   - the kernel source for what x/sys does not carry: the x32 ABI
//     (arch/x86/entry/syscalls/syscall_64.tbl, abi "common" and "x32") and
//     ARM's private calls and aliases (arch/arm/include/uapi/asm/unistd.h).
//
// Build also cross-checks the two sources where both know a call: the
// kernel's syscall_64.tbl, syscall_32.tbl and arm's syscall.tbl must give the
// same numbers as x/sys, or the generation fails.
package systables

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The ABIs in table order. The generated file repeats these as constants for
// runtime/seccomp.
const (
	X86_64 = iota
	X86
	X32
	AArch64
	ARM
	NumABIs
)

// ABINames are the constants' names in the generated file, in table order.
var ABINames = [NumABIs]string{"tabX86_64", "tabX86", "tabX32", "tabAArch64", "tabARM"}

// x32Bit is __X32_SYSCALL_BIT: x32 calls arrive with it set in the number.
const x32Bit = 0x40000000

// xsysFiles are x/sys's tables for the ABIs it has.
var xsysFiles = map[int]string{
	X86_64: "unix/zsysnum_linux_amd64.go", X86: "unix/zsysnum_linux_386.go",
	AArch64: "unix/zsysnum_linux_arm64.go", ARM: "unix/zsysnum_linux_arm.go",
}

// Kernel source files, relative to the tree's root.
const (
	Tbl64     = "arch/x86/entry/syscalls/syscall_64.tbl"
	Tbl32     = "arch/x86/entry/syscalls/syscall_32.tbl"
	TblARM    = "arch/arm/tools/syscall.tbl"
	ARMUnistd = "arch/arm/include/uapi/asm/unistd.h"
)

// KernelFiles are the files Build reads from a kernel tree.
var KernelFiles = []string{Tbl64, Tbl32, TblARM, ARMUnistd}

// Table maps syscall names to their number on each ABI (-1: not there).
type Table struct {
	Nr map[string]*[NumABIs]int32
	// Sources names the inputs, one line each, for the generated header.
	Sources []string
}

// Names returns the table's names, sorted.
func (t *Table) Names() []string {
	names := make([]string, 0, len(t.Nr))
	for n := range t.Nr {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (t *Table) set(abi int, name string, nr int32) {
	e := t.Nr[name]
	if e == nil {
		e = &[NumABIs]int32{-1, -1, -1, -1, -1}
		t.Nr[name] = e
	}
	e[abi] = nr
}

// Inputs are where Build reads from, and how the generated file names them.
type Inputs struct {
	// XSysDir is the x/sys module's directory
	// ($GOMODCACHE/golang.org/x/sys@v0.49.0); XSysName its module@version.
	XSysDir, XSysName string
	// KernelDir is a kernel tree holding at least KernelFiles; KernelName
	// names its version (linux-source-6.1).
	KernelDir, KernelName string
}

// Build reads the tables from in's sources.
func Build(in Inputs) (*Table, error) {
	xsysDir, kernelDir := in.XSysDir, in.KernelDir
	t := &Table{Nr: map[string]*[NumABIs]int32{}}
	xsys := map[int]map[string]int32{}
	for abi := 0; abi < NumABIs; abi++ {
		file, ok := xsysFiles[abi]
		if !ok {
			continue
		}
		m, err := parseXSysFile(filepath.Join(xsysDir, file))
		if err != nil {
			return nil, err
		}
		xsys[abi] = m
	}
	t.Sources = append(t.Sources, in.XSysName+" unix/zsysnum_linux_{amd64,386,arm64,arm}.go")

	tbl64, err := parseTblFile(filepath.Join(kernelDir, Tbl64))
	if err != nil {
		return nil, err
	}
	tbl32, err := parseTblFile(filepath.Join(kernelDir, Tbl32))
	if err != nil {
		return nil, err
	}
	tblARM, err := parseTblFile(filepath.Join(kernelDir, TblARM))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(kernelDir, ARMUnistd))
	if err != nil {
		return nil, err
	}
	armHdr, err := ParseARMUnistd(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ARMUnistd, err)
	}
	t.Sources = append(t.Sources, in.KernelName+" "+Tbl64+" (x32), "+ARMUnistd+" (ARM private calls and aliases)")

	// The two sources must agree wherever both know a call.
	for _, c := range []struct {
		abi  int
		file string
		tbl  []TblEntry
		abis []string
	}{
		{X86_64, Tbl64, tbl64, []string{"common", "64"}},
		{X86, Tbl32, tbl32, []string{"i386"}},
		{ARM, TblARM, tblARM, []string{"common", "eabi"}},
	} {
		for _, e := range Select(c.tbl, c.abis...) {
			got, ok := xsys[c.abi][e.Name]
			if !ok {
				return nil, fmt.Errorf("%s lists %s = %d but %s lacks it", c.file, e.Name, e.Nr, xsysFiles[c.abi])
			}
			if got != e.Nr {
				return nil, fmt.Errorf("%s: %s is %d in the kernel but %d in %s", c.file, e.Name, e.Nr, got, xsysFiles[c.abi])
			}
		}
	}

	for abi, m := range xsys {
		for name, nr := range m {
			// x/sys picks up every __NR_ macro of arm's header, constants
			// such as __NR_SYSCALL_MASK included; those are no calls.
			if abi == ARM && armHdr.Constants[name] {
				continue
			}
			t.set(abi, name, nr)
		}
	}
	for _, e := range Select(tbl64, "common", "x32") {
		t.set(X32, e.Name, e.Nr|x32Bit)
	}
	for name, nr := range armHdr.Private {
		t.set(ARM, name, nr)
	}
	for alias, target := range armHdr.Aliases {
		nr, ok := xsys[ARM][target]
		if !ok {
			return nil, fmt.Errorf("%s: alias %s names %s, which %s lacks", ARMUnistd, alias, target, xsysFiles[ARM])
		}
		t.set(ARM, alias, nr)
	}
	return t, nil
}

func parseXSysFile(path string) (map[string]int32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := ParseXSys(path, data)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ParseXSys reads the SYS_* constants of one of x/sys's zsysnum files and
// returns them by kernel name (SYS__LLSEEK is "_llseek").
func ParseXSys(filename string, src []byte) (map[string]int32, error) {
	f, err := parser.ParseFile(token.NewFileSet(), filename, src, 0)
	if err != nil {
		return nil, err
	}
	m := map[string]int32{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, id := range vs.Names {
				name, ok := strings.CutPrefix(id.Name, "SYS_")
				if !ok || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.INT {
					return nil, fmt.Errorf("%s: %s is not an integer literal", filename, id.Name)
				}
				v, err := strconv.ParseInt(lit.Value, 0, 32)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", filename, id.Name, err)
				}
				m[strings.ToLower(name)] = int32(v)
			}
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: no SYS_ constants", filename)
	}
	return m, nil
}

// TblEntry is one line of a kernel syscall table (.tbl).
type TblEntry struct {
	Nr   int32
	ABI  string
	Name string
}

func parseTblFile(path string) ([]TblEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	es, err := ParseTbl(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return es, nil
}

// ParseTbl reads a kernel syscall table: "<number> <abi> <name> [entry ...]"
// lines, '#' comments.
func ParseTbl(r io.Reader) ([]TblEntry, error) {
	var out []TblEntry
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("line %d: want <number> <abi> <name>, got %q", line, sc.Text())
		}
		nr, err := strconv.ParseInt(f[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, TblEntry{Nr: int32(nr), ABI: f[1], Name: f[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no entries")
	}
	return out, nil
}

// Select returns the entries of the given ABIs.
func Select(es []TblEntry, abis ...string) []TblEntry {
	var out []TblEntry
	for _, e := range es {
		for _, a := range abis {
			if e.ABI == a {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// ARMUnistdInfo is what arm's uapi asm/unistd.h adds to its syscall table.
type ARMUnistdInfo struct {
	// Private are the __ARM_NR_ calls (cacheflush, set_tls, ...) with their
	// EABI numbers.
	Private map[string]int32
	// Aliases map a second name to the call it names (sync_file_range2).
	Aliases map[string]string
	// Constants are __NR_ macros that are no calls (__NR_SYSCALL_MASK).
	Constants map[string]bool
}

// ParseARMUnistd evaluates arm's uapi asm/unistd.h for EABI. Of a macro
// defined twice (in the #if EABI/#else OABI branches) the first definition,
// EABI's, counts. Values are sums of numbers and macros, parenthesised.
func ParseARMUnistd(r io.Reader) (*ARMUnistdInfo, error) {
	defs := map[string]string{}
	var order []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "#define" {
			continue
		}
		if _, seen := defs[f[1]]; seen {
			continue
		}
		defs[f[1]] = strings.Join(f[2:], "")
		order = append(order, f[1])
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	info := &ARMUnistdInfo{Private: map[string]int32{}, Aliases: map[string]string{}, Constants: map[string]bool{}}
	for _, name := range order {
		val := defs[name]
		switch {
		case strings.HasPrefix(name, "__ARM_NR_") && name != "__ARM_NR_BASE":
			v, err := evalSum(val, defs, 0)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			info.Private[strings.TrimPrefix(name, "__ARM_NR_")] = int32(v)
		case strings.HasPrefix(name, "__NR_"):
			call := strings.ToLower(strings.TrimPrefix(name, "__NR_"))
			if target, ok := strings.CutPrefix(val, "__NR_"); ok && !strings.ContainsAny(target, "+()") {
				info.Aliases[call] = target
			} else {
				info.Constants[call] = true
			}
		}
	}
	if len(info.Private) == 0 {
		return nil, fmt.Errorf("no __ARM_NR_ calls found")
	}
	return info, nil
}

// evalSum evaluates "(A+0x10)" where A is another macro.
func evalSum(expr string, defs map[string]string, depth int) (int64, error) {
	if depth > 10 {
		return 0, fmt.Errorf("macro nesting too deep at %q", expr)
	}
	expr = strings.TrimSuffix(strings.TrimPrefix(expr, "("), ")")
	var sum int64
	for _, term := range strings.Split(expr, "+") {
		if v, err := strconv.ParseInt(term, 0, 64); err == nil {
			sum += v
			continue
		}
		def, ok := defs[term]
		if !ok {
			return 0, fmt.Errorf("unknown macro %q", term)
		}
		v, err := evalSum(def, defs, depth+1)
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// WriteGo writes the table as the Go source of runtime/seccomp's
// zsyscalls.go.
func (t *Table) WriteGo(w io.Writer) error {
	b := bufio.NewWriter(w)
	fmt.Fprintln(b, "// Code generated by runtime/seccomp/internal/mksyscalls; DO NOT EDIT.")
	fmt.Fprintln(b, "// Sources:")
	for _, s := range t.Sources {
		fmt.Fprintf(b, "//   %s\n", s)
	}
	fmt.Fprintln(b)
	fmt.Fprintln(b, "package seccomp")
	fmt.Fprintln(b)
	fmt.Fprintln(b, "// Column of each ABI in syscallTable.")
	fmt.Fprintln(b, "const (")
	for i, n := range ABINames {
		fmt.Fprintf(b, "\t%s = %d\n", n, i)
	}
	fmt.Fprintf(b, "\tnumTabs = %d\n", NumABIs)
	fmt.Fprintln(b, ")")
	fmt.Fprintln(b)
	fmt.Fprintln(b, "// syscallTable is sorted by name. Numbers are -1 where an ABI lacks the")
	fmt.Fprintln(b, "// call; x32's include __X32_SYSCALL_BIT, as the filter sees them.")
	fmt.Fprintln(b, "var syscallTable = [...]syscallEntry{")
	for _, name := range t.Names() {
		e := t.Nr[name]
		nums := make([]string, NumABIs)
		for i, v := range e {
			nums[i] = strconv.Itoa(int(v))
		}
		fmt.Fprintf(b, "\t{%q, [numTabs]int32{%s}},\n", name, strings.Join(nums, ", "))
	}
	fmt.Fprintln(b, "}")
	return b.Flush()
}
