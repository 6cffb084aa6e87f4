// Command nsdeps installs the distribution packages a purpose of nsbench
// needs on this host, from the table in mk/packages.tsv:
//
//	nsdeps install bench|test|kernel|vm|kernel-hosttc ...   (what make deps-<purpose> runs)
//	nsdeps list PURPOSE ...                                  print this host's package names
//
// The host release comes from /etc/os-release (debian-12, debian-13,
// ubuntu-24.04), or NSBENCH_HOST_RELEASE. It refuses an install that would
// make apt remove installed packages unless NSBENCH_DEPS_ALLOW_REMOVE=1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nsbench/nsbench/internal/hostdeps"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nsdeps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	table := fs.String("table", "mk/packages.tsv", "the package table")
	release := fs.String("release", os.Getenv("NSBENCH_HOST_RELEASE"), "host release column to use (default: from /etc/os-release)")
	usage := "usage: nsdeps [-table FILE] [-release REL] install|list PURPOSE..."
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 2 || (fs.Arg(0) != "install" && fs.Arg(0) != "list") {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cmd, purposes := fs.Arg(0), fs.Args()[1:]
	f, err := os.Open(*table)
	if err != nil {
		fmt.Fprintf(stderr, "nsdeps: %v (run from the repository root)\n", err)
		return 1
	}
	t, err := hostdeps.ParseTable(*table, f)
	f.Close()
	if err != nil {
		fmt.Fprintln(stderr, "nsdeps:", err)
		return 1
	}
	if *release == "" {
		data, err := os.ReadFile("/etc/os-release")
		if err != nil {
			fmt.Fprintf(stderr, "nsdeps: %v: set NSBENCH_HOST_RELEASE to one of %s\n", err, strings.Join(t.Releases, ", "))
			return 1
		}
		if *release, err = hostdeps.Release(data); err != nil {
			fmt.Fprintf(stderr, "nsdeps: /etc/os-release: %v: set NSBENCH_HOST_RELEASE to one of %s\n", err, strings.Join(t.Releases, ", "))
			return 1
		}
	}
	needs, unavail, err := t.Packages(*release, purposes...)
	if err != nil {
		fmt.Fprintln(stderr, "nsdeps:", err)
		return 1
	}
	what := strings.Join(purposes, ", ")
	if cmd == "list" {
		if req := hostdeps.Required(unavail); len(req) > 0 {
			fmt.Fprintln(stderr, "nsdeps:", &hostdeps.UnavailableError{Release: *release, Packages: req})
			return 1
		}
		for _, n := range needs {
			fmt.Fprintln(stdout, n.Name)
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := hostdeps.Ensure(ctx, hostdeps.Apt{}, *release, what, needs, unavail, os.Geteuid() == 0, os.Getenv("NSBENCH_DEPS_ALLOW_REMOVE") == "1", stderr); err != nil {
		fmt.Fprintf(stderr, "deps (%s): %v\n", what, err)
		return 1
	}
	return 0
}
