package conformance

// This file is over 500 lines: eleven attacks, each a check of 30 to 70
// lines, and the small harness they share (snapshots of guarded
// directories, symlinks planted in the rootfs, a hook run); the family
// reads as one list of advisories, as the README's table does.

// The hostile family: images and bundles built the way runc's and crun's
// published advisories describe, run against the runtime like every other
// invariant. Each attack targets directories the check owns (never a real
// host file) and looks at whether anything outside the rootfs changed; where
// the question is whether a write would be allowed (a sysctl bound over a
// masked file, the runtime's binary), the answer comes from file types,
// mounts and opens for reading or writing that write nothing.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/conformance/probe"
	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/mountinfo"
	"github.com/nsbench/nsbench/internal/oci"
)

// snapshot records what dir holds: every entry's type and content (files
// by hash, links by target). Two snapshots differ exactly when something
// was made, removed or changed there.
func snapshot(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(p)
			out[rel] = "symlink to " + t
		case d.IsDir():
			out[rel] = "directory"
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			out[rel] = "file " + hex.EncodeToString(sum[:8])
		default:
			out[rel] = d.Type().String()
		}
		return nil
	})
	return out, err
}

// changes lists how after differs from before.
func changes(before, after map[string]string) []string {
	var out []string
	for k, v := range after {
		if w, ok := before[k]; !ok {
			out = append(out, fmt.Sprintf("%s appeared (%s)", k, v))
		} else if w != v {
			out = append(out, fmt.Sprintf("%s changed (%s, was %s)", k, v, w))
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k+" was removed")
		}
	}
	sort.Strings(out)
	return out
}

// guarded is a host directory an attack aims at: what it held before, and
// a check that nothing in or on it changed.
type guarded struct {
	dir    string
	before map[string]string
}

func (e *Env) guardedDir(name string, files map[string]string) (*guarded, error) {
	d, err := e.hostDir(name)
	if err != nil {
		return nil, err
	}
	for p, content := range files {
		full := filepath.Join(d, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
			return nil, err
		}
		if err := os.WriteFile(full, []byte(content), 0o666); err != nil {
			return nil, err
		}
	}
	before, err := snapshot(d)
	if err != nil {
		return nil, err
	}
	return &guarded{dir: d, before: before}, nil
}

// changed says what the runtime did to the directory: entries made,
// removed or rewritten, mounts left on it.
func (g *guarded) changed() []string {
	after, err := snapshot(g.dir)
	if err != nil {
		return []string{err.Error()}
	}
	out := changes(g.before, after)
	ms, err := mountinfo.Self()
	if err != nil {
		return append(out, err.Error())
	}
	for _, m := range ms {
		// On or below the directory itself: a container's own mount at
		// the same path inside its rootfs is not one.
		if m.Under(g.dir) {
			out = append(out, "mounted on the host: "+m.String())
		}
	}
	return out
}

// symlinkInRootfs replaces path inside b's rootfs with a symlink to target,
// as an image layer can.
func symlinkInRootfs(b *bundle.Bundle, path, target string) error {
	p := filepath.Join(b.Rootfs(), path)
	if err := os.RemoveAll(p); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.Symlink(target, p)
}

// attempt is a hostile bundle: a probe bundle shaped by an attack, with a
// host directory the check owns bound at /out for the probe's report (the
// attack may get the runtime to point the container's stdout elsewhere:
// runc reopens stdio from the image's /dev/null).
type attempt struct {
	b   *bundle.Bundle
	out string
}

func (e *Env) hostile(attack func(b *bundle.Bundle) error, args ...string) (*attempt, error) {
	out, err := e.hostDir("out")
	if err != nil {
		return nil, err
	}
	b, err := e.NewBundle(append([]string{"/nsprobe", "--report", "/out/report.json"}, args...)...)
	if err != nil {
		return nil, err
	}
	b.Spec.Mounts = append(b.Spec.Mounts, bindMount(out, "/out"))
	if err := attack(b); err != nil {
		os.RemoveAll(b.Dir)
		return nil, fmt.Errorf("make hostile bundle: %w", err)
	}
	if err := b.Save(); err != nil {
		os.RemoveAll(b.Dir)
		return nil, err
	}
	return &attempt{b: b, out: out}, nil
}

