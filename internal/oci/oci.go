// Package oci drives the command-line interface that OCI runtimes share
// (runc, crun, nsrun): create, start, state, kill, delete and run. The
// conformance suite and the benchmark adapters use it so that every runtime
// is exercised through exactly the same commands.
package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// EnvRuntime names the runtime under test: a name on PATH or an absolute
// path. Empty or "nsrun" means nsrun as the caller resolves it (NSBENCH_NSRUN,
// else built from this tree: see internal/gobuild).
const EnvRuntime = "NSBENCH_RUNTIME"

// Runtime is one OCI runtime binary with its own state directory.
type Runtime struct {
	// Name is the base name of the binary: "runc", "crun", "nsrun", ...
	Name string
	// Path is the absolute path of the binary.
	Path string
	// Root is the state directory passed as --root; empty leaves the
	// runtime's default.
	Root string
	// Credential, when set, runs every command as that user (rootless tests).
	Credential *syscall.Credential
	// Env is added to the environment of every command (XDG_RUNTIME_DIR for
	// rootless runs, for example).
	Env []string
	// Wrap is prepended to every command line: New sets it to the
	// per-call cgroup2 wrapper (Cgroup2Wrapper) for crun on a hybrid host.
	Wrap []string
}

// IO is the standard input, output and error a container inherits. Nil
// entries mean /dev/null. They are files, not pipes copied by goroutines,
// because the container outlives the create command that hands them over.
type IO struct {
	Stdin, Stdout, Stderr *os.File
	// Extra are passed to the runtime as descriptors 3, 4, ...: what a
	// correct runtime does not hand on (without --preserve-fds).
	Extra []*os.File
	// Preserve are handed to the container as its descriptors 3, 4, ...
	// (after Extra's, which must then be none): create and run pass
	// --preserve-fds for them.
	Preserve []*os.File
}

// preserve returns the --preserve-fds arguments for stdio's Preserve.
func (stdio IO) preserve() []string {
	if len(stdio.Preserve) == 0 {
		return nil
	}
	return []string{"--preserve-fds", strconv.Itoa(len(stdio.Preserve))}
}

// CommandError is a runtime command that failed.
type CommandError struct {
	Args     []string
	ExitCode int
	Stderr   string
	Err      error
}

func (e *CommandError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("%s (exit %d): %s", strings.Join(e.Args, " "), e.ExitCode, msg)
}

func (e *CommandError) Unwrap() error { return e.Err }

