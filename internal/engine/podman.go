package engine

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// startPodman sets podman's global options: podman has no daemon, each
// client command runs the containers through conmon.
func (e *Engine) startPodman() error {
	// crun 1.8.1 refuses this host's hybrid cgroup layout (see
	// internal/oci.Cgroup2Wrapper); runc runs podman's containers here. There is
	// no systemd, so podman manages cgroupfs itself, and no journal for events.
	if _, err := exec.LookPath("runc"); err != nil {
		return fmt.Errorf("podman: runc is not installed (apt-get install runc): %w", err)
	}
	// A private containers.conf: the host's must not change this instance,
	// and the extra runtimes are registered there, so every later command
	// (and podman's own cleanup process) finds a container's runtime by name.
	var conf strings.Builder
	// netns "none": a container that names no network gets none, as
	// dockerd's --bridge=none gives; podman's default would make its CNI
	// bridge (cni-podman0) and firewall chains on the host and keep them.
	conf.WriteString("[containers]\nnetns = \"none\"\n\n[engine]\nruntime = \"runc\"\n\n[engine.runtimes]\n")
	for _, r := range e.opts.Runtimes {
		fmt.Fprintf(&conf, "%s = [%s]\n", r.Name, strconv.Quote(r.Path))
	}
	confPath := filepath.Join(e.dir, "containers.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		return fmt.Errorf("podman: write %s: %w", confPath, err)
	}
	// TMPDIR: podman stages imported images and new containers' layers
	// in a temporary directory, by default the host's /var/tmp (absent in
	// a VM guest); a private one is removed with the state.
	tmp := filepath.Join(e.dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("podman: create %s: %w", tmp, err)
	}
	e.env = []string{"CONTAINERS_CONF=" + confPath, "TMPDIR=" + tmp}
	e.global = []string{
		"--root", filepath.Join(e.dir, "root"),
		"--runroot", filepath.Join(e.runDir, "run"),
		"--tmpdir", filepath.Join(e.runDir, "tmp"),
		"--cgroup-manager", "cgroupfs",
		"--events-backend", "none",
		"--storage-driver", cmp.Or(e.opts.StorageDriver, "overlay"),
	}
	return nil
}