// run runs the attempt to completion (handing the container extra as its
// descriptors 3, ...) and removes the bundle. It returns the probe's report
// when the container ran, or refused, the runtime's error, when it would
// not run it; err when neither can be told.
func (a *attempt) run(ctx context.Context, e *Env, extra ...*os.File) (r *probe.Report, refused, err error) {
	defer os.RemoveAll(a.b.Dir)
	id := newID("hostile")
	_, runErr := e.Runtime.Run(ctx, id, a.b.Dir, oci.IO{Preserve: extra})
	data, rerr := os.ReadFile(filepath.Join(a.out, "report.json"))
	if rerr == nil {
		r = &probe.Report{}
		if err := json.Unmarshal(data, r); err != nil {
			return nil, nil, fmt.Errorf("decode probe report %q: %w", data, err)
		}
		return r, nil, nil
	}
	if runErr != nil {
		_ = e.Runtime.Delete(context.Background(), id, true)
		return nil, runErr, nil
	}
	return nil, nil, fmt.Errorf("the container ran but the probe wrote no report (%v)", rerr)
}

// climb is a relative path from anywhere in the rootfs up to the host's /.
var climb = strings.Repeat("../", 32)

// checkMountDestSymlink: mount destinations reached through the image's
// symlinks (absolute, relative with "..", and ".." in the destination
// itself) must be made inside the rootfs. A runtime that joins paths
// naively creates the mount points, or mounts, in the host directory they
// name (runc's CVE-2021-30465 raced the same step; CVE-2024-45310 made
// empty files and directories on the host).
func checkMountDestSymlink(ctx context.Context, e *Env) Result {
	g, err := e.guardedDir("dest", map[string]string{"keep": "host file"})
	if err != nil {
		return fail("%v", err)
	}
	src, err := e.hostDir("dest-src")
	if err != nil {
		return fail("%v", err)
	}
	file := filepath.Join(src, "file")
	if err := os.WriteFile(file, []byte("bound in"), 0o644); err != nil {
		return fail("%v", err)
	}
	a, err := e.hostile(func(b *bundle.Bundle) error {
		if err := symlinkInRootfs(b, "abs", g.dir); err != nil {
			return err
		}
		if err := symlinkInRootfs(b, "rel", climb+strings.TrimPrefix(g.dir, "/")); err != nil {
			return err
		}
		b.Spec.Mounts = append(b.Spec.Mounts,
			specs.Mount{Destination: "/abs/tmpfs", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=64k"}},
			bindMount(file, "/rel/file"),
			specs.Mount{Destination: "/" + climb + strings.TrimPrefix(g.dir, "/") + "/dotdot", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=64k"}},
		)
		return nil
	})
	if err != nil {
		return fail("%v", err)
	}
	_, refused, err := a.run(ctx, e)
	if ch := g.changed(); len(ch) > 0 {
		return fail("mounts through the image's symlinks and '..' reached the host directory %s: %s", g.dir, strings.Join(ch, "; "))
	}
	if err != nil {
		return fail("%v", err)
	}
	if refused != nil {
		return passRefused(refused)
	}
	return pass("tmpfs and bind mounts on /abs (-> %s), /rel (-> %s..) and /..%s stayed inside the rootfs", g.dir, climb[:9], g.dir)
}

// checkDevSymlink: an image whose /dev is a symlink to a host directory
// gets nothing made, replaced or mounted there: the runtime's /dev links
// (fd, stdin, ptmx, ...) and device nodes go inside the rootfs, and the
// host's files named like them stay (runc's CVE-2026-41579 deleted a host
// "ptmx" and made links in any host directory).
func checkDevSymlink(ctx context.Context, e *Env) Result {
	g, err := e.guardedDir("dev", map[string]string{"ptmx": "host file", "null": "host file", "fd": "host file"})
	if err != nil {
		return fail("%v", err)
	}
	a, err := e.hostile(func(b *bundle.Bundle) error { return symlinkInRootfs(b, "dev", g.dir) })
	if err != nil {
		return fail("%v", err)
	}
	_, refused, err := a.run(ctx, e)
	if ch := g.changed(); len(ch) > 0 {
		return fail("/dev -> %s: the runtime changed the host directory: %s", g.dir, strings.Join(ch, "; "))
	}
	if err != nil {
		return fail("%v", err)
	}
	if refused != nil {
		return passRefused(refused)
	}
	return pass("/dev -> %s: nothing made, replaced or mounted there", g.dir)
}

// checkProcRedirect: the runtime trusts nothing an image puts at /proc.
// First an image whose /proc is a symlink into a volume (a host directory
// the check owns, holding fake sysctl files), with a sysctl to
// set: the runtime must refuse, or give the container a real procfs on
// /proc and write nothing into the volume (runc's CVE-2019-19921,
// CVE-2023-27561, CVE-2023-28642; CVE-2025-52881 redirected such writes).
// Then a config without procfs on /proc and an image whose /proc holds a
// fake kernel/cap_last_cap of 0: the bounding set must still be the
// config's. procfs is mounted on /proc2 for the probe to look.
func checkProcRedirect(ctx context.Context, e *Env) Result {
	g, err := e.guardedDir("proc", map[string]string{
		"sys/kernel/domainname":   "bait\n",
		"sys/kernel/cap_last_cap": "0\n",
	})
	if err != nil {
		return fail("%v", err)
	}
	proc2 := specs.Mount{Destination: "/proc2", Type: "proc", Source: "proc"}
	// The volume is bound inside at the same path it has on the host, so
	// a runtime that follows the symlink on the host reaches only the
	// check's own directory.
	a, err := e.hostile(func(b *bundle.Bundle) error {
		if err := symlinkInRootfs(b, "proc", g.dir); err != nil {
			return err
		}
		b.Spec.Mounts = append(b.Spec.Mounts, proc2, bindMount(g.dir, g.dir))
		if hasNS(b.Spec, specs.UTSNamespace) {
			b.Spec.Linux.Sysctl = map[string]string{"kernel.domainname": "nsbench-redirected"}
		}
		return nil
	}, "--proc", "/proc2")
	if err != nil {
		return fail("%v", err)
	}
	r, refused, err := a.run(ctx, e)
	if ch := g.changed(); len(ch) > 0 {
		return fail("/proc -> a volume: the runtime wrote into the host directory %s: %s", g.dir, strings.Join(ch, "; "))
	}
	var details []string
	switch {
	case err != nil:
		return fail("/proc -> a volume: %v", err)
	case refused != nil:
		details = append(details, fmt.Sprintf("/proc -> a volume: refused (%v)", refused))
	case r.ProcFS != "procfs":
		return fail("/proc -> a volume: the container runs with /proc = %s, not procfs: masks and the runtime's /proc writes miss", r.ProcFS)
	default:
		if msg := boundingWider(r, a.b.Spec); msg != "" {
			return fail("/proc -> a volume: %s", msg)
		}
		details = append(details, "/proc -> a volume: procfs on /proc, volume untouched")
	}
	// The image's /proc with no procfs on it.
	a2, err := e.hostile(func(b *bundle.Bundle) error {
		for i, m := range b.Spec.Mounts {
			if m.Destination == "/proc" {
				b.Spec.Mounts[i] = proc2
			}
		}
		b.Spec.Linux.MaskedPaths, b.Spec.Linux.ReadonlyPaths = nil, nil
		fake := filepath.Join(b.Rootfs(), "proc/sys/kernel")
		if err := os.MkdirAll(fake, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(fake, "cap_last_cap"), []byte("0\n"), 0o644)
	}, "--proc", "/proc2")
	if err != nil {
		return fail("%v", err)
	}
	r, refused, err = a2.run(ctx, e)
	switch {
	case err != nil:
		return fail("fake /proc/sys/kernel/cap_last_cap: %v", err)
	case refused != nil:
		details = append(details, fmt.Sprintf("fake /proc/sys/kernel/cap_last_cap: refused (%v)", refused))
	default:
		if msg := boundingWider(r, a2.b.Spec); msg != "" {
			return fail("the image's /proc/sys/kernel/cap_last_cap of 0 (no procfs on /proc): %s", msg)
		}
		details = append(details, fmt.Sprintf("fake cap_last_cap ignored: bounding %#x", r.CapBnd))
	}
	return pass("%s", strings.Join(details, "; "))
}

// boundingWider says how the probe's bounding set exceeds its bundle's
// config, or "".
func boundingWider(r *probe.Report, s *specs.Spec) string {
	want := capMask(s.Process.Capabilities.Bounding)
	if extra := r.CapBnd &^ want; extra != 0 {
		return fmt.Sprintf("bounding set %#x, wider than the config's %#x by %#x", r.CapBnd, want, extra)
	}
	return ""
}

func hasNS(s *specs.Spec, t specs.LinuxNamespaceType) bool {
	return slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t })
}

