// Command nsconformance prints the conformance matrix.
//
//	go test -json ./conformance/ | nsconformance parse -o results/conformance-runc.json
//	nsconformance table results/conformance-*.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsbench/nsbench/conformance/matrix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nsconformance parse [-o FILE] < go-test-json | nsconformance table FILE...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "parse":
		fs := flag.NewFlagSet("parse", flag.ExitOnError)
		out := fs.String("o", "", "write the run as JSON here")
		_ = fs.Parse(os.Args[2:])
		run, err := matrix.Parse(os.Stdin)
		if err != nil {
			fail(err)
		}
		if *out != "" {
			data, _ := json.MarshalIndent(run, "", "  ")
			if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
				fail(err)
			}
			if err := os.WriteFile(*out, data, 0o644); err != nil {
				fail(err)
			}
		}
		matrix.Table(os.Stdout, []*matrix.Run{run})
		for _, r := range run.Results {
			if r.Outcome == "fail" {
				os.Exit(1)
			}
		}
	case "table":
		var runs []*matrix.Run
		for _, p := range os.Args[2:] {
			data, err := os.ReadFile(p)
			if err != nil {
				fail(err)
			}
			var r matrix.Run
			if err := json.Unmarshal(data, &r); err != nil {
				fail(fmt.Errorf("decode %s: %w", p, err))
			}
			runs = append(runs, &r)
		}
		matrix.Table(os.Stdout, runs)
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "nsconformance:", err)
	os.Exit(1)
}
