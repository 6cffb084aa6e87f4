package compat

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nsbench/nsbench/internal/atomicfile"
)

// Result is one case or flow run by one runtime (through one engine).
type Result struct {
	// Kind is "bundle" or "engine".
	Kind string `json:"kind"`
	// Engine is "docker" or "podman" for an engine flow.
	Engine string `json:"engine,omitempty"`
	// Runtime is the OCI runtime's name ("runc", "nsrun").
	Runtime string `json:"runtime"`
	// Version is the runtime's (and engine's) version line.
	Version string `json:"version,omitempty"`
	// Case is the bundle case's or flow's name.
	Case string `json:"case"`
	// Pass: the flow did what it checks; for a bundle, the runtime ran it
	// (exit 0).
	Pass bool `json:"pass"`
	// Exit is the container's (or runtime's) exit status, for bundles.
	Exit int `json:"exit"`
	// Output is what the container printed, normalised (bundles), or what
	// the flow observed (engines).
	Output string `json:"output,omitempty"`
	// Error says why a flow failed, or what the runtime printed on stderr.
	Error string `json:"error,omitempty"`
	// Seconds is how long the case took.
	Seconds float64 `json:"seconds"`
}

// File is a results file.
type File struct {
	Host    string   `json:"host"`
	Results []Result `json:"results"`
}

// Write writes f as indented JSON, atomically.
func Write(path string, f *File) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

// Read reads a results file.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse results %s: %w", path, err)
	}
	return &f, nil
}

// BundleTable writes bundle results as a Markdown table: per case what it
// checks and whether nsrun's container came out as runc's, or why not.
func BundleTable(w io.Writer, cases []Case, rs []Result) {
	by := map[[2]string]Result{}
	for _, r := range rs {
		if r.Kind == "bundle" {
			by[[2]string{r.Case, r.Runtime}] = r
		}
	}
	fmt.Fprintln(w, "| case | what it checks | runc | nsrun | nsrun's container |\n|---|---|---|---|---|")
	status := func(r Result, ok bool) string {
		switch {
		case !ok:
			return "–"
		case r.Pass:
			return "runs"
		}
		return fmt.Sprintf("refuses (exit %d)", r.Exit)
	}
	for _, c := range cases {
		r, rok := by[[2]string{c.Name, "runc"}]
		n, nok := by[[2]string{c.Name, "nsrun"}]
		verdict := "–"
		switch {
		case rok && nok && Same(r, n):
			verdict = "the same"
		case rok && nok && c.Differs != "":
			verdict = "differs: " + c.Differs
		case rok && nok && c.DiffersBefore != nil:
			verdict = "differs from runc before " + c.DiffersBefore.Runc + ": " + c.DiffersBefore.Why
		case rok && nok:
			verdict = "**differs, unexplained**"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c.Name, oneLine(c.Why, 200), status(r, rok), status(n, nok), verdict)
	}
}

// Table writes results as a Markdown table: one row per case, one column
// per engine/runtime pair in the order first seen, "pass" or "FAIL: why".
func Table(w io.Writer, rs []Result) {
	var cols, rows []string
	cell := map[[2]string]Result{}
	for _, r := range rs {
		col := r.Runtime
		if r.Engine != "" {
			col = r.Engine + " + " + r.Runtime
		}
		if !contains(cols, col) {
			cols = append(cols, col)
		}
		if !contains(rows, r.Case) {
			rows = append(rows, r.Case)
		}
		cell[[2]string{r.Case, col}] = r
	}
	fmt.Fprintf(w, "| case | %s |\n|---|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
	for _, row := range rows {
		var cells []string
		for _, col := range cols {
			r, ok := cell[[2]string{row, col}]
			switch {
			case !ok:
				cells = append(cells, "–")
			case r.Pass:
				cells = append(cells, "pass")
			default:
				cells = append(cells, "FAIL: "+oneLine(r.Error, 80))
			}
		}
		fmt.Fprintf(w, "| %s | %s |\n", row, strings.Join(cells, " | "))
	}
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
