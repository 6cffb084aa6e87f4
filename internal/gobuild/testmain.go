package gobuild

import (
	"context"
	"fmt"
	"os"
)

// Runner is what a TestMain is given (*testing.M).
type Runner interface{ Run() int }

// RunWith is the body of a TestMain whose tests drive commands of this
// module: it resolves each named command for the host (its environment
// variable, else a build into a fresh directory every user may read, since
// rootless tests run the binaries as another user), stores the paths in
// bins, runs the tests and removes the directory. It returns the exit code
// for os.Exit.
func RunWith(m Runner, bins map[string]*string) int {
	dir, err := os.MkdirTemp("", "nsbench-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "chmod %s: %v\n", dir, err)
		return 1
	}
	for name, p := range bins {
		if *p, err = Resolve(context.Background(), name, "", os.Getenv, dir, ""); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}
