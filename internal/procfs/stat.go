// Package procfs reads /proc/PID/stat, the one place nsbench parses it:
// whether a process runs, is a zombie, and when it started (which, with
// its pid, names one process for good).
package procfs

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Stat is the part of /proc/PID/stat nsbench uses.
type Stat struct {
	// State is field 3: R, S, D, Z (zombie), X (dead), T, ...
	State byte
	// PPid is field 4.
	PPid int
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
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("no ')' closing the command name")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return nil, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return nil, fmt.Errorf("ppid %q: %w", f[1], err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("starttime %q: %w", f[19], err)
	}
	return &Stat{State: f[0][0], PPid: ppid, StartTime: start}, nil
}

// Alive reports whether pid exists and has not exited.
func Alive(pid int) bool {
	st, err := ReadStat(pid)
	return err == nil && !st.Zombie()
}
