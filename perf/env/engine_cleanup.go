package env

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Taking an engine down: containers, daemon, leftover processes, mounts,
// cgroups and the directories engines create whatever their options say, then
// checking that nothing is left.

// Close implements Env: it removes every container, stops the engine, and
// removes what it left on the host (mounts under its directories, its cgroup
// parent, directories it made, a /run/netns mount it made). It then checks
// that nothing of the engine is left and says what is.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started || e.runDir == "" {
		return nil
	}
	err := e.stop()
	e.started, e.err = true, fmt.Errorf("%s: closed", e.kind)
	return err
}

func (e *Engine) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	if e.image != "" && (e.kind == "podman" || e.daemon != nil) {
		if out, err := e.cmd(ctx, "ps", "-aq"); err == nil && len(bytes.TrimSpace(out)) > 0 {
			_, err := e.cmd(ctx, append([]string{"rm", "-f"}, strings.Fields(string(out))...)...)
			errs = append(errs, err)
		}
	}
	if e.daemon != nil {
		errs = append(errs, e.stopDaemon())
		e.daemon = nil
	}
	// containerd and its shims, conmon: children of the engine that outlived
	// it. Only processes naming our own directories are ours.
	for _, pid := range processesUsing(e.dir, e.runDir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(ctx, e.dir, e.runDir)
	errs = append(errs, unmountUnder(e.dir, e.runDir))
	errs = append(errs, e.netns.restore())
	errs = append(errs, removeCgroup(e.cgroup))
	for _, d := range []string{e.dir, e.runDir} {
		if d == "" {
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, fmt.Errorf("%s: remove %s: %w", e.kind, d, err))
		}
	}
	// Deepest first: a created parent goes only once its children are gone.
	// A directory someone else has put something into since is theirs now.
	var kept []string
	for i := len(e.created) - 1; i >= 0; i-- {
		p := e.created[i]
		rm := os.Remove
		if p == podmanBlobCache {
			rm = os.RemoveAll // holds only podman's cache file
		}
		switch err := rm(p); {
		case err == nil, errors.Is(err, os.ErrNotExist):
		case errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.EEXIST):
			kept = append(kept, p)
		default:
			errs = append(errs, fmt.Errorf("%s: remove %s: %w", e.kind, p, err))
		}
	}
	e.created = slices.DeleteFunc(e.created, func(p string) bool { return slices.Contains(kept, p) })
	// Engines share these directories: one that started while another ran
	// found them and did not count them as its own, and the other could not
	// remove them while they were in use. When no engine runs any more, an
	// empty one is nobody's.
	if !engineRunning() {
		paths := sideEffectPaths(e.kind)
		for i := len(paths) - 1; i >= 0; i-- {
			if ents, err := os.ReadDir(paths[i]); err == nil && len(ents) == 0 {
				_ = os.Remove(paths[i])
			}
		}
	}
	if left := e.leftovers(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("%s: left on the host after stopping: %s", e.kind, strings.Join(left, "; ")))
	}
	return errors.Join(errs...)
}

// engineRunning tells whether any container engine process runs on the
// host (zombies, already gone, aside).
func engineRunning() bool {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: assume one does
	}
	for _, ent := range ents {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ...": comm may hold spaces and parentheses
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open || end+2 >= len(stat) || stat[end+2] == 'Z' {
			continue
		}
		comm := string(stat[open+1 : end])
		if slices.Contains([]string{"dockerd", "containerd", "conmon", "podman"}, comm) || strings.HasPrefix(comm, "containerd-shim") {
			return true
		}
	}
	return false
}

// leftovers lists what of this engine is still on the host.
func (e *Engine) leftovers() []string {
	var left []string
	for _, m := range mountsUnder(e.dir, e.runDir) {
		left = append(left, "mount "+m)
	}
	for _, pid := range processesUsing(e.dir, e.runDir) {
		left = append(left, fmt.Sprintf("process %d", pid))
	}
	for _, c := range cgroupDirs(e.cgroup) {
		left = append(left, "cgroup "+c)
	}
	for _, p := range append([]string{e.dir, e.runDir}, e.created...) {
		if _, err := os.Lstat(p); err == nil {
			left = append(left, "path "+p)
		}
	}
	if e.netns.madeMount() {
		left = append(left, "mount "+netnsDir)
	}
	return left
}

// sideEffectPaths are directories the engine creates on the host whatever
// its options say: containerd's shim socket directory, dockerd's plugin
// directory, runc's default state root (podman does not pass --root to
// runc), podman's blob info cache. Parents come before children.
const podmanBlobCache = "/var/lib/containers/cache"

func sideEffectPaths(kind string) []string {
	switch kind {
	case "docker":
		return []string{"/run/containerd", "/run/containerd/s", "/run/docker", "/run/docker/plugins"}
	case "podman":
		return []string{"/run/runc", "/var/lib/containers", podmanBlobCache}
	}
	return nil
}

// missing returns the paths that do not exist now.
func missing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			out = append(out, p)
		}
	}
	return out
}
