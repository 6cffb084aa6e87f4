package cgroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The freezer: pause and resume a container, and hold its processes still
// while a kill round lists and signals them. v1 has a freezer hierarchy
// (freezer.state, asynchronous: FREEZING until every task stopped); v2 has
// cgroup.freeze in every group, confirmed by cgroup.events.

type freezer struct {
	dir            string
	file           string // freezer.state or cgroup.freeze
	frozen, thawed string
	v2             bool
}

// ErrNoFreezer means the host has no freezer for the container's cgroup.
var ErrNoFreezer = errors.New("this host has no freezer cgroup controller (v1 freezer hierarchy or cgroup v2)")

func (m *Manager) freezer() (freezer, error) {
	if m.pureV2() {
		return freezer{dir: m.paths[unifiedName], file: "cgroup.freeze", frozen: "1", thawed: "0", v2: true}, nil
	}
	if dir, _ := m.dir("freezer"); dir != "" {
		return freezer{dir: dir, file: "freezer.state", frozen: "FROZEN", thawed: "THAWED"}, nil
	}
	return freezer{}, ErrNoFreezer
}

// refreezeAfter is how long a v1 freeze may stay FREEZING before it is
// asked again.
const refreezeAfter = 50 * time.Millisecond

// Freeze stops every process of the container and returns once the kernel
// reports them all stopped, or with ctx's error after thawing them again.
func (m *Manager) Freeze(ctx context.Context) error {
	f, err := m.freezer()
	if err != nil {
		return err
	}
	if err := write(f.dir, f.file, f.frozen); err != nil {
		return err
	}
	asked := time.Now()
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 10*time.Millisecond) {
		done, err := f.settled()
		if err != nil || done {
			return err
		}
		// A v1 freezer can stay FREEZING for good: a task that forks while
		// the freeze walks the cgroup, or sleeps where it cannot be frozen,
		// is never caught (seen here with a shell forking every 10 ms on a
		// loaded host). Thawing and asking again lets it through, as runc
		// does; v2 freezes such tasks as they come.
		if !f.v2 && time.Since(asked) > refreezeAfter {
			if err := write(f.dir, f.file, f.thawed); err != nil {
				return err
			}
			if err := write(f.dir, f.file, f.frozen); err != nil {
				return err
			}
			asked = time.Now()
		}
		select {
		case <-ctx.Done():
			_ = write(f.dir, f.file, f.thawed)
			return fmt.Errorf("freeze %s: tasks still running: %w", f.dir, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// settled reports whether a freeze request has taken effect.
func (f freezer) settled() (bool, error) {
	if f.v2 {
		data, err := os.ReadFile(filepath.Join(f.dir, "cgroup.events"))
		if err != nil {
			return false, fmt.Errorf("read %s: %w", filepath.Join(f.dir, "cgroup.events"), err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line == "frozen 1" {
				return true, nil
			}
		}
		return false, nil
	}
	state, err := f.state()
	return state == f.frozen, err
}

func (f freezer) state() (string, error) {
	data, err := os.ReadFile(filepath.Join(f.dir, f.file))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Join(f.dir, f.file), err)
	}
	return strings.TrimSpace(string(data)), nil
}

// Thaw resumes a frozen container.
func (m *Manager) Thaw() error {
	f, err := m.freezer()
	if err != nil {
		return err
	}
	return write(f.dir, f.file, f.thawed)
}

// Frozen reports whether the container is paused (frozen, or on its way on
// v1). A host without a freezer never has a paused container.
func (m *Manager) Frozen() (bool, error) {
	f, err := m.freezer()
	if errors.Is(err, ErrNoFreezer) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	state, err := f.state()
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // the cgroup is gone: a stopped container
	}
	if err != nil {
		return false, err
	}
	return state != f.thawed, nil
}

// freezeForKill freezes the container for one kill round and returns the
// function that thaws it; without a freezer it does nothing. A container
// that was paused stays frozen until the thaw, which then lets the killed
// processes die.
func (m *Manager) freezeForKill() (thaw func() error, err error) {
	if _, err := m.freezer(); errors.Is(err, ErrNoFreezer) {
		return func() error { return nil }, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// A task that does not stop within the second is signalled anyway;
	// the next round catches what it forked.
	if err := m.Freeze(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return m.Thaw, nil
}
