package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nsbench/nsbench/internal/procfs"
)

// startDocker starts a private dockerd (which starts its own containerd)
// and waits until it answers on its socket.
func (e *Engine) startDocker(ctx context.Context) error {
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return fmt.Errorf("docker: dockerd is not installed (apt-get install docker.io): %w", err)
	}
	sock := filepath.Join(e.runDir, "docker.sock")
	e.global = []string{"-H", "unix://" + sock}
	// An empty config file: /etc/docker/daemon.json must not change this
	// daemon, and no flag below may conflict with it.
	cfg := filepath.Join(e.dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o644); err != nil {
		return fmt.Errorf("docker: write %s: %w", cfg, err)
	}
	logPath := filepath.Join(e.dir, "dockerd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("docker: create %s: %w", logPath, err)
	}
	defer logf.Close()
	// No iptables rules, no forwarding or masquerading sysctls, no docker0
	// bridge: containers use --network none, host or container:, and the
	// host stays as it was.
	args := []string{
		"--config-file", cfg,
		"--data-root", filepath.Join(e.dir, "data"),
		"--exec-root", e.runDir,
		"--pidfile", filepath.Join(e.runDir, "docker.pid"),
		"-H", "unix://" + sock,
		"--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
		"--bridge=none", "--userland-proxy=false",
		"--cgroup-parent", e.cgroup,
		"--log-level", "warn",
	}
	for _, r := range e.opts.Runtimes {
		args = append(args, "--add-runtime", r.Name+"="+r.Path)
	}
	if d := e.opts.StorageDriver; d != "" {
		args = append(args, "--storage-driver", d)
	}
	cmd := exec.Command(dockerd, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a terminal's Ctrl-C reaches the caller, which
	// then stops the daemon in order instead of having it die mid-job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("docker: start %s: %w", dockerd, err)
	}
	e.daemon = cmd
	e.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(e.exited)
	}()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		if _, err := e.Cmd(wctx, "version"); err == nil {
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("docker: dockerd exited during start-up: %s", tailFile(logPath))
		case <-wctx.Done():
			return fmt.Errorf("docker: dockerd did not answer on %s: %w: %s", sock, wctx.Err(), tailFile(logPath))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (e *Engine) stopDaemon() error {
	_ = e.daemon.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
		return nil
	case <-time.After(30 * time.Second):
	}
	_ = e.daemon.Process.Kill()
	<-e.exited
	return fmt.Errorf("docker: dockerd (pid %d) ignored SIGTERM for 30 s and was killed", e.daemon.Process.Pid)
}

// engineRunning tells whether any container engine process runs on the
// host (zombies, already gone, aside).
func engineRunning() bool {
	all, err := procfs.All()
	if err != nil {
		return true // cannot tell: assume one does
	}
	for _, st := range all {
		if !st.Zombie() && IsEngineProcess(st.Comm) {
			return true
		}
	}
	return false
}

// IsEngineProcess tells whether a process named comm belongs to a
// container engine.
func IsEngineProcess(comm string) bool {
	return slices.Contains([]string{"dockerd", "containerd", "conmon", "podman"}, comm) || strings.HasPrefix(comm, "containerd-shim")
}
