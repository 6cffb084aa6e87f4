package env

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Running one job in an engine container: the client command line and the
// container's removal when the client is cancelled.

// RunArgs is the client command line (after the global options) that runs
// job in container name: removed when it exits, the host's /usr, /lib and
// /lib64 read-only for the dynamically linked tools, the job's program
// bind-mounted when it is not under /usr, a tmpfs on /tmp, the same file
// and process limits as the OCI environments (engine.ContainerArgs).
func (e *Engine) RunArgs(name string, job Job) []string {
	network := "none"
	if job.HostNetwork {
		network = "host"
	}
	return e.runArgs(name, job, network)
}

func (e *Engine) runArgs(name string, job Job, network string) []string {
	a := []string{"run", "--rm", "--name", name}
	a = append(a, e.ContainerArgs()...)
	a = append(a, "--tmpfs", "/tmp:rw,nosuid,nodev,mode=1777,size=64m", "--network", network)
	if job.CPUs != "" {
		a = append(a, "--cpuset-cpus", job.CPUs)
	}
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
	a = append(a, e.Image())
	return append(a, args...)
}

// Run implements Env.
func (e *Engine) Run(ctx context.Context, job Job) (_ []byte, rerr error) {
	if err := e.Available(ctx); err != nil {
		return nil, err
	}
	if len(job.Args) == 0 {
		return nil, fmt.Errorf("%s: empty command", e.Kind())
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
	out, err := e.Cmd(ctx, args...)
	if err != nil {
		// A cancelled client leaves its container running: remove it.
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = e.Cmd(rctx, "rm", "-f", name)
		return out, err
	}
	return out, nil
}
