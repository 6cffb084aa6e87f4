package gobuild

import (
	"context"
	"fmt"
	"os"
)

// Runner is what a TestMain is given (*testing.M).
type Runner interface{ Run() int }

// RunWith is the body of a TestMain whose tests drive a command of this
// module: it builds pkg statically into a fresh directory every user may
// read (rootless tests run the binary as another user), stores the path in
// *bin, runs the tests and removes the directory. It returns the exit code
// for os.Exit.
func RunWith(m Runner, pkg string, bin *string) int {
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
	if *bin, err = Static(context.Background(), pkg, dir, ""); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
