// Package hooks runs OCI lifecycle hooks: each gets the container's state
// JSON on stdin, runs with its own args and env, and is killed when its
// timeout expires, so a hung hook cannot hang the runtime.
package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultTimeout bounds a hook that sets none.
const DefaultTimeout = 2 * time.Minute

// Run runs hooks in order and stops at the first failure. kind
// ("createRuntime", ...) appears in errors. via, when not empty, is a
// program each hook is run through: via[0] runs with the argv "nsrun",
// via[1:], the hook's path, the hook's argv (nsrun's sigforward.Prefix,
// which gives the hook the signal mask nsrun started with, then execs it:
// the pid is the hook's).
func Run(ctx context.Context, kind string, hs []specs.Hook, state *specs.State, via []string) error {
	if len(hs) == 0 {
		return nil
	}
	input, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("encode state for %s hooks: %w", kind, err)
	}
	for i, h := range hs {
		if err := runOne(ctx, h, input, via); err != nil {
			return fmt.Errorf("%s hook %d (%s): %w", kind, i, h.Path, err)
		}
	}
	return nil
}

func runOne(ctx context.Context, h specs.Hook, input []byte, via []string) error {
	timeout := DefaultTimeout
	if h.Timeout != nil {
		timeout = time.Duration(*h.Timeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	cmd := exec.CommandContext(ctx, h.Path)
	cmd.Args = args
	if len(via) > 0 {
		// The path is checked here, where a missing hook gets the error
		// it would get without via.
		if _, err := exec.LookPath(h.Path); err != nil {
			return err
		}
		cmd = exec.CommandContext(ctx, via[0])
		cmd.Args = append(append(append([]string{"nsrun"}, via[1:]...), h.Path), args...)
	}
	// The spec gives hooks exactly the env listed, nothing inherited.
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A hook that forks a daemon keeping our pipe must not hold us.
	cmd.WaitDelay = time.Second
	// Its own process group, killed whole on timeout: a shell script's
	// children (the sleep of a hung hook) outlived a kill of the shell alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("killed after its %s timeout", timeout)
	}
	if err != nil {
		var ee *exec.ExitError
		msg := strings.TrimSpace(out.String())
		if errors.As(err, &ee) && msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
