// Package engine starts private container engines, dockerd (with its
// containerd and containerd-shim-runc-v2) or podman (with conmon), for the
// benchmarks and the engine tests, and takes them down again. It never
// touches a system engine: dockerd gets a private data root, exec root and
// socket; podman a private --root, --runroot, --tmpdir and containers.conf.
// Every container gets a private cgroup parent. Images are made by importing
// the suite's own busybox rootfs (internal/bundle), never pulled. Close
// removes what the engine made on the host and says what is left.
package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/leftover"
)

// Options describe the engine to start.
type Options struct {
	// Kind is "docker" or "podman".
	Kind string
	// StateDir holds the engine's data root, image tarball and logs.
	StateDir string
	// CgroupParent is the top-level cgroup of every container, made and
	// removed by the engine; empty picks one unique to the instance.
	CgroupParent string
	// Runtimes are OCI runtimes to register besides runc: dockerd
	// --add-runtime, podman's containers.conf [engine.runtimes].
	Runtimes []Runtime
	// StorageDriver is the engine's --storage-driver (docker's aufs, say,
	// as seed 000 ran it); empty: docker's default, podman's overlay.
	StorageDriver string
}

// Runtime is an OCI runtime an engine can run containers with.
type Runtime struct {
	// Name is what `run --runtime NAME` selects.
	Name string
	// Path is the binary's absolute path.
	Path string
	// DefaultRoot is the state directory the runtime uses without --root
	// (/run/runc for runc). podman passes no --root, so its containers'
	// state lands there; Close removes it if the engine made it.
	DefaultRoot string
}

// Engine is one private engine instance. Nothing starts until Start.
type Engine struct {
	opts Options

	mu      sync.Mutex
	started bool
	err     error // why the engine cannot run here, once started

	cli    string   // docker or podman client binary
	global []string // options before the subcommand
	env    []string // added to the client's environment
	dir    string   // data root, image tarball, logs (on disk, under StateDir)
	runDir string   // exec root, socket, runroot (tmpfs under /run)
	cgroup string   // cgroup parent of every container, removed in Close
	// imported is set once the image is in the engine's store.
	imported bool
	daemon   *exec.Cmd
	exited   chan struct{} // closed when the daemon process has been reaped
	created  []string      // host paths the engine made as a side effect, removed in Close
	netns    netnsState
}

// Image is the name under which every engine instance holds the suite's
// busybox rootfs: each has its own store.
const Image = "nsbench-suite:latest"

// New returns the engine of o.Kind, not yet started.
func New(o Options) *Engine {
	return &Engine{opts: o}
}

// Kind is "docker" or "podman".
func (e *Engine) Kind() string { return e.opts.Kind }

// Package is the Debian package that brings the engine's client.
func Package(kind string) string {
	if kind == "docker" {
		return "docker.io"
	}
	return kind
}

// Start starts the engine the first time it is called and returns the exact
// reason when that fails (then and on every later call).
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		e.started = true
		e.err = e.start(ctx)
	}
	return e.err
}

func (e *Engine) start(ctx context.Context) (err error) {
	kind := e.opts.Kind
	if kind != "docker" && kind != "podman" {
		return fmt.Errorf("unknown engine %q: want docker or podman", kind)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s: needs root to run its engine", kind)
	}
	cli, err := exec.LookPath(kind)
	if err != nil {
		return fmt.Errorf("%s is not installed (apt-get install %s): %w", kind, Package(kind), err)
	}
	e.cli = cli
	if d := e.opts.StorageDriver; d != "" && (strings.ContainsAny(d, "=\"\n /") || strings.HasPrefix(d, "-")) {
		return fmt.Errorf("%s: storage driver %q: want a driver name such as overlay2, aufs or vfs", kind, d)
	}
	for _, r := range e.opts.Runtimes {
		if r.Name == "" || strings.ContainsAny(r.Name, "=\"\n ") {
			return fmt.Errorf("%s: runtime name %q: use letters, digits and dashes", kind, r.Name)
		}
		if !filepath.IsAbs(r.Path) {
			return fmt.Errorf("%s: runtime %s: %q is not an absolute path", kind, r.Name, r.Path)
		}
		if _, err := os.Stat(r.Path); err != nil {
			return fmt.Errorf("%s: runtime %s: %w", kind, r.Name, err)
		}
	}
	// Remember what exists before the engine runs, so Close removes only
	// what the engine made.
	e.created = missing(e.sideEffectPaths())
	if e.netns, err = readNetnsState(); err != nil {
		return err
	}
	if err := os.MkdirAll(e.opts.StateDir, 0o755); err != nil {
		return fmt.Errorf("%s: create state dir %s: %w", kind, e.opts.StateDir, err)
	}
	if e.dir, err = mkdirTemp(e.opts.StateDir, kind+"-"); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	// A unix socket path must fit in 108 bytes: keep it short, under /run.
	if e.runDir, err = mkdirTemp("/run", "nsbench-"+kind+"-"); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	if e.cgroup = e.opts.CgroupParent; e.cgroup == "" {
		e.cgroup = "nsbench-" + filepath.Base(e.runDir)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.stop())
		}
	}()
	if kind == "docker" {
		err = e.startDocker(ctx)
	} else {
		err = e.startPodman()
	}
	if err != nil {
		return err
	}
	return e.importImage(ctx)
}

