// Package rtbench times OCI runtimes at the one thing they all do: run a
// trivial container from the same bundle. Runs are interleaved across
// runtimes (A B C A B C ...) so drift on a busy machine hits all alike.
package rtbench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/internal/bundle"
	"github.com/nsbench/nsbench/internal/oci"
)

// Result is one runtime's samples.
type Result struct {
	Runtime, Version string
	Samples          []time.Duration
	Err              error
}

// Median of the samples.
func (r *Result) Median() time.Duration { return Quantile(r.Samples, 0.5) }

// Quantile returns the q-quantile (0..1) by nearest rank.
func Quantile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s)-1) + 0.5)
	return s[i]
}

// Run times n runs of `/bin/true` per runtime. Each runtime gets its own
// state root under dir; a runtime that fails once is dropped with its error.
func Run(ctx context.Context, runtimes []*oci.Runtime, dir string, n int) ([]*Result, error) {
	return RunWith(ctx, runtimes, dir, n, nil)
}

// RunWith is Run with the bundle's config adjusted by configure first (an
// engine's seccomp profile, say).
func RunWith(ctx context.Context, runtimes []*oci.Runtime, dir string, n int, configure func(*specs.Spec) error) ([]*Result, error) {
	b, err := bundle.New(filepath.Join(dir, "bundle"), bundle.Options{Args: []string{"/bin/true"}, Rootless: os.Geteuid() != 0})
	if err != nil {
		return nil, err
	}
	if configure != nil {
		if err := configure(b.Spec); err != nil {
			return nil, err
		}
		if err := b.Save(); err != nil {
			return nil, err
		}
	}
	results := make([]*Result, len(runtimes))
	for i, r := range runtimes {
		v, err := r.Version(ctx)
		results[i] = &Result{Runtime: r.Name, Version: v, Err: err}
	}
	for k := 0; k < n; k++ {
		for i, r := range runtimes {
			res := results[i]
			if res.Err != nil {
				continue
			}
			id := "rtbench-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(k)
			start := time.Now()
			code, err := r.Run(ctx, id, b.Dir, oci.IO{})
			elapsed := time.Since(start)
			if err != nil || code != 0 {
				res.Err = fmt.Errorf("%s run %s: exit %d: %v", r.Name, id, code, err)
				_ = r.Delete(ctx, id, true)
				continue
			}
			res.Samples = append(res.Samples, elapsed)
		}
	}
	return results, nil
}

// Print writes the table: median, p10 and p90 per runtime.
func Print(w io.Writer, results []*Result) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "runtime\truns\tmedian\tp10\tp90\tversion\t")
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\t\n", r.Runtime, "error: "+r.Err.Error())
			continue
		}
		ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", r.Runtime, len(r.Samples), ms(r.Median()), ms(Quantile(r.Samples, 0.1)), ms(Quantile(r.Samples, 0.9)), r.Version)
	}
	tw.Flush()
}
