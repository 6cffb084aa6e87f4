// Command nscompat prints the tables of nsrun's compatibility with runc
// from the results the compat tests wrote (NSBENCH_COMPAT_OUT):
//
//	nscompat bundles testdata/compat/bundles results/compat/bundles.json
//	nscompat engines results/compat/engines.json
package main

import (
	"fmt"
	"os"

	"github.com/nsbench/nsbench/compat"
)

const usage = `usage: nscompat bundles CASES-DIR RESULTS.json
       nscompat engines RESULTS.json`

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "bundles":
		if len(os.Args) != 4 {
			fmt.Fprintln(os.Stderr, usage)
			os.Exit(2)
		}
		cases, err := compat.LoadCases(os.Args[2])
		if err != nil {
			fail(err)
		}
		f, err := compat.Read(os.Args[3])
		if err != nil {
			fail(err)
		}
		compat.BundleTable(os.Stdout, cases, f.Results)
	case "engines":
		f, err := compat.Read(os.Args[2])
		if err != nil {
			fail(err)
		}
		compat.Table(os.Stdout, f.Results)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nscompat:", err)
	os.Exit(1)
}