// New resolves nameOrPath (a name on PATH or an absolute path) to a runtime
// that keeps its state in root.
func New(nameOrPath, root string) (*Runtime, error) {
	path := nameOrPath
	if !filepath.IsAbs(path) {
		p, err := exec.LookPath(nameOrPath)
		if err != nil {
			return nil, fmt.Errorf("find OCI runtime %q: %w (install it, or give an absolute path in %s)", nameOrPath, err, EnvRuntime)
		}
		path = p
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("OCI runtime %s: %w", path, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("OCI runtime %s: not an executable file", path)
	}
	r := &Runtime{Name: filepath.Base(path), Path: path, Root: root}
	if r.Name == "crun" && CrunNeedsCgroup2Hidden() {
		wrap, err := Cgroup2Wrapper(os.Geteuid(), os.Getegid(), Cgroup2Mount)
		if err != nil {
			return nil, err
		}
		r.Wrap = wrap
	}
	return r, nil
}

// Cgroup2Mount is where a hybrid host (Debian's layout) mounts cgroup2.
const Cgroup2Mount = "/sys/fs/cgroup/unified"

// CrunNeedsCgroup2Hidden reports whether crun must not see this host's
// cgroup2 mount. crun 1.8.1 refuses hybrid hosts whose cgroup2 hierarchy
// has any controller enabled ("cgroups in hybrid mode not supported, drop
// all controllers from cgroupv2"); on Debian's hybrid layout hugetlb sits
// there. With /sys/fs/cgroup/unified gone from its view crun takes the
// host for pure cgroup v1, which it supports. A pure v1 or v2 host, or a
// mount namespace where it is covered already (HideCgroup2), needs nothing.
func CrunNeedsCgroup2Hidden() bool {
	data, err := os.ReadFile(filepath.Join(Cgroup2Mount, "cgroup.controllers"))
	return err == nil && len(bytes.TrimSpace(data)) > 0
}

// The cgroup2 mount is detached (so no runtime finds it in mountinfo),
// then its directory covered with a throwaway tmpfs: crun 1.8.1 still
// makes a directory with a cgroup.procs file for each container in
// whatever /sys/fs/cgroup/unified then is, and leaves it behind (its rmdir
// fails on the file). Uncovered, that is the host's /sys/fs/cgroup tmpfs,
// under its cgroup2 mount, where nobody sees the directories pile up; the
// namespace's own tmpfs goes with the namespace.
const coverSize = "size=16m,mode=0755"

// Cgroup2Wrapper returns the command prefix that runs a command with the
// cgroup2 mount at mountpoint (Cgroup2Mount) hidden, in a mount namespace
// of its own made for that one call: four execs (unshare, sh, umount,
// mount) and a namespace copy per call, which HideCgroup2 does once
// instead.
// Propagation is left as the host has it, so that mounts cross between the
// host and crun's containers exactly as they would without the wrapper (a
// slave namespace would stop an rshared container's mounts from reaching
// the host); only /sys/fs/cgroup is made private first, so the cover never
// propagates out.
//
// Rootless, crun runs in a user namespace of its own that maps only the
// caller's ids onto themselves, so it is still the unprivileged caller and
// makes rootless containers (the mounts copied into that namespace are
// locked, so covering is the only way there too); --keep-caps lets sh and
// mount keep the capabilities the new namespace gave them across exec.
func Cgroup2Wrapper(euid, egid int, mountpoint string) ([]string, error) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return nil, fmt.Errorf("crun on a hybrid cgroup host needs unshare(1) from util-linux: %w", err)
	}
	if euid != 0 {
		return []string{unshare, "--user", "--map-user=" + strconv.Itoa(euid), "--map-group=" + strconv.Itoa(egid),
			"--mount", "--keep-caps", "--", "sh", "-c",
			`mount -t tmpfs -o size=4k,mode=0555 nsbench-no-cgroup2 ` + mountpoint + ` && exec "$0" "$@"`}, nil
	}
	return []string{unshare, "--mount", "--propagation", "unchanged", "--", "sh", "-c",
		`mount --make-rprivate /sys/fs/cgroup && umount -l ` + mountpoint + ` && mount -t tmpfs -o ` + coverSize + ` nsbench-no-cgroup2 ` + mountpoint +
			` && exec "$0" "$@"`}, nil
}

// HideCgroup2 does once, in the calling process's mount namespace, what
// Cgroup2Wrapper does per call: /sys/fs/cgroup made private (so nothing
// propagates to the host), then the cgroup2 mount detached and its
// directory covered with a tmpfs.
// The process must have a mount namespace of its own (cloned with
// CLONE_NEWNS): it then runs every runtime with the same view, none paying
// a wrapper. The namespace, and the tmpfs, end with its last process.
func HideCgroup2() error {
	if err := unix.Mount("", "/sys/fs/cgroup", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make /sys/fs/cgroup private in this mount namespace: %w", err)
	}
	if err := unix.Unmount(Cgroup2Mount, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach %s in this mount namespace: %w", Cgroup2Mount, err)
	}
	if err := unix.Mount("nsbench-no-cgroup2", Cgroup2Mount, "tmpfs", 0, coverSize); err != nil {
		return fmt.Errorf("cover %s with a tmpfs in this mount namespace: %w", Cgroup2Mount, err)
	}
	return nil
}

