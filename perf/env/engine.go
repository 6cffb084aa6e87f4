package env

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/runtime/network"
)

// Engine runs jobs through a container engine, docker or podman, that the
// adapter brings up for itself and takes down again in Close. It never
// touches a system engine: dockerd gets a private data root, exec root and
// socket; podman a private --root, --runroot and --tmpdir. Images are made by
// importing the suite's own busybox rootfs (internal/bundle), never pulled.
type Engine struct {
	kind     string // "docker" or "podman"
	stateDir string

	mu      sync.Mutex
	started bool
	err     error // why the engine cannot run here, once started

	cli     string   // docker or podman client binary
	global  []string // options before the subcommand
	dir     string   // data root, image tarball, logs (on disk, under stateDir)
	runDir  string   // exec root, socket, runroot (tmpfs under /run)
	cgroup  string   // cgroup parent of every container, removed in Close
	image   string
	daemon  *exec.Cmd
	exited  chan struct{} // closed when the daemon process has been reaped
	created []string      // host paths the engine made as a side effect, removed in Close
	netns   netnsState
}

// The image name is the same in every engine instance: each has its own store.
const engineImage = "nsbench-suite:latest"

// NewEngine returns the adapter of kind "docker" or "podman". Nothing starts
// until Available (or Run) is called.
func NewEngine(kind, stateDir string) *Engine {
	return &Engine{kind: kind, stateDir: stateDir}
}

// Name implements Env.
func (e *Engine) Name() string { return e.kind }

func (e *Engine) pkg() string {
	if e.kind == "docker" {
		return "docker.io"
	}
	return e.kind
}

// Available implements Env: it starts the engine the first time and returns
// the exact reason when that fails.
func (e *Engine) Available(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		e.started = true
		e.err = e.start(ctx)
	}
	return e.err
}

func (e *Engine) start(ctx context.Context) (err error) {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s: needs root to run its engine (run make bench as root)", e.kind)
	}
	cli, err := exec.LookPath(e.kind)
	if err != nil {
		return fmt.Errorf("%s is not installed (apt-get install %s): %w", e.kind, e.pkg(), err)
	}
	e.cli = cli
	// Remember what exists before the engine runs, so Close removes only
	// what the engine made.
	e.created = missing(sideEffectPaths(e.kind))
	if e.netns, err = readNetnsState(); err != nil {
		return err
	}
	if err := os.MkdirAll(e.stateDir, 0o755); err != nil {
		return fmt.Errorf("%s: create state dir %s: %w", e.kind, e.stateDir, err)
	}
	if e.dir, err = mkdirTemp(e.stateDir, e.kind+"-"); err != nil {
		return fmt.Errorf("%s: %w", e.kind, err)
	}
	// A unix socket path must fit in 108 bytes: keep it short, under /run.
	if e.runDir, err = mkdirTemp("/run", "nsbench-"+e.kind+"-"); err != nil {
		return fmt.Errorf("%s: %w", e.kind, err)
	}
	e.cgroup = "nsbench-" + filepath.Base(e.runDir)
	defer func() {
		if err != nil {
			err = errors.Join(err, e.stop())
		}
	}()
	switch e.kind {
	case "docker":
		err = e.startDocker(ctx)
	case "podman":
		err = e.startPodman()
	default:
		err = fmt.Errorf("unknown engine %q", e.kind)
	}
	if err != nil {
		return err
	}
	return e.importImage(ctx)
}

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

// cmd runs the engine's client with the adapter's global options.
func (e *Engine) cmd(ctx context.Context, args ...string) ([]byte, error) {
	c := exec.CommandContext(ctx, e.cli, append(append([]string(nil), e.global...), args...)...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	c.WaitDelay = 5 * time.Second
	out, err := c.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", e.kind, strings.Join(args, " "), err, tail(stderr.String()))
	}
	return out, nil
}

// Version implements Env.
func (e *Engine) Version(ctx context.Context) string {
	if e.Available(ctx) != nil {
		return ""
	}
	format := "{{.Server.Version}}"
	if e.kind == "podman" {
		format = "{{.Client.Version}}"
	}
	out, err := e.cmd(ctx, "version", "--format", format)
	if err != nil {
		return ""
	}
	v := e.kind + " " + strings.TrimSpace(string(out))
	if e.kind == "podman" {
		v += " (runc)"
	}
	return v
}

// RunArgs is the client command line (after the global options) that runs
// job in container name: removed when it exits, the host's /usr, /lib and
// /lib64 read-only for the dynamically linked tools, the job's program
// bind-mounted when it is not under /usr, a tmpfs on /tmp, the same file
// and process limits as the OCI environments.
func (e *Engine) RunArgs(name string, job Job) []string {
	network := "none"
	if job.HostNetwork {
		network = "host"
	}
	return e.runArgs(name, job, network)
}

