package compat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/jsonmerge"
	"github.com/nsbench/nsbench/internal/leftover"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/runtime/cgroups"
)

// Case is one bundle both runtimes run: a file of testdata/compat/bundles.
type Case struct {
	// Name is the file's name without .json.
	Name string `json:"-"`
	// Why says what the case checks.
	Why string `json:"why"`
	// Patch is a JSON merge patch on runc's default config ("$BUNDLE" is
	// the bundle directory).
	Patch json.RawMessage `json:"patch,omitempty"`
	// Dirs are made in the bundle directory first (bind sources).
	Dirs []string `json:"dirs,omitempty"`
	// Probe is the shell command the container runs; its output is
	// compared. Empty runs DefaultProbe.
	Probe string `json:"probe,omitempty"`
	// Differs, when set, says why nsrun's outcome differs from runc's on
	// purpose: a row of the README's compatibility table. A case without it
	// must come out the same.
	Differs string `json:"differs,omitempty"`
	// DiffersBefore says why nsrun differs from a runc older than a given
	// version, which changed its behaviour there; from that version on
	// the case must come out the same.
	DiffersBefore *Since `json:"differs_before,omitempty"`
}

// Since is a runc version and why outcomes differ before it.
type Since struct {
	Runc string `json:"runc"`
	Why  string `json:"why"`
}

// DiffersFrom says why nsrun's outcome differs from that of runc at
// version (a `--version` line's number), or "" when it must be the same.
func (c Case) DiffersFrom(version string) string {
	if c.DiffersBefore != nil && versionLess(version, c.DiffersBefore.Runc) {
		return c.DiffersBefore.Why
	}
	return c.Differs
}

// versionLess compares dotted version numbers field by field.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// DefaultProbe prints what a config decides about a process: identity,
// capabilities, limits, namespaces' names, mounts, device nodes and
// cgroups, with nothing that changes from run to run (times, mount ids,
// inode numbers). devices.list is sorted: its order is the order the rules
// were written in (runc writes its allow list sorted, nsrun in the config's
// order), which changes no access.
const DefaultProbe = `echo '# id'; id
echo '# status'; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status
echo '# limits'; ulimit -n; ulimit -u; cat /proc/self/oom_score_adj
echo '# umask cwd hostname'; umask; pwd; hostname
echo '# mounts'; awk '{for (i = 7; $i != "-"; i++); print $5, $6, $(i+1), $(i+3)}' /proc/self/mountinfo
echo '# dev'; ls -ln /dev | awk 'NR > 1 {print $1, $3, $4, $5, $6, $NF}'
echo '# cgroup'; cat /proc/self/cgroup
echo '# cgroupfs'; ls /sys/fs/cgroup
echo '# devices.list'; cat /sys/fs/cgroup/devices/devices.list 2>&1 | sort
echo '# end'`

// LoadCases reads every case of dir (testdata/compat/bundles).
func LoadCases(dir string) ([]Case, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no compatibility cases in %s", dir)
	}
	var cases []Case
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read case: %w", err)
		}
		var c Case
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("parse case %s: %w", p, err)
		}
		if c.Why == "" {
			return nil, fmt.Errorf("case %s: no \"why\"", p)
		}
		c.Name = strings.TrimSuffix(filepath.Base(p), ".json")
		cases = append(cases, c)
	}
	return cases, nil
}

// Bundles runs cases through the runtimes.
type Bundles struct {
	// BaseConfig is runc's default config (`runc spec`), the start of
	// every case.
	BaseConfig []byte
	// Busybox is the static busybox for the rootfs ("" finds it on PATH).
	Busybox string
	// WorkDir holds the bundles and the runtimes' state.
	WorkDir string
}