// maskedFiles are the default config's masked paths that are files on this
// kernel.
func maskedFiles() []string {
	var out []string
	for _, p := range defaultSpec().Linux.MaskedPaths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && strings.HasPrefix(p, "/proc/") {
			out = append(out, p)
		}
	}
	return out
}

// checkDevNullMask: masked files are masked by binding /dev/null over
// them. With no tmpfs on /dev and the image's /dev/null a symlink to a file
// the container can write (here a file in a volume the check owns, bound
// inside at its own host path), a runtime that binds whatever /dev/null
// resolves to turns every masked file into a writable bind of that file
// (runc's CVE-2025-31133, where the target was /proc/sys/kernel/core_pattern),
// and one that reopens stdio given as /dev/null through it attaches the
// file to the container's stdio (crun's CVE-2026-88265). Each masked file
// must be the 1:3 character device, no stdio may lead to the file, and the
// file must be as it was.
func checkDevNullMask(ctx context.Context, e *Env) Result {
	files := maskedFiles()
	if len(files) == 0 {
		return skip("none of the default config's masked /proc files exists on this kernel")
	}
	g, err := e.guardedDir("devnull", map[string]string{"target": "host file\n"})
	if err != nil {
		return fail("%v", err)
	}
	target := filepath.Join(g.dir, "target")
	a, err := e.hostile(func(b *bundle.Bundle) error {
		b.Spec.Mounts = slices.DeleteFunc(b.Spec.Mounts, func(m specs.Mount) bool {
			return m.Destination == "/dev" || strings.HasPrefix(m.Destination, "/dev/")
		})
		b.Spec.Mounts = append(b.Spec.Mounts, bindMount(g.dir, g.dir))
		// A writable rootfs, as engines give by default: the runtime may
		// make its device nodes in the image's own /dev.
		b.Spec.Root.Readonly = false
		return symlinkInRootfs(b, "dev/null", target)
	}, "--mask-check", strings.Join(files, ","))
	if err != nil {
		return fail("%v", err)
	}
	r, refused, err := a.run(ctx, e)
	if ch := g.changed(); len(ch) > 0 {
		return fail("/dev/null -> a volume file: the file changed: %s", strings.Join(ch, "; "))
	}
	if err != nil {
		return fail("%v", err)
	}
	if refused != nil {
		return passRefused(refused)
	}
	if len(r.Masks) == 0 {
		return fail("none of the masked files %v exists inside", files)
	}
	var bad []string
	for fd, l := range r.Stdio {
		if l == target {
			bad = append(bad, fmt.Sprintf("descriptor %d was reopened through the image's /dev/null onto %s", fd, l))
		}
	}
	for _, m := range r.Masks {
		if m.Kind != "char 1:3" {
			w := "does not open for writing"
			if m.WriteOpen == "" {
				w = "OPENS FOR WRITING"
			}
			bad = append(bad, fmt.Sprintf("masked %s is a %s (not the null device) and %s", m.Path, m.Kind, w))
		}
	}
	if len(bad) > 0 {
		return fail("/dev/null -> %s: %s", target, strings.Join(bad, "; "))
	}
	return pass("/dev/null -> a volume file: %d masked files are all the null device 1:3, stdio %v", len(r.Masks), r.Stdio)
}

