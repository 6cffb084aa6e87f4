package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"github.com/nsbench/nsbench/runtime"
)

// cmdPs is runc's ps: `--format json` prints the container's host pids as a
// JSON array (what containerd's shim asks for `docker top`); the table
// format runs the host's ps with the given options (default -ef) and keeps
// the header and the container's lines. Options after the id belong to ps.
func cmdPs(rt *runtime.Runtime, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "table", "table or json")
	fs.StringVar(format, "f", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() < 1 {
		return errors.New("ps: want a container id")
	}
	id, psArgs := fs.Arg(0), fs.Args()[1:]
	if *format != "table" && *format != "json" {
		return fmt.Errorf("ps: --format %q: use table or json", *format)
	}
	pids, err := rt.Pids(id)
	if err != nil {
		return err
	}
	if *format == "json" {
		if pids == nil {
			pids = []int{}
		}
		return json.NewEncoder(stdout).Encode(pids)
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ps: run ps %s: %w: %s", strings.Join(psArgs, " "), err, out)
	}
	lines := strings.Split(string(out), "\n")
	col := slices.Index(strings.Fields(lines[0]), "PID")
	if col < 0 {
		return fmt.Errorf("ps: ps %s printed no PID column (header %q); give options that show it", strings.Join(psArgs, " "), lines[0])
	}
	fmt.Fprintln(stdout, lines[0])
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) <= col {
			continue
		}
		if p, err := strconv.Atoi(f[col]); err == nil && slices.Contains(pids, p) {
			fmt.Fprintln(stdout, line)
		}
	}
	return nil
}
