// Package matrix turns the conformance suite's `go test -json` output into
// a results file per runtime and prints invariant × runtime tables.
package matrix

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
)

// Run is one run of the suite against one runtime on one kernel.
type Run struct {
	Runtime string   `json:"runtime"`
	Version string   `json:"version"`
	Kernel  string   `json:"kernel"`
	Euid    string   `json:"euid"`
	Results []Result `json:"results"`
}

// Result is one invariant's outcome: pass, fail, skip or policy.
type Result struct {
	Invariant string `json:"invariant"`
	Outcome   string `json:"outcome"`
	Detail    string `json:"detail,omitempty"`
}

type event struct {
	Action, Test, Output string
}

var header = regexp.MustCompile(`nsbench-conformance runtime=(\S+) version=("(?:[^"\\]|\\.)*"|\S+) kernel=(\S*) euid=(\S+)`)

// Parse reads `go test -json` events of the conformance package.
func Parse(r io.Reader) (*Run, error) {
	run := &Run{}
	detail := map[string]string{}
	outcome := map[string]string{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			continue // go test -json interleaves plain build output
		}
		if m := header.FindStringSubmatch(ev.Output); m != nil {
			run.Runtime, run.Kernel, run.Euid = m[1], m[3], m[4]
			run.Version = strings.Trim(m[2], `"`)
		}
		name, ok := strings.CutPrefix(ev.Test, "TestInvariants/")
		if !ok {
			continue
		}
		switch ev.Action {
		case "run":
			order = append(order, name)
		case "output":
			line := strings.TrimSpace(ev.Output)
			// t.Log lines read "file.go:NN: detail"; keep the detail.
			if i := strings.Index(line, ".go:"); i > 0 {
				if j := strings.Index(line[i+4:], ": "); j >= 0 {
					detail[name] = line[i+4+j+2:]
				}
			}
		case "pass", "fail", "skip":
			outcome[name] = ev.Action
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read go test -json output: %w", err)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no TestInvariants results in the input (did the suite run? look at its output)")
	}
	for _, name := range order {
		o, d := outcome[name], detail[name]
		if o == "skip" && strings.HasPrefix(d, "policy: ") {
			o, d = "policy", strings.TrimPrefix(d, "policy: ")
		}
		if o == "" {
			o = "fail" // started, never finished: a crash or timeout
		}
		run.Results = append(run.Results, Result{Invariant: name, Outcome: o, Detail: d})
	}
	return run, nil
}

// Table prints runs side by side: one row per invariant, one column per run.
func Table(w io.Writer, runs []*Run) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprint(tw, "invariant")
	for _, r := range runs {
		fmt.Fprintf(tw, "\t%s", r.Runtime)
	}
	fmt.Fprintln(tw)
	fmt.Fprint(tw, "")
	for _, r := range runs {
		fmt.Fprintf(tw, "\t(%s)", versionNumber(r.Version))
	}
	fmt.Fprintln(tw)
	var names []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, res := range r.Results {
			if !seen[res.Invariant] {
				seen[res.Invariant] = true
				names = append(names, res.Invariant)
			}
		}
	}
	for _, n := range names {
		fmt.Fprint(tw, n)
		for _, r := range runs {
			fmt.Fprintf(tw, "\t%s", outcomeOf(r, n))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	kernels := map[string]bool{}
	for _, r := range runs {
		kernels[r.Kernel] = true
	}
	var ks []string
	for k := range kernels {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	fmt.Fprintf(w, "kernel: %s\n", strings.Join(ks, ", "))
}

func outcomeOf(r *Run, name string) string {
	for _, res := range r.Results {
		if res.Invariant == name {
			return res.Outcome
		}
	}
	return "-"
}

func versionNumber(v string) string {
	for _, f := range strings.Fields(v) {
		if len(f) > 0 && f[0] >= '0' && f[0] <= '9' {
			return f
		}
	}
	return v
}
