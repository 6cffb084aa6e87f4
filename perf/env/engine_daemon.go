package env

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nsbench/nsbench/internal/bundle"
)

// The engines themselves: dockerd started with private roots and socket, podman's
// private global options, the suite's image imported, the daemon stopped.

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
	// bridge: jobs use --network none or host, and the host stays as it was.
	cmd := exec.Command(dockerd,
		"--config-file", cfg,
		"--data-root", filepath.Join(e.dir, "data"),
		"--exec-root", e.runDir,
		"--pidfile", filepath.Join(e.runDir, "docker.pid"),
		"-H", "unix://"+sock,
		"--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
		"--bridge=none", "--userland-proxy=false",
		"--cgroup-parent", e.cgroup,
		"--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a terminal's Ctrl-C reaches nsbench, which then
	// stops the daemon in order instead of having it die mid-job.
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
		if _, err := e.cmd(wctx, "version"); err == nil {
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

func (e *Engine) startPodman() error {
	// crun 1.8.1 refuses this host's hybrid cgroup layout (see
	// internal/oci.hideCgroup2); runc runs podman's containers here. There is
	// no systemd, so podman manages cgroupfs itself, and no journal for events.
	runtime := "runc"
	if _, err := exec.LookPath(runtime); err != nil {
		return fmt.Errorf("podman: runc is not installed (apt-get install runc): %w", err)
	}
	e.global = []string{
		"--root", filepath.Join(e.dir, "root"),
		"--runroot", filepath.Join(e.runDir, "run"),
		"--tmpdir", filepath.Join(e.runDir, "tmp"),
		"--runtime", runtime,
		"--cgroup-manager", "cgroupfs",
		"--events-backend", "none",
		"--storage-driver", "overlay",
	}
	return nil
}

// importImage imports the suite's busybox rootfs as the engine's image.
func (e *Engine) importImage(ctx context.Context) error {
	b, err := bundle.New(filepath.Join(e.dir, "image"), bundle.Options{})
	if err != nil {
		return fmt.Errorf("%s: make rootfs: %w", e.kind, err)
	}
	// /data is where "rootfs" jobs write (in the container's own layer),
	// /nsbench where the job's binary is bind-mounted.
	for _, d := range []string{"data", "nsbench"} {
		p := filepath.Join(b.Rootfs(), d)
		if err := os.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("%s: create %s: %w", e.kind, p, err)
		}
		if err := os.Chmod(p, 0o777); err != nil {
			return fmt.Errorf("%s: chmod %s: %w", e.kind, p, err)
		}
	}
	tarball := filepath.Join(e.dir, "rootfs.tar")
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", b.Rootfs(), "-cf", tarball, ".")
	if out, err := tarCmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: tar %s: %w: %s", e.kind, b.Rootfs(), err, tail(string(out)))
	}
	if _, err := e.cmd(ctx, "import", tarball, engineImage); err != nil {
		return fmt.Errorf("%s: import %s: %w", e.kind, tarball, err)
	}
	e.image = engineImage
	if e.kind == "podman" {
		e.image = "localhost/" + engineImage
	}
	return nil
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

func tailFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	return tail(string(b))
}
