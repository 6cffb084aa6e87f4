// Package matrix is the conformance suite's results as data: the run the
// suite writes as JSON (a file on the host, the share in a VM guest), and
// the invariant × runtime tables built from those files, with each
// reference runtime's known findings named and any difference from
// conformance/expected called out.
package matrix

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/nsbench/nsbench/conformance/expected"
	"github.com/nsbench/nsbench/internal/atomicfile"
)

// Run is one run of the suite against one runtime on one kernel.
type Run struct {
	// Runtime is the runtime binary's name (nsrun, runc, crun).
	Runtime string `json:"runtime"`
	// Version is the first line of its --version.
	Version string `json:"version"`
	Kernel  string `json:"kernel"`
	Euid    int    `json:"euid"`
	// Label, when set, heads the run's column instead of Runtime (a VM
	// cell: nsrun@hardened/arm64).
	Label   string   `json:"label,omitempty"`
	Results []Result `json:"results"`
}

// Result is one invariant's outcome: pass, fail, skip or policy.
type Result struct {
	Invariant string `json:"invariant"`
	Outcome   string `json:"outcome"`
	Detail    string `json:"detail,omitempty"`
	// Known is the advisory of a failure conformance/expected lists for
	// this runtime version.
	Known string `json:"known,omitempty"`
}

// Load reads a run the suite wrote.
func Load(path string) (*Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read conformance results: %w", err)
	}
	var r Run
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode conformance results %s: %w", path, err)
	}
	if len(r.Results) == 0 {
		return nil, fmt.Errorf("%s holds no results: the suite did not get to run an invariant (see its output)", path)
	}
	return &r, nil
}

// Write stores the run as JSON at path, atomically.
func (r *Run) Write(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode conformance results: %w", err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

// Mode is root or rootless.
func (r *Run) Mode() string { return expected.Mode(r.Euid) }

func (r *Run) name() string {
	if r.Label != "" {
		return r.Label
	}
	return r.Runtime
}

// Check compares the run with conformance/expected: the known findings it
// shows, and every difference (an unexpected failure, a known one that no
// longer fails, any failure of nsrun).
func (r *Run) Check() (known []string, diffs []string, err error) {
	exp, err := expected.For(r.Runtime, r.Version)
	if err != nil {
		return nil, nil, err
	}
	v := expected.Version(r.Version)
	for _, res := range r.Results {
		k, diff := exp.Judge(r.Runtime, r.Version, res.Invariant, res.Outcome, r.Mode())
		if k != nil {
			known = append(known, fmt.Sprintf("%s %s (%s): vulnerable to %s (%s)", r.Runtime, v, r.Mode(), res.Invariant, k.Advisory))
		}
		if diff != "" {
			diffs = append(diffs, fmt.Sprintf("%s: %s", r.name(), diff))
		}
	}
	return known, diffs, nil
}

// Table prints runs side by side, one row per invariant and one column per
// run, then the known findings and the differences from conformance/expected.
// It returns whether any run differs.
func Table(w io.Writer, runs []*Run) (bool, error) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprint(tw, "invariant")
	for _, r := range runs {
		fmt.Fprintf(tw, "\t%s", r.name())
	}
	fmt.Fprintln(tw)
	fmt.Fprint(tw, "")
	for _, r := range runs {
		fmt.Fprintf(tw, "\t(%s, %s)", versionNumber(r.Version), r.Mode())
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
	var known, diffs []string
	for _, r := range runs {
		k, d, err := r.Check()
		if err != nil {
			return false, err
		}
		known, diffs = append(known, k...), append(diffs, d...)
	}
	for _, n := range names {
		fmt.Fprint(tw, n)
		for _, r := range runs {
			fmt.Fprintf(tw, "\t%s", cell(r, n))
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
	if len(known) > 0 {
		fmt.Fprintln(w, "known findings (conformance/expected):")
		for _, k := range known {
			fmt.Fprintln(w, "  "+k)
		}
	}
	if len(diffs) > 0 {
		fmt.Fprintln(w, "DIFFERENT FROM THE EXPECTED OUTCOMES:")
		for _, d := range diffs {
			fmt.Fprintln(w, "  "+d)
		}
	}
	return len(diffs) > 0, nil
}

// cell is a run's outcome of invariant n: a known failure reads
// "vulnerable", an invariant the run does not have "-".
func cell(r *Run, n string) string {
	exp, _ := expected.For(r.Runtime, r.Version)
	for _, res := range r.Results {
		if res.Invariant != n {
			continue
		}
		if res.Outcome == "fail" && exp.Known(n, r.Mode()) != nil {
			return "vulnerable"
		}
		return res.Outcome
	}
	return "-"
}

func versionNumber(v string) string {
	if n := expected.Version(v); n != "" {
		return n
	}
	return v
}