// checkCwdEscape: process.cwd naming a descriptor through /proc/self/fd
// must not put the process outside its root. The check hands the runtime a
// directory of the host as descriptor 3 (--preserve-fds 1) and tries every
// descriptor from 3 to 9: runc's CVE-2024-21626 leaked one of its own
// (a host cgroup directory) this way.
func checkCwdEscape(ctx context.Context, e *Env) Result {
	hostDir, err := e.hostDir("cwd")
	if err != nil {
		return fail("%v", err)
	}
	d, err := os.Open(hostDir)
	if err != nil {
		return fail("%v", err)
	}
	defer d.Close()
	// fd 2 stands for the control: cwd / with the same descriptor must run,
	// so a refusal after it is the runtime's answer to the cwd.
	refused, ran := 0, 0
	for fd := 2; fd <= 9; fd++ {
		cwd := fmt.Sprintf("/proc/self/fd/%d", fd)
		if fd == 2 {
			cwd = "/"
		}
		a, err := e.hostile(func(b *bundle.Bundle) error {
			b.Spec.Process.Cwd = cwd
			return nil
		})
		if err != nil {
			return fail("%v", err)
		}
		r, ref, err := a.run(ctx, e, d)
		switch {
		case err != nil:
			return fail("cwd %s: %v", cwd, err)
		case fd == 2 && ref != nil:
			return fail("the control run (cwd /, a directory as fd 3) failed: %v", ref)
		case fd == 2:
			continue
		case ref != nil:
			refused++
			continue
		}
		ran++
		// Only the cwd counts here: fd 3 itself is the host directory the
		// check handed in on purpose.
		out := slices.DeleteFunc(slices.Clone(r.WalkOut), func(w string) bool { return !strings.HasPrefix(w, "/proc/self/cwd ") })
		if strings.HasPrefix(r.Cwd, "(unreachable)") || len(out) > 0 {
			return fail("cwd %s: the process runs outside its root (getcwd %q; %v)", cwd, r.Cwd, out)
		}
	}
	return pass("cwd /proc/self/fd/3..9 with a host directory as fd 3: %d refused, %d ran inside the root", refused, ran)
}

