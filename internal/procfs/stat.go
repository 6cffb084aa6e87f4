// Package procfs reads /proc/PID/stat, the one place nsbench parses it:
// a process's name, whether it runs or is a zombie, its parent, the CPU it
// used and when it started (which, with its pid, names one process for
// good).
package procfs

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat is the part of /proc/PID/stat nsbench uses.
type Stat struct {
	// Pid is field 1.
	Pid int
	// Comm is field 2, the command name without its parentheses.
	Comm string
	// State is field 3: R, S, D, Z (zombie), X (dead), T, ...
	State byte
	// PPid is field 4.
	PPid int
	// UTime and STime are fields 14 and 15: CPU time in clock ticks.
	UTime, STime uint64
	// StartTime is field 22: clock ticks since boot.
	StartTime uint64
}

// Zombie reports whether the process has exited and waits to be reaped.
func (s *Stat) Zombie() bool { return s.State == 'Z' || s.State == 'X' }

// ReadStat reads /proc/PID/stat.
func ReadStat(pid int) (*Stat, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	st, err := ParseStat(string(data))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return st, nil
}

// ParseStat parses the text of a stat file.
func ParseStat(s string) (*Stat, error) {
	// The command name (field 2) may hold spaces and parentheses; the
	// fields after its last ')' are fixed.
	open, i := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || i < open {
		return nil, fmt.Errorf("no command name in parentheses")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return nil, fmt.Errorf("pid %q: %w", s[:open], err)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return nil, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	st := &Stat{Pid: pid, Comm: s[open+1 : i], State: f[0][0]}
	for _, n := range []struct {
		name string
		i    int
		u    *uint64
	}{{"utime", 11, &st.UTime}, {"stime", 12, &st.STime}, {"starttime", 19, &st.StartTime}} {
		if *n.u, err = strconv.ParseUint(f[n.i], 10, 64); err != nil {
			return nil, fmt.Errorf("%s %q: %w", n.name, f[n.i], err)
		}
	}
	if st.PPid, err = strconv.Atoi(f[1]); err != nil {
		return nil, fmt.Errorf("ppid %q: %w", f[1], err)
	}
	return st, nil
}

// All reads the stat of every process; those that exit while it reads are
// left out.
func All() (map[int]*Stat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	out := map[int]*Stat{}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if st, err := ReadStat(pid); err == nil {
			out[pid] = st
		}
	}
	return out, nil
}

// Alive reports whether pid exists and has not exited.
func Alive(pid int) bool {
	st, err := ReadStat(pid)
	return err == nil && !st.Zombie()
}
