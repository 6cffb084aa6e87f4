package env

import (
	"context"
	"fmt"
	"os/exec"
)

// Engine stands for docker and podman. Running jobs through an engine (a
// suite image imported from the bundle's rootfs tarball, engine started and
// stopped by the adapter) is not written yet, so the environment reports why
// it is skipped instead of pretending.
type Engine struct{ Cmd string }

// Name implements Env.
func (e Engine) Name() string { return e.Cmd }

// Available implements Env.
func (e Engine) Available(context.Context) error {
	if _, err := exec.LookPath(e.Cmd); err != nil {
		return fmt.Errorf("%s is not installed (apt-get install %s)", e.Cmd, map[string]string{"docker": "docker.io", "podman": "podman"}[e.Cmd])
	}
	return fmt.Errorf("%s adapter: engine runs are not implemented in nsbench yet", e.Cmd)
}

// Version implements Env.
func (e Engine) Version(context.Context) string { return "" }

// Run implements Env.
func (e Engine) Run(ctx context.Context, _ Job) ([]byte, error) {
	return nil, e.Available(ctx)
}