// Command returns the command line for the runtime with its global options.
func (r *Runtime) Command(ctx context.Context, args ...string) *exec.Cmd {
	argv := append([]string(nil), r.Wrap...)
	argv = append(argv, r.Path)
	if r.Root != "" {
		argv = append(argv, "--root", r.Root)
	}
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), r.Env...)
	if r.Credential != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.Credential}
	}
	// A killed runtime must not keep the test waiting on inherited pipes.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (r *Runtime) run(ctx context.Context, stdio *IO, args ...string) ([]byte, error) {
	cmd := r.Command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var errFile *os.File
	if stdio != nil {
		// The container inherits these: they must be files, or the runtime's
		// exit would wait on a pipe the container keeps open.
		null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
		}
		defer null.Close()
		cmd.Stdin, cmd.Stdout = orFile(stdio.Stdin, null), orFile(stdio.Stdout, null)
		cmd.ExtraFiles = append(append([]*os.File(nil), stdio.Extra...), stdio.Preserve...)
		if stdio.Stderr != nil {
			cmd.Stderr = stdio.Stderr
		} else {
			// Keep the runtime's own error message readable.
			errFile, err = os.CreateTemp("", "oci-stderr-")
			if err != nil {
				return nil, fmt.Errorf("create stderr file: %w", err)
			}
			os.Remove(errFile.Name())
			defer errFile.Close()
			cmd.Stderr = errFile
		}
	}
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	ce := &CommandError{Args: cmd.Args[len(r.Wrap):], ExitCode: -1, Stderr: stderr.String(), Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ce.ExitCode = ee.ExitCode()
	}
	switch {
	case errFile != nil:
		// The container may have written here too; the runtime's error is last.
		if _, serr := errFile.Seek(0, io.SeekStart); serr == nil {
			if data, rerr := io.ReadAll(errFile); rerr == nil {
				ce.Stderr = tail(string(data), 4096)
			}
		}
	case stdio != nil:
		ce.Stderr = "(the runtime's stderr went to the caller's stderr file)"
	}
	return stdout.Bytes(), ce
}

func orFile(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Version returns the first line of `runtime --version`.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	out, err := r.run(ctx, nil, "--version")
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line, nil
}

// Create creates container id from the bundle in bundleDir.
func (r *Runtime) Create(ctx context.Context, id, bundleDir string, stdio IO) error {
	_, err := r.run(ctx, &stdio, append(append([]string{"create", "--bundle", bundleDir}, stdio.preserve()...), id)...)
	return err
}

// Start starts the user process of a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	_, err := r.run(ctx, nil, "start", id)
	return err
}

// State returns the OCI state of container id.
func (r *Runtime) State(ctx context.Context, id string) (*specs.State, error) {
	out, err := r.run(ctx, nil, "state", id)
	if err != nil {
		return nil, err
	}
	var st specs.State
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("%s state %s: decode %q: %w", r.Name, id, out, err)
	}
	return &st, nil
}

// Exec runs command in container id with runc's exec flags (e.g.
// "--detach", "--pid-file", F) and returns once the runtime does.
func (r *Runtime) Exec(ctx context.Context, id string, flags []string, stdio IO, command ...string) error {
	args := append(append([]string{"exec"}, flags...), id)
	_, err := r.run(ctx, &stdio, append(args, command...)...)
	return err
}

// Kill sends signal (a name such as "KILL" or "SIGTERM", or a number) to the
// container's init process.
func (r *Runtime) Kill(ctx context.Context, id, signal string) error {
	_, err := r.run(ctx, nil, "kill", id, signal)
	return err
}

// Delete deletes container id; force kills it first if it still runs.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := r.run(ctx, nil, append(args, id)...)
	return err
}

// Wait polls the container's state until it is stopped or ctx ends. The OCI
// CLI has no wait command: this is what every engine does.
func (r *Runtime) Wait(ctx context.Context, id string) error {
	delay := time.Millisecond
	for {
		st, err := r.State(ctx, id)
		if err != nil {
			return err
		}
		if st.Status == specs.StateStopped {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for container %s to stop: %w (status %s)", id, ctx.Err(), st.Status)
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// Run runs container id in the foreground and returns its exit code. The
// runtime deletes the container when it exits. `run` exits with the
// container's status, and a runtime failure exits non-zero too: a non-zero
// code comes with its *CommandError (holding the runtime's stderr unless
// stdio.Stderr took it) so the caller can tell the two apart.
func (r *Runtime) Run(ctx context.Context, id, bundleDir string, stdio IO) (int, error) {
	_, err := r.run(ctx, &stdio, append(append([]string{"run", "--bundle", bundleDir}, stdio.preserve()...), id)...)
	var ce *CommandError
	if errors.As(err, &ce) {
		return ce.ExitCode, err
	}
	return 0, err
}
