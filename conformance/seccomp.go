package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/conformance/probe"
	"github.com/nsbench/nsbench/internal/engineprofile"
	"github.com/nsbench/nsbench/internal/oci"
)

// seccompDenied are sysprobe calls docker's default profile denies a
// container with the default bundle's capabilities, with the errno it
// returns. sysprobe's arguments make the kernel alone answer otherwise
// (EINVAL, EOPNOTSUPP).
func seccompDenied() map[string]string {
	return map[string]string{
		"unshare":       "EPERM",
		"keyctl":        "EPERM",
		"clone3":        "ENOSYS",
		"clone-newuser": "EPERM", // clone with a namespace flag: SCMP_CMP_MASKED_EQ
	}
}

// checkSeccomp runs the probe under docker's default profile, as a child of
// sh and again after sh execs it: both must show a filter
// (/proc/self/status Seccomp: 2) and get the profile's errnos.
func checkSeccomp(ctx context.Context, e *Env) Result {
	var perr error
	b, err := e.newBundleWith(func(s *specs.Spec) {
		s.Linux.Seccomp, perr = engineprofile.Docker(s)
	}, "sh", "-c", "/nsprobe -syscalls && exec /nsprobe -syscalls")
	if err = errors.Join(err, perr); err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	outPath := filepath.Join(b.Dir, "probe.out")
	out, err := os.Create(outPath)
	if err != nil {
		return fail("%v", err)
	}
	defer out.Close()
	id := newID("seccomp")
	code, err := e.Runtime.Run(ctx, id, b.Dir, oci.IO{Stdout: out})
	if code != 0 || err != nil {
		_ = e.Runtime.Delete(ctx, id, true)
		return fail("run the probe under docker's default seccomp profile in %s: exit %d: %v", e.Runtime.Name, code, err)
	}
	reps, err := readReports(outPath)
	if err != nil {
		return fail("%v", err)
	}
	if len(reps) != 2 {
		return fail("want 2 probe reports (child of sh, after exec), got %d", len(reps))
	}
	var problems []string
	for i, r := range reps {
		where := []string{"in a child of the container's process", "after the container's process execs"}[i]
		if r.Seccomp != "2" {
			problems = append(problems, fmt.Sprintf("%s /proc/self/status has Seccomp: %q, not 2 (a filter)", where, r.Seccomp))
		}
		got := map[string]string{}
		for _, s := range r.Syscalls {
			got[s.Name] = s.Errno
		}
		for name, want := range seccompDenied() {
			if got[name] != want {
				problems = append(problems, fmt.Sprintf("%s %s answers %q, not the profile's %s", where, name, orSuccess(got[name]), want))
			}
		}
		if got["getpid"] != "" {
			problems = append(problems, fmt.Sprintf("%s getpid, which the profile allows, fails with %s", where, got["getpid"]))
		}
	}
	if len(problems) > 0 {
		return fail("%s", strings.Join(problems, "; "))
	}
	return pass("Seccomp: 2 in a child and after exec; unshare, keyctl and clone with a namespace flag get EPERM and clone3 ENOSYS, as docker's profile says; getpid works")
}

func orSuccess(errno string) string {
	if errno == "" {
		return "success"
	}
	return errno
}

// readReports reads the probe reports a run wrote, one JSON value each.
func readReports(path string) ([]probe.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []probe.Report
	dec := json.NewDecoder(f)
	for {
		var r probe.Report
		if err := dec.Decode(&r); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("decode probe report %d of %s: %w", len(out)+1, path, err)
		}
		out = append(out, r)
	}
}
