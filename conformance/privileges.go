package conformance

// The privilege family: capabilities, no_new_privs, devices, descriptors.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func checkCaps(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	c := defaultSpec().Process.Capabilities
	want := map[string][2]uint64{
		"effective": {r.CapEff, capMask(c.Effective)},
		"permitted": {r.CapPrm, capMask(c.Permitted)},
		"bounding":  {r.CapBnd, capMask(c.Bounding)},
	}
	for set, v := range want {
		if v[0] != v[1] {
			return fail("%s set is %#x, the default config asks for %#x (extra: %#x)", set, v[0], v[1], v[0]&^v[1])
		}
	}
	return pass("effective=permitted=bounding=%#x as configured", r.CapEff)
}

// addCap puts a capability into the bounding, effective and permitted sets.
func addCap(s *specs.Spec, c string) {
	if s.Process.Capabilities == nil {
		s.Process.Capabilities = &specs.LinuxCapabilities{}
	}
	pc := s.Process.Capabilities
	pc.Bounding = append(pc.Bounding, c)
	pc.Effective = append(pc.Effective, c)
	pc.Permitted = append(pc.Permitted, c)
}

// checkNNP: no_new_privs is set, and it works: a process running as an
// unprivileged user inside execs a setuid-root copy of the probe, which
// must still run with that user's effective id.
func checkNNP(ctx context.Context, e *Env) Result {
	if os.Geteuid() != 0 {
		// The setuid exec needs a second uid mapped into the container;
		// rootless there is only one, so the flag is the evidence.
		r, err := e.RunProbe(ctx, nil)
		if err != nil {
			return fail("%v", err)
		}
		if !r.NoNewPrivs {
			return fail("NoNewPrivs is 0: a setuid binary could elevate")
		}
		return pass("NoNewPrivs: 1 (the setuid exec is root's: rootless maps a single uid)")
	}
	const user = 1000
	b, err := e.NewBundle("/nsprobe", "--setuid", "/suid-probe")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	suid := filepath.Join(b.Dir, "rootfs", "suid-probe")
	if err := copyFile(e.Probe, suid); err != nil {
		return fail("%v", err)
	}
	if err := os.Chown(suid, 0, 0); err != nil {
		return fail("chown %s: %v", suid, err)
	}
	// chmod after chown: chown clears the setuid bit.
	if err := os.Chmod(suid, os.ModeSetuid|0o755); err != nil {
		return fail("chmod u+s %s: %v", suid, err)
	}
	b.Spec.Process.User = specs.User{UID: user, GID: user}
	if err := b.Save(); err != nil {
		return fail("%v", err)
	}
	r, err := e.runBundle(ctx, newID("nnp"), b)
	if err != nil {
		return fail("%v", err)
	}
	switch {
	case r.Setuid == nil:
		return fail("the probe did not run the setuid binary")
	case r.Setuid.Error != "":
		return fail("%s", r.Setuid.Error)
	case r.Setuid.EUID != user:
		return fail("uid %d exec'd a setuid-root binary and ran with euid %d: privileges grew (NoNewPrivs %t)", r.Setuid.UID, r.Setuid.EUID, r.NoNewPrivs)
	case !r.NoNewPrivs:
		return fail("NoNewPrivs is 0")
	}
	return pass("NoNewPrivs: 1; uid %d exec'd a setuid-root binary and kept euid %d", r.Setuid.UID, r.Setuid.EUID)
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

// checkMknod: mknod fails inside, and a device node the config does not
// allow cannot be opened. The node is the check's own, made on the host
// for a character major no driver has registered and bind-mounted in: the
// device allowlist (the devices cgroup, or its eBPF program on cgroup v2)
// refuses the open with EPERM before the kernel looks for a driver; with
// no allowlist the open reaches that lookup and fails with ENXIO instead.
func checkMknod(ctx context.Context, e *Env) Result {
	var args []string
	var mutate func(*specs.Spec)
	why := ""
	if os.Geteuid() != 0 {
		// Rootless runtimes cannot set up device control; mknod is the
		// whole check then.
		why = "rootless: no device allowlist to test"
	} else if major, err := freeCharMajor(); err != nil {
		why = err.Error()
	} else {
		d, err := e.hostDir("dev")
		if err != nil {
			return fail("%v", err)
		}
		node := filepath.Join(d, "nsbench-dev")
		if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(major, 0))); err != nil {
			return fail("mknod %s (char %d:0) on the host: %v", node, major, err)
		}
		args = []string{"--open-dev", "/nsbench-dev"}
		mutate = func(s *specs.Spec) { s.Mounts = append(s.Mounts, bindMount(node, "/nsbench-dev")) }
	}
	r, err := e.RunProbe(ctx, mutate, args...)
	if err != nil {
		return fail("%v", err)
	}
	if r.Mknod == "" {
		return fail("mknod of a character device succeeded inside")
	}
	if args == nil {
		return pass("mknod: %s (%s)", r.Mknod, why)
	}
	switch r.OpenDev {
	case "EPERM", "EACCES":
		return pass("mknod: %s; a device node the config does not allow: open %s", r.Mknod, r.OpenDev)
	case "":
		return fail("a device node the config does not allow opened inside")
	}
	return fail("a device node the config does not allow got past the allowlist to the driver lookup (open: %s): no device control", r.OpenDev)
}

// freeCharMajor finds a character major that no driver has registered, per
// /proc/devices: first in the range Linux keeps for local use (240-254).
func freeCharMajor() (uint32, error) {
	data, err := os.ReadFile("/proc/devices")
	if err != nil {
		return 0, fmt.Errorf("read /proc/devices: %w", err)
	}
	used := map[string]bool{}
	chars := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "Character devices:"):
			chars = true
		case strings.HasPrefix(l, "Block devices:"):
			chars = false
		case chars:
			if f := strings.Fields(l); len(f) == 2 {
				used[f[0]] = true
			}
		}
	}
	// 256-383: beyond the 8-bit majors and below the extended dynamic range
	// (384-511), for kernels whose drivers took all of 240-254 (Debian's
	// arm64 kernel does).
	for _, r := range [][2]uint32{{240, 254}, {256, 383}} {
		for m := r[0]; m <= r[1]; m++ {
			if !used[fmt.Sprint(m)] {
				return m, nil
			}
		}
	}
	return 0, fmt.Errorf("every character major of 240-254 and 256-383 is registered here: no free number for a driverless node")
}

func checkFDs(ctx context.Context, e *Env) Result {
	// A descriptor the caller holds open must not reach the container.
	f, err := os.Open(os.DevNull)
	if err == nil {
		defer f.Close()
	}
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	if !slices.Equal(r.FDs, []int{0, 1, 2}) {
		return fail("open descriptors inside: %v (want 0 1 2)", r.FDs)
	}
	return pass("only 0 1 2")
}