// hookRun runs a probe container whose image carries a startContainer
// hook (the probe in hook mode, path resolved in the container). It
// returns the process's report, the hook's, and (root only) what the
// host saw as the init's /proc/PID/exe while the container was created.
func (e *Env) hookRun(ctx context.Context) (proc *probe.Report, hook *probe.HookReport, hostExe *probe.ExeReport, err error) {
	out, err := e.hostDir("hook")
	if err != nil {
		return nil, nil, nil, err
	}
	b, err := e.NewBundle("/nsprobe")
	if err != nil {
		return nil, nil, nil, err
	}
	defer os.RemoveAll(b.Dir)
	b.Spec.Mounts = append(b.Spec.Mounts, bindMount(out, "/out"))
	b.Spec.Hooks = &specs.Hooks{StartContainer: []specs.Hook{{Path: "/nsprobe", Args: []string{"nsprobe", "--hook-report", "/out/hook.json"}}}}
	if err := b.Save(); err != nil {
		return nil, nil, nil, err
	}
	f, err := os.Create(filepath.Join(b.Dir, "probe.out"))
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	id := newID("hook")
	pid, remove, err := e.launch(ctx, id, b, oci.IO{Stdout: f}, false)
	if err != nil {
		return nil, nil, nil, err
	}
	defer remove()
	if os.Geteuid() == 0 {
		x := probe.Exe(fmt.Sprintf("/proc/%d/exe", pid))
		hostExe = &x
	}
	if err := e.Runtime.Start(ctx, id); err != nil {
		return nil, nil, nil, fmt.Errorf("start: %w", err)
	}
	if err := e.Runtime.Wait(ctx, id); err != nil {
		return nil, nil, nil, err
	}
	proc, err = readReport(f.Name())
	if err != nil {
		return nil, nil, nil, err
	}
	data, err := os.ReadFile(filepath.Join(out, "hook.json"))
	if errors.Is(err, os.ErrNotExist) {
		return proc, nil, hostExe, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	hook = &probe.HookReport{}
	if err := json.Unmarshal(data, hook); err != nil {
		return nil, nil, nil, fmt.Errorf("decode the hook's report %q: %w", data, err)
	}
	return proc, hook, hostExe, nil
}

// checkRuntimeExe: the runtime's processes in the container's namespaces
// (the init until it execs the program, the parent of a startContainer
// hook) must not run the runtime's binary file itself, or anything in the
// container can open /proc/PID/exe and rewrite the runtime on the host
// once it stops running (CVE-2019-5736). Seen from the host, the created
// container's init must be another file or a read-only one; seen from a
// hook of the image, its parent's exe must be that, or out of reach.
// Nothing is opened for writing: the runtime's binary is a real host file.
func checkRuntimeExe(ctx context.Context, e *Env) Result {
	var host unix.Stat_t
	if err := unix.Stat(e.Runtime.Path, &host); err != nil {
		return fail("stat %s: %v", e.Runtime.Path, err)
	}
	bin := fmt.Sprintf("%d:%d", host.Dev, host.Ino)
	_, hook, hostExe, err := e.hookRun(ctx)
	if err != nil {
		return fail("%v", err)
	}
	writable := func(x probe.ExeReport) bool { return x.DevIno == bin && !x.ReadOnly && !x.Sealed }
	var seen []string
	if hostExe != nil {
		if writable(*hostExe) {
			return fail("the created container's init runs %s itself (%s, on a writable mount): a process in the container can rewrite it through /proc/PID/exe", e.Runtime.Path, bin)
		}
		seen = append(seen, "host sees the init's exe as "+describeExe(*hostExe))
	}
	if hook == nil {
		if hostExe == nil {
			return skip("the runtime ran no startContainer hook, and only root can look at the init's exe from the host")
		}
		seen = append(seen, "no startContainer hook ran")
	} else {
		if writable(hook.ParentExe) {
			return fail("a startContainer hook of the image opened %s itself through /proc/$PPID/exe (%s, on a writable mount)", e.Runtime.Path, bin)
		}
		seen = append(seen, "the hook's /proc/$PPID/exe: "+describeExe(hook.ParentExe))
	}
	return pass("%s is %s; %s", e.Runtime.Path, bin, strings.Join(seen, "; "))
}

func describeExe(x probe.ExeReport) string {
	switch {
	case x.Error != "":
		return "out of reach (" + x.Error + ")"
	case x.Sealed:
		return x.DevIno + ", a write-sealed memfd"
	case x.ReadOnly:
		return x.DevIno + ", on a read-only mount (fs " + x.FSType + ")"
	}
	return x.DevIno + " (fs " + x.FSType + ")"
}

// checkHookPrivileges: a startContainer hook comes with the image (its
// path resolves in the container) and must not hold more than the
// container's process: no capability the process lacks, and the
// process's no_new_privs. Running it with the runtime's full set before
// the process's credentials are applied lets the image remount /proc/sys
// read-write (nsrun before issue 10; runc runs it after them).
func checkHookPrivileges(ctx context.Context, e *Env) Result {
	proc, hook, _, err := e.hookRun(ctx)
	if err != nil {
		return fail("%v", err)
	}
	if hook == nil {
		return skip("the runtime ran no startContainer hook")
	}
	for _, s := range []struct {
		set        string
		hook, proc uint64
	}{{"effective", hook.CapEff, proc.CapEff}, {"permitted", hook.CapPrm, proc.CapPrm}, {"bounding", hook.CapBnd, proc.CapBnd}, {"ambient", hook.CapAmb, proc.CapAmb}} {
		if extra := s.hook &^ s.proc; extra != 0 {
			return fail("the startContainer hook's %s set %#x holds %#x the process's %#x does not", s.set, s.hook, extra, s.proc)
		}
	}
	if proc.NoNewPrivs && !hook.NoNewPrivs {
		return fail("the startContainer hook ran without the process's no_new_privs")
	}
	return pass("hook: effective %#x, bounding %#x, no_new_privs %t; process: effective %#x, bounding %#x", hook.CapEff, hook.CapBnd, hook.NoNewPrivs, proc.CapEff, proc.CapBnd)
}

// checkRootPathSymlink: a bundle whose root.path is a symlink to a
// directory outside it (here a full rootfs the check moved out) must be
// refused, as runc refuses any symlink there: followed, it makes any
// directory of the host the container's root.
func checkRootPathSymlink(ctx context.Context, e *Env) Result {
	outside, err := e.hostDir("rootfs-outside")
	if err != nil {
		return fail("%v", err)
	}
	moved := filepath.Join(outside, "rootfs")
	var link string
	a, err := e.hostile(func(b *bundle.Bundle) error {
		link = b.Rootfs()
		if err := os.Rename(link, moved); err != nil {
			return err
		}
		return os.Symlink(moved, link)
	})
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(moved)
	r, refused, err := a.run(ctx, e)
	switch {
	case err != nil:
		return fail("%v", err)
	case refused != nil:
		return passRefused(refused)
	}
	return fail("root.path %s -> %s was followed: the container ran with %s as its root (%s)", link, moved, moved, r.Root)
}

// checkConfinementDropped: a config asking for an AppArmor profile or an
// SELinux label must be refused, or run confined by it; never run as if
// the field were not there. The profile and label are ones no host has
// loaded, so a runtime applying them fails too.
func checkConfinementDropped(ctx context.Context, e *Env) Result {
	var details []string
	for _, c := range []struct {
		field, label string
		set          func(*specs.Spec, string)
	}{
		{"process.apparmorProfile", "nsbench-conformance-unloaded", func(s *specs.Spec, v string) { s.Process.ApparmorProfile = v }},
		{"process.selinuxLabel", "system_u:system_r:nsbench_conformance_t:s0", func(s *specs.Spec, v string) { s.Process.SelinuxLabel = v }},
	} {
		a, err := e.hostile(func(b *bundle.Bundle) error {
			c.set(b.Spec, c.label)
			return nil
		})
		if err != nil {
			return fail("%v", err)
		}
		r, refused, err := a.run(ctx, e)
		switch {
		case err != nil:
			return fail("%s: %v", c.field, err)
		case refused != nil:
			details = append(details, c.field+" refused")
			continue
		}
		if !strings.Contains(r.LSM, c.label) {
			return fail("%s %q was dropped silently: the process ran unconfined (LSM label %q)", c.field, c.label, r.LSM)
		}
		details = append(details, c.field+" applied")
	}
	return pass("%s", strings.Join(details, ", "))
}

// checkInheritableCaps: the process's inheritable and ambient sets are the
// config's (empty in the default config). Non-empty inheritable sets let
// a program with inheritable file capabilities gain them at exec (runc's
// CVE-2022-29162, crun's CVE-2022-27650).
func checkInheritableCaps(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	c := defaultSpec().Process.Capabilities
	if want := capMask(c.Inheritable); r.CapInh != want {
		return fail("inheritable set %#x, the default config asks for %#x", r.CapInh, want)
	}
	if want := capMask(c.Ambient); r.CapAmb != want {
		return fail("ambient set %#x, the default config asks for %#x", r.CapAmb, want)
	}
	return pass("inheritable %#x, ambient %#x, as configured", r.CapInh, r.CapAmb)
}

// checkCgroupfsReadonly: every cgroup filesystem inside is read-only, under
// the default config's read-only cgroup mount or the rootless config's
// read-only rbind of /sys: a writable one lets the container change its
// own or the user's cgroups on the host (runc's CVE-2023-25809).
func checkCgroupfsReadonly(ctx context.Context, e *Env) Result {
	r, err := e.RunProbe(ctx, nil)
	if err != nil {
		return fail("%v", err)
	}
	var rw []string
	for _, m := range r.CgroupMounts {
		mp, opts, _ := strings.Cut(m, " ")
		if slices.Contains(strings.Split(opts, ","), "rw") {
			rw = append(rw, mp)
		}
	}
	if len(rw) > 0 {
		return fail("cgroup filesystems writable inside: %s", strings.Join(rw, ", "))
	}
	if len(r.CgroupMounts) == 0 {
		return pass("no cgroup filesystem inside")
	}
	return pass("%d cgroup filesystems inside, all read-only", len(r.CgroupMounts))
}
