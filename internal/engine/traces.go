package engine

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nsbench/nsbench/internal/procfs"

	"github.com/nsbench/nsbench/internal/flock"
)

// Traces is what an engine could leave behind: mount points, network
// interfaces, named network namespaces, top-level cgroups, engine processes
// and the directories engines make by default. Other tests run on this
// machine at the same time, so only what an engine could have made counts.
// Tests compare a reading before an engine starts with one after Close.
type Traces struct {
	Mounts, Links, Netns, Cgroups, Procs, Paths []string
}

func containsAny(s string, subs ...string) bool {
	return slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(s, sub) })
}

// HostTraces reads the host's Traces now. extraPaths are further host
// paths to report when they exist (the default state roots of the
// runtimes an engine was given).
func HostTraces(extraPaths ...string) (Traces, error) {
	var h Traces
	mounts, err := mountPoints()
	if err != nil {
		return h, err
	}
	for _, m := range mounts {
		// Not all of /nsbench-: the conformance suite, in parallel with
		// the engines, mounts under /tmp/nsbench-conformance-*.
		if containsAny(m, "docker", "podman", "containers", "libpod", "overlay", netnsDir, "/run/runc", "/run/containerd", "/nsbench-docker-", "/nsbench-podman-") {
			h.Mounts = append(h.Mounts, m)
		}
	}
	slices.Sort(h.Mounts)
	ifs, err := net.Interfaces()
	if err != nil {
		return h, fmt.Errorf("list network interfaces: %w", err)
	}
	for _, i := range ifs {
		if containsAny(i.Name, "docker", "veth", "cni", "podman", "br-") {
			h.Links = append(h.Links, i.Name)
		}
	}
	if ents, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range ents {
			if containsAny(e.Name(), "netns-", "cni-") { // podman's and CNI's names
				h.Netns = append(h.Netns, e.Name())
			}
		}
	}
	for _, top := range cgroupMounts() {
		ents, _ := os.ReadDir(top)
		for _, e := range ents {
			// other tests may make cgroups meanwhile; the engines' are ours
			if e.IsDir() && strings.HasPrefix(e.Name(), "nsbench-") {
				h.Cgroups = append(h.Cgroups, filepath.Join(top, e.Name()))
			}
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		comm, err := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
		if err != nil || zombie(p.Name()) {
			continue // a zombie is gone already; init reaps it
		}
		if c := strings.TrimSpace(string(comm)); IsEngineProcess(c) {
			h.Procs = append(h.Procs, p.Name()+" "+c)
		}
	}
	paths := append(SideEffectPaths("docker"), SideEffectPaths("podman")...)
	for _, p := range append(paths, extraPaths...) {
		if _, err := os.Lstat(p); err == nil {
			h.Paths = append(h.Paths, p)
		}
	}
	return h, nil
}

func zombie(pid string) bool {
	n, err := strconv.Atoi(pid)
	if err != nil {
		return true
	}
	st, err := procfs.ReadStat(n)
	return err != nil || st.State == 'Z'
}

// LockHost serialises the users of engines across processes (go test runs
// packages in parallel): each checks that the host is left as it found it,
// which another package's engine would spoil. The lock is on the temporary
// directory itself, so there is no lock file to leave; unlock releases it.
func LockHost(ctx context.Context) (unlock func(), err error) {
	return flock.LockDir(ctx, os.TempDir())
}