// importImage imports the suite's busybox rootfs as the engine's image.
func (e *Engine) importImage(ctx context.Context) error {
	kind := e.opts.Kind
	b, err := bundle.New(filepath.Join(e.dir, "image"), bundle.Options{})
	if err != nil {
		return fmt.Errorf("%s: make rootfs: %w", kind, err)
	}
	// /data is where "rootfs" jobs write (in the container's own layer),
	// /nsbench where the job's binary is bind-mounted.
	for _, d := range []string{"data", "nsbench"} {
		p := filepath.Join(b.Rootfs(), d)
		if err := os.Mkdir(p, 0o755); err != nil {
			return fmt.Errorf("%s: create %s: %w", kind, p, err)
		}
		if err := os.Chmod(p, 0o777); err != nil {
			return fmt.Errorf("%s: chmod %s: %w", kind, p, err)
		}
	}
	tarball := filepath.Join(e.dir, "rootfs.tar")
	tarCmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", b.Rootfs(), "-cf", tarball, ".")
	if out, err := tarCmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: tar %s: %w: %s", kind, b.Rootfs(), err, tail(string(out)))
	}
	if _, err := e.Cmd(ctx, "import", tarball, Image); err != nil {
		return fmt.Errorf("%s: import %s: %w", kind, tarball, err)
	}
	e.imported = true
	return nil
}

// Image is the reference of the suite's image in this engine: podman
// imports into localhost/.
func (e *Engine) Image() string {
	if e.opts.Kind == "podman" {
		return "localhost/" + Image
	}
	return Image
}

// CgroupParent is the cgroup under which the engine puts every container.
func (e *Engine) CgroupParent() string {
	if e.cgroup == "" {
		return e.opts.CgroupParent
	}
	return e.cgroup
}

// Command is the client command line with the engine's global options and
// environment, for callers that need its stdio (a terminal, say).
func (e *Engine) Command(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, e.cli, append(slices.Clone(e.global), args...)...)
	// The engine's own directory as the working directory: conmon 2.1.6
	// writes its "oom" marker file into the working directory it inherits
	// from podman (the caller's, otherwise), where Close would not find it.
	c.Dir = e.dir
	if len(e.env) > 0 {
		c.Env = append(os.Environ(), e.env...)
	}
	c.WaitDelay = 5 * time.Second
	return c
}

// Cmd runs the engine's client and returns its standard output; the error
// carries the end of its standard error.
func (e *Engine) Cmd(ctx context.Context, args ...string) ([]byte, error) {
	c := e.Command(ctx, args...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", e.opts.Kind, strings.Join(args, " "), err, tail(stderr.String()))
	}
	return out, nil
}

// ContainerArgs are `run`/`create` options every container of this engine
// needs: file and process limits this host's hard limits allow (podman's
// default nofile of 1048576 is above them), and for podman what dockerd
// has as daemon options: never pull, the engine's cgroup parent.
func (e *Engine) ContainerArgs() []string {
	a := []string{"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"}
	if e.opts.Kind == "podman" {
		a = append(a, "--pull", "never", "--cgroup-parent", "/"+e.CgroupParent())
	}
	return a
}

