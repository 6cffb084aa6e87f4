// Command nsconformance prints the conformance matrix from the results the
// suite wrote (NSBENCH_CONFORMANCE_OUT), runs side by side, with each
// reference runtime's known findings, and exits 1 when a run differs from
// conformance/expected (or nsrun fails anything).
//
//	nsconformance check results/conformance-nsrun.json results/conformance-runc.json ...
package main

import (
	"fmt"
	"os"

	"github.com/nsbench/nsbench/conformance/matrix"
)

const usage = "usage: nsconformance check RESULTS.json..."

func main() {
	if len(os.Args) < 3 || os.Args[1] != "check" {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var runs []*matrix.Run
	for _, p := range os.Args[2:] {
		r, err := matrix.Load(p)
		if err != nil {
			fail(err)
		}
		runs = append(runs, r)
	}
	differs, err := matrix.Table(os.Stdout, runs)
	if err != nil {
		fail(err)
	}
	if differs {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nsconformance:", err)
	os.Exit(1)
}
