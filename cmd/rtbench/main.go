// Command rtbench prints the median wall time of `run` of /bin/true from a
// busybox bundle for each OCI runtime named, interleaved:
//
//	rtbench -n 50 nsrun runc crun
//
// "nsrun" means $NSBENCH_NSRUN, else the binary built from this tree.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/internal/oci"
	"github.com/nsbench/nsbench/internal/rtbench"
)

func main() {
	n := flag.Int("n", 50, "runs per runtime")
	flag.Parse()
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
	res, err := rtbench.Run(ctx, rts, dir, *n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rtbench:", err)
		os.Exit(1)
	}
	fmt.Printf("run of /bin/true, %d interleaved runs each, median wall time:\n", *n)
	rtbench.Print(os.Stdout, res)
}
