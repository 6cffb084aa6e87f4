// Command rtbench prints the median wall time of `run` of /bin/true from a
// busybox bundle for each OCI runtime named, interleaved:
//
//	rtbench -n 50 [-seccomp docker|podman] nsrun runc crun
//
// "nsrun" means $NSBENCH_NSRUN, else the binary built from this tree.
// -seccomp gives the bundle that engine's default seccomp profile, as
// engines always pass one.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/internal/engineprofile"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/internal/rtbench"
)

func main() {
	n := flag.Int("n", 50, "runs per runtime")
	profile := flag.String("seccomp", "", "give the bundle docker's or podman's default seccomp profile")
	flag.Parse()
	var configure func(*specs.Spec) error
	switch *profile {
	case "":
	case "docker", "podman":
		get := map[string]func(*specs.Spec) (*specs.LinuxSeccomp, error){"docker": engineprofile.Docker, "podman": engineprofile.Podman}[*profile]
		configure = func(s *specs.Spec) (err error) {
			s.Linux.Seccomp, err = get(s)
			return err
		}
	default:
		fmt.Fprintf(os.Stderr, "rtbench: -seccomp %q: want docker or podman\n", *profile)
		os.Exit(2)
	}
	names := flag.Args()
	if len(names) == 0 {
		names = []string{"nsrun", "runc", "crun"}
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "rtbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtbench:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	var rts []*oci.Runtime
	for _, name := range names {
		root := filepath.Join(dir, "state-"+name)
		var r *oci.Runtime
		path := name
		if name == "nsrun" {
			// NSBENCH_NSRUN, else built from this tree
			path, err = gobuild.Resolve(ctx, "nsrun", "", os.Getenv, filepath.Join(dir, "bin"), "")
		}
		if err == nil {
			r, err = oci.New(path, root)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "rtbench: skip %s: %v\n", name, err)
			continue
		}
		rts = append(rts, r)
	}
	res, err := rtbench.RunWith(ctx, rts, dir, *n, configure)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtbench:", err)
		os.Exit(1)
	}
	with := ""
	if *profile != "" {
		with = " with " + *profile + "'s default seccomp profile"
	}
	fmt.Printf("run of /bin/true%s, %d interleaved runs each, median wall time:\n", with, *n)
	rtbench.Print(os.Stdout, res)
}