// Version is the engine's version, "" when it does not run.
func (e *Engine) Version(ctx context.Context) string {
	if e.Start(ctx) != nil {
		return ""
	}
	format := "{{.Server.Version}}"
	if e.opts.Kind == "podman" {
		format = "{{.Client.Version}}"
	}
	out, err := e.Cmd(ctx, "version", "--format", format)
	if err != nil {
		return ""
	}
	v := e.opts.Kind + " " + strings.TrimSpace(string(out))
	if e.opts.StorageDriver != "" {
		v += " (storage " + e.opts.StorageDriver + ")"
	}
	return v
}

// Close removes every container, stops the engine, and removes what it left
// on the host (mounts under its directories, its cgroup parent, directories
// it made, a /run/netns mount it made). It then checks that nothing of the
// engine is left and says what is. Start fails after Close.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started || e.runDir == "" {
		e.started, e.err = true, fmt.Errorf("%s: closed", e.opts.Kind)
		return nil
	}
	err := e.stop()
	e.started, e.err = true, fmt.Errorf("%s: closed", e.opts.Kind)
	return err
}

func (e *Engine) stop() error {
	kind := e.opts.Kind
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	if e.imported && (kind == "podman" || e.daemon != nil) {
		if out, err := e.Cmd(ctx, "ps", "-aq"); err == nil && len(bytes.TrimSpace(out)) > 0 {
			_, err := e.Cmd(ctx, append([]string{"rm", "-f"}, strings.Fields(string(out))...)...)
			errs = append(errs, err)
		}
	}
	if e.daemon != nil {
		errs = append(errs, e.stopDaemon())
		e.daemon = nil
	}
	// containerd and its shims, conmon: children of the engine that outlived
	// it. Only processes naming our own directories are ours.
	for _, p := range leftover.Processes(e.dir, e.runDir) {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
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
			errs = append(errs, fmt.Errorf("%s: remove %s: %w", kind, d, err))
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
			errs = append(errs, fmt.Errorf("%s: remove %s: %w", kind, p, err))
		}
	}
	e.created = slices.DeleteFunc(e.created, func(p string) bool { return slices.Contains(kept, p) })
	// Engines share these directories: one that started while another ran
	// found them and did not count them as its own, and the other could not
	// remove them while they were in use. When no engine runs any more, an
	// empty one is nobody's.
	if !engineRunning() {
		paths := e.sideEffectPaths()
		for i := len(paths) - 1; i >= 0; i-- {
			if ents, err := os.ReadDir(paths[i]); err == nil && len(ents) == 0 {
				_ = os.Remove(paths[i])
			}
		}
	}
	if left := e.leftovers(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("%s: left on the host after stopping: %s", kind, strings.Join(left, "; ")))
	}
	return errors.Join(errs...)
}

// leftovers lists what of this engine is still on the host.
func (e *Engine) leftovers() []string {
	// The daemons and shims get the engine's directories as arguments.
	left := leftover.Scope{
		MountsUnder: []string{e.dir, e.runDir},
		Cmdlines:    []string{e.dir, e.runDir},
		Cgroups:     []string{e.cgroup},
		Paths:       append([]string{e.dir, e.runDir}, e.created...),
	}.List()
	if e.netns.madeMount() {
		left = append(left, "mount "+netnsDir)
	}
	return left
}

// podmanBlobCache holds only podman's blob info cache file.
const podmanBlobCache = "/var/lib/containers/cache"

// sideEffectPaths are directories the engine creates on the host whatever
// its options say: containerd's shim socket directory, dockerd's plugin
// directory, the OCI runtimes' default state roots (podman passes no
// --root to them; its cleanup process would not pass one either), podman's
// blob info cache. Parents come before children.
func (e *Engine) sideEffectPaths() []string {
	paths := SideEffectPaths(e.opts.Kind)
	if e.opts.Kind == "podman" {
		for _, r := range e.opts.Runtimes {
			if r.DefaultRoot != "" && !slices.Contains(paths, r.DefaultRoot) {
				paths = append(paths, r.DefaultRoot)
			}
		}
	}
	return paths
}

// SideEffectPaths are the directories an engine of kind makes on the host
// with runc as its only runtime (see Engine.sideEffectPaths).
func SideEffectPaths(kind string) []string {
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

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// mkdirTemp is os.MkdirTemp with the operation in the error.
func mkdirTemp(dir, pattern string) (string, error) {
	d, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", fmt.Errorf("create temporary directory in %s: %w", dir, err)
	}
	return d, nil
}