// Run runs case c with runtime rt in a fresh bundle and reports what the
// container printed. The container, its cgroup, state and mounts must be
// gone afterwards; what is left is an error.
func (b *Bundles) Run(ctx context.Context, rt *oci.Runtime, c Case) (Result, error) {
	res := Result{Kind: "bundle", Runtime: rt.Name, Case: c.Name}
	if v, err := rt.Version(ctx); err == nil {
		res.Version = v
	}
	start := time.Now()
	id := "compat-" + c.Name + "-" + rt.Name
	dir := filepath.Join(b.WorkDir, id)
	if err := b.make(dir, id, c); err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	out, err := os.Create(filepath.Join(b.WorkDir, id+".out"))
	if err != nil {
		return res, fmt.Errorf("case %s: %w", c.Name, err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	exit, runErr := rt.Run(rctx, id, dir, oci.IO{Stdout: out})
	res.Seconds = time.Since(start).Seconds()
	res.Exit = exit
	var ce *oci.CommandError
	switch {
	case errors.As(runErr, &ce):
		res.Error = normalise(strings.TrimSpace(ce.Stderr), dir, id)
	case runErr != nil:
		return res, fmt.Errorf("case %s with %s: %w", c.Name, rt.Name, runErr)
	}
	res.Pass = exit == 0
	data, err := os.ReadFile(out.Name())
	if err != nil {
		return res, fmt.Errorf("case %s: %w", c.Name, err)
	}
	res.Output = normalise(string(data), dir, id)

	// Whatever the outcome, nothing of the container may stay.
	_ = rt.Delete(context.Background(), id, true)
	scope := leftover.Scope{
		Paths:       []string{filepath.Join(rt.Root, id)},
		MountsUnder: []string{dir},
		Cgroups:     []string{cgroupParent + "/" + id},
		Cmdlines:    []string{" " + id + " "},
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if left := scope.Wait(wctx); len(left) > 0 {
		return res, fmt.Errorf("case %s with %s left on the host: %s", c.Name, rt.Name, strings.Join(left, "; "))
	}
	return res, nil
}

// make writes the case's bundle: the busybox rootfs, runc's default config
// with the probe as the process, the case's patch, and a cgroup path both
// runtimes share (they run one after the other).
func (b *Bundles) make(dir, id string, c Case) error {
	bd, err := bundle.New(dir, bundle.Options{Busybox: b.Busybox})
	if err != nil {
		return fmt.Errorf("case %s: %w", c.Name, err)
	}
	for _, d := range c.Dirs {
		if err := os.MkdirAll(filepath.Join(bd.Dir, d), 0o755); err != nil {
			return fmt.Errorf("case %s: %w", c.Name, err)
		}
	}
	probe := c.Probe
	if probe == "" {
		probe = DefaultProbe
	}
	base, err := json.Marshal(map[string]any{
		"process": map[string]any{"terminal": false, "args": []string{"sh", "-c", probe}},
		"linux":   map[string]any{"cgroupsPath": "/" + cgroupParent + "/" + id},
	})
	if err != nil {
		return err
	}
	config, err := jsonmerge.Patch(b.BaseConfig, base, nil)
	if err != nil {
		return fmt.Errorf("case %s: runc's default config: %w", c.Name, err)
	}
	if len(c.Patch) > 0 {
		if config, err = jsonmerge.Patch(config, c.Patch, map[string]string{"$BUNDLE": dir}); err != nil {
			return fmt.Errorf("case %s: %w", c.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644); err != nil {
		return fmt.Errorf("case %s: %w", c.Name, err)
	}
	return nil
}

// cgroupParent is the cgroup under which every case's container is made,
// so both runtimes' containers sit at the same depth.
const cgroupParent = "nsbench-compat"

// RemoveCgroupParent removes the cases' cgroup parent from every hierarchy
// (runc, like the runtime spec allows, leaves the parents it makes); one
// still holding a container is an error.
func RemoveCgroupParent() error {
	l, err := cgroups.HostLayout()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range l.Hierarchies {
		p := filepath.Join(h.Mountpoint, cgroupParent)
		if err := unix.Rmdir(p); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// normalise replaces what differs between runs of the same case: the
// bundle's path and the container's id.
func normalise(s, dir, id string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, dir, "$BUNDLE"), id, "$ID")
}

// Same reports whether two runs of a case came out the same: the same exit
// status and the same output.
func Same(a, b Result) bool {
	return a.Exit == b.Exit && a.Output == b.Output
}
