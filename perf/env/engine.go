package env

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/engine"
	"github.com/nsbench/nsbench/runtime/cgroups"
)

// Engine runs jobs through a container engine, docker or podman, that
// internal/engine brings up privately and takes down again in Close.
type Engine struct {
	*engine.Engine
	name string
}

// NewEngine returns the adapter of kind "docker" or "podman" with the
// engine's default storage driver, or storage. Nothing starts until
// Available (or Run) is called.
func NewEngine(kind, stateDir, storage string) *Engine {
	name := kind
	if storage != "" {
		name += ":storage=" + storage
	}
	return &Engine{engine.New(engine.Options{Kind: kind, StateDir: stateDir, StorageDriver: storage}), name}
}

// Name implements Env: the kind, and the storage driver when one was
// chosen ("docker:storage=aufs").
func (e *Engine) Name() string { return e.name }

// Available implements Env: it starts the engine the first time and returns
// the exact reason when that fails.
func (e *Engine) Available(ctx context.Context) error { return e.Start(ctx) }

// Version implements Env.
func (e *Engine) Version(ctx context.Context) string {
	v := e.Engine.Version(ctx)
	if v != "" && e.Kind() == "podman" {
		v += " (runc)"
	}
	return v
}

// Close implements Env.
func (e *Engine) Close() error { return e.Engine.Close() }

// CPUTime is the CPU time the engine's containers have used so far, from
// the cgroup parent every container of this engine is created under (v1
// cpuacct, or v2 cpu.stat): a container's processes are not nsbench's
// children, so rusage does not see them. ok is false before the engine ran
// or where the cgroup has no CPU accounting.
func (e *Engine) CPUTime() (user, sys time.Duration, ok bool) {
	parent := e.CgroupParent()
	if parent == "" {
		return 0, 0, false
	}
	l, err := cgroups.HostLayout()
	if err != nil {
		return 0, 0, false
	}
	for _, h := range l.Hierarchies {
		d := filepath.Join(h.Mountpoint, parent)
		if !h.V2 && slices.Contains(h.Controllers, "cpuacct") {
			u, err1 := readInt(filepath.Join(d, "cpuacct.usage_user"))
			s, err2 := readInt(filepath.Join(d, "cpuacct.usage_sys"))
			if err1 == nil && err2 == nil {
				return time.Duration(u), time.Duration(s), true
			}
		}
		if h.V2 {
			b, err := os.ReadFile(filepath.Join(d, "cpu.stat"))
			if err != nil {
				continue
			}
			var u, s int64
			var okU, okS bool
			for _, l := range strings.Split(string(b), "\n") {
				k, v, _ := strings.Cut(l, " ")
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				switch {
				case err != nil:
				case k == "user_usec":
					u, okU = n, true
				case k == "system_usec":
					s, okS = n, true
				}
			}
			if okU && okS {
				return time.Duration(u) * time.Microsecond, time.Duration(s) * time.Microsecond, true
			}
		}
	}
	return 0, 0, false
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}
