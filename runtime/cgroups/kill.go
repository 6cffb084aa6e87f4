package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Reaching every process of a container: listing them (ps, kill --all) and
// signalling them without missing one that forks meanwhile.

// Pids lists every process in the container's cgroup and its children.
func (m *Manager) Pids() ([]int, error) {
	dir := m.procsDir()
	if dir == "" {
		return nil, errors.New("container has no cgroup")
	}
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return fmt.Errorf("read %s: %w", filepath.Join(p, "cgroup.procs"), err)
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	sort.Ints(pids)
	return pids, err
}

// procsDir is the hierarchy to list processes from: one every process is
// placed in, preferring those with no controller side effects.
func (m *Manager) procsDir() string {
	for _, c := range []string{"pids", "freezer", "memory"} {
		if d, _ := m.dir(c); d != "" {
			return d
		}
	}
	if d, ok := m.paths[unifiedName]; ok {
		return d
	}
	for _, d := range m.paths {
		return d
	}
	return ""
}

// Signal sends sig to every process of the container. For SIGKILL the
// cgroup is frozen first (or cgroup.kill used on v2), and the round is
// repeated until a listing comes back empty: a process caught mid-fork is
// not listed yet and would otherwise survive.
func (m *Manager) Signal(sig unix.Signal) error {
	if sig == unix.SIGKILL && m.pureV2() {
		if err := write(m.paths[unifiedName], "cgroup.kill", "1"); err == nil {
			return nil
		}
	}
	if sig != unix.SIGKILL {
		_, err := m.signalOnce(sig)
		return err
	}
	// An empty cgroup needs no freezing: no process there can be forking
	// (the container's lock keeps exec from adding one). That is every
	// delete of a container that stopped by itself.
	if pids, err := m.Pids(); err != nil || len(pids) == 0 {
		return err
	}
	for round := 0; round < 20; round++ {
		thaw, err := m.freezeForKill()
		if err != nil {
			return err
		}
		n, err := m.signalOnce(sig)
		if terr := thaw(); err == nil {
			err = terr
		}
		if err != nil || n == 0 {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// signalOnce signals the processes listed now and returns how many.
func (m *Manager) signalOnce(sig unix.Signal) (int, error) {
	pids, err := m.Pids()
	if err != nil {
		return 0, err
	}
	var firstErr error
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) && firstErr == nil {
			firstErr = fmt.Errorf("signal %d to pid %d: %w", sig, pid, err)
		}
	}
	return len(pids), firstErr
}

// killProcs kills what is left in dir, for Destroy.
func killProcs(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}
