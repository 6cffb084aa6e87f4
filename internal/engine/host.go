package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/leftover"
	"github.com/nsbench/nsbench/internal/mountinfo"
	"github.com/nsbench/nsbench/runtime/cgroups"
)

// Host state the engines' Close cleans up and checks: mounts, processes,
// cgroups and the /run/netns mount that `ip netns` and engines make.

const netnsDir = "/run/netns"

// mountPoints lists this mount namespace's mount points.
func mountPoints() ([]string, error) {
	ms, err := mountinfo.Self()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Mountpoint)
	}
	return out, nil
}

// mountsUnder lists mount points at or below any of dirs, deepest first.
func mountsUnder(dirs ...string) []string {
	ms, err := mountinfo.Self()
	if err != nil {
		return []string{err.Error()}
	}
	return leftover.Mounts(ms, dirs, nil)
}

// unmountUnder detaches every mount at or below dirs (dockerd's bind mount
// of its data root, libnetwork's exec-root/netns/default, overlay layers).
func unmountUnder(dirs ...string) error {
	var errs []error
	for range 8 { // stacked mounts need several passes
		ms := mountsUnder(dirs...)
		if len(ms) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, m := range ms {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
			}
		}
	}
	if ms := mountsUnder(dirs...); len(ms) > 0 {
		errs = append(errs, fmt.Errorf("still mounted: %s", strings.Join(ms, ", ")))
	}
	return errors.Join(errs...)
}

// waitGone waits for killed processes to exit, until ctx ends.
func waitGone(ctx context.Context, dirs ...string) {
	for len(leftover.Processes(dirs...)) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// cgroupMounts lists the mount points of the host's cgroup hierarchies
// (v1 controllers, the hybrid unified tree, or a pure v2 root).
func cgroupMounts() []string {
	l, err := cgroups.HostLayout()
	if err != nil {
		return nil
	}
	var out []string
	for _, h := range l.Hierarchies {
		out = append(out, h.Mountpoint)
	}
	return out
}

// removeCgroup removes cgroup name and its children in every hierarchy.
// Cgroup directories go with rmdir only, innermost first; a cgroup whose
// last process is still exiting is busy for a moment, so it retries.
func removeCgroup(name string) error {
	var errs []error
	for _, top := range leftover.CgroupDirs(name) {
		var dirs []string
		_ = filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			var err error
			for range 50 {
				if err = unix.Rmdir(dirs[i]); err == nil || errors.Is(err, unix.ENOENT) || !errors.Is(err, unix.EBUSY) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// netnsState is /run/netns before an engine ran: whether the directory
// existed and whether it was a mount point (the first `ip netns add`, and
// engines that name network namespaces, bind-mount it onto itself).
type netnsState struct {
	existed, mounted bool
}

func isMountPoint(p string) bool {
	ms, err := mountPoints()
	return err == nil && slices.Contains(ms, p)
}

func readNetnsState() (netnsState, error) {
	_, err := os.Stat(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return netnsState{}, fmt.Errorf("stat %s: %w", netnsDir, err)
	}
	return netnsState{existed: err == nil, mounted: isMountPoint(netnsDir)}, nil
}

// madeMount reports whether /run/netns became a mount point since.
func (s netnsState) madeMount() bool { return !s.mounted && isMountPoint(netnsDir) }

// restore undoes the /run/netns mount and directory if they were made since
// and no namespace is named there (one that is belongs to someone else).
func (s netnsState) restore() error {
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", netnsDir, err)
	}
	if len(ents) > 0 {
		return nil
	}
	for i := 0; i < 8 && s.madeMount(); i++ {
		if err := unix.Unmount(netnsDir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", netnsDir, err)
		}
	}
	if !s.existed {
		if err := os.Remove(netnsDir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", netnsDir, err)
		}
	}
	return nil
}
