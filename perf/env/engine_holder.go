package env

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/runtime/network"
)

// Putting an engine container on the nsnet bridge through a holder container.

// attachHolder puts a job on the nsnet bridge the way an engine's own
// network plugins do: `run` starts the process with no step at which a hook
// could attach it, so a holder container (busybox sleep, --network none)
// owns the network namespace, runtime/network attaches that namespace to the
// bridge, and the job joins it with --network container:<holder>. detach
// removes the holder and the veth and releases the lease.
func (e *Engine) attachHolder(ctx context.Context, br *Bridge) (holder string, detach func() error, err error) {
	holder = randomID("nsbench-net-")
	args := append([]string{"run", "-d", "--name", holder, "--network", "none"}, e.ContainerArgs()...)
	args = append(args, e.Image(), "/bin/sleep", "86400")
	detach = func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Detach first: removing the holder destroys its namespace, and the
		// kernel then deletes the veth pair under a running Teardown.
		terr := teardown(dctx, br.Network, holder)
		_, rmErr := e.Cmd(dctx, "rm", "-f", holder)
		return errors.Join(terr, rmErr)
	}
	if _, err := e.Cmd(ctx, args...); err != nil {
		return "", nil, errors.Join(fmt.Errorf("%s: start network holder: %w", e.Kind(), err), detach())
	}
	out, err := e.Cmd(ctx, "inspect", "-f", "{{.State.Pid}}", holder)
	if err != nil {
		return "", nil, errors.Join(err, detach())
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("%s: pid of network holder %s: %q: %w", e.Kind(), holder, out, err), detach())
	}
	if _, err := network.Setup(ctx, br.Network, holder, pid, br.Address); err != nil {
		return "", nil, errors.Join(fmt.Errorf("%s: attach %s to bridge %s: %w", e.Kind(), holder, br.Network.Bridge, err), detach())
	}
	return holder, detach, nil
}
