package env

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
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