// containerArgs are the run options of every container: the limits of the
// OCI environments (podman cannot set its default ones on this host), and
// for podman what dockerd has as daemon options: never pull, the adapter's
// cgroup parent.
func (e *Engine) containerArgs() []string {
	a := []string{"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"}
	if e.kind == "podman" {
		a = append(a, "--pull", "never", "--cgroup-parent", "/"+e.cgroup)
	}
	return a
}

func (e *Engine) runArgs(name string, job Job, network string) []string {
	a := []string{"run", "--rm", "--name", name}
	a = append(a, e.containerArgs()...)
	a = append(a, "--tmpfs", "/tmp:rw,nosuid,nodev,mode=1777,size=64m", "--network", network)
	for _, d := range []string{"/usr", "/lib", "/lib64"} {
		if _, err := os.Stat(d); err == nil {
			a = append(a, "-v", d+":"+d+":ro")
		}
	}
	prog := job.Args[0]
	inside := prog
	if !strings.HasPrefix(prog, "/usr/") {
		inside = "/nsbench/" + filepath.Base(prog)
		a = append(a, "-v", prog+":"+inside+":ro")
	}
	dataInside := ""
	if job.Data != nil {
		dataInside = "/data"
		switch job.Data.Kind {
		case "bind":
			a = append(a, "-v", job.Data.Host+":/data")
		case "tmpfs":
			a = append(a, "--tmpfs", "/data:rw,nosuid,nodev,size=1g")
		}
		// "rootfs": the image's /data, in the container's writable layer
	}
	args := substitute(job.Args, dataInside)
	args[0] = inside
	a = append(a, e.image)
	return append(a, args...)
}

// Run implements Env.
func (e *Engine) Run(ctx context.Context, job Job) (_ []byte, rerr error) {
	if err := e.Available(ctx); err != nil {
		return nil, err
	}
	if len(job.Args) == 0 {
		return nil, fmt.Errorf("%s: empty command", e.kind)
	}
	name := randomID("nsbench-")
	args := e.RunArgs(name, job)
	if job.Bridge != nil {
		holder, detach, err := e.attachHolder(ctx, job.Bridge)
		if err != nil {
			return nil, err
		}
		defer func() {
			if derr := detach(); derr != nil && rerr == nil {
				rerr = derr
			}
		}()
		args = e.runArgs(name, job, "container:"+holder)
	}
	out, err := e.cmd(ctx, args...)
	if err != nil {
		// A cancelled client leaves its container running: remove it.
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = e.cmd(rctx, "rm", "-f", name)
		return out, err
	}
	return out, nil
}

// attachHolder puts a job on the nsnet bridge the way an engine's own
// network plugins do: `run` starts the process with no step at which a hook
// could attach it, so a holder container (busybox sleep, --network none)
// owns the network namespace, runtime/network attaches that namespace to the
// bridge, and the job joins it with --network container:<holder>. detach
// removes the holder and the veth and releases the lease.
func (e *Engine) attachHolder(ctx context.Context, br *Bridge) (holder string, detach func() error, err error) {
	holder = randomID("nsbench-net-")
	args := append([]string{"run", "-d", "--name", holder, "--network", "none"}, e.containerArgs()...)
	args = append(args, e.image, "/bin/sleep", "86400")
	detach = func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Detach first: removing the holder destroys its namespace, and the
		// kernel then deletes the veth pair under a running Teardown.
		terr := teardown(dctx, br.Network, holder)
		_, rmErr := e.cmd(dctx, "rm", "-f", holder)
		return errors.Join(terr, rmErr)
	}
	if _, err := e.cmd(ctx, args...); err != nil {
		return "", nil, errors.Join(fmt.Errorf("%s: start network holder: %w", e.kind, err), detach())
	}
	out, err := e.cmd(ctx, "inspect", "-f", "{{.State.Pid}}", holder)
	if err != nil {
		return "", nil, errors.Join(err, detach())
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("%s: pid of network holder %s: %q: %w", e.kind, holder, out, err), detach())
	}
	if _, err := network.Setup(ctx, br.Network, holder, pid, br.Address); err != nil {
		return "", nil, errors.Join(fmt.Errorf("%s: attach %s to bridge %s: %w", e.kind, holder, br.Network.Bridge, err), detach())
	}
	return holder, detach, nil
}

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

func tailFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	return tail(string(b))
}
