package vmtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/nsbench/nsbench/conformance/matrix"
	"github.com/nsbench/nsbench/images"
	"github.com/nsbench/nsbench/kernels"
)

// SuiteOptions select one cell of the kernel × arch matrix.
type SuiteOptions struct {
	Variant, Arch string
	// OutDir receives console.log and the share (default results/vm/<variant>-<arch>).
	OutDir  string
	Timeout time.Duration
	// Log receives kernel build output; nil discards it.
	Log io.Writer
}

// RunConformance builds (or takes from the cache) the kernel and image,
// runs the conformance suite in the guest against nsrun, prints the guest's
// go test output and the matrix to w, and returns the guest suite's exit
// code.
func RunConformance(ctx context.Context, o SuiteOptions, w io.Writer) (int, error) {
	if o.OutDir == "" {
		o.OutDir = filepath.Join("results", "vm", o.Variant+"-"+o.Arch)
	}
	k, err := kernels.Build(ctx, kernels.Options{Variant: o.Variant, Arch: o.Arch, Log: o.Log})
	if err != nil {
		return 0, err
	}
	img, err := images.Build(ctx, images.Options{Arch: o.Arch, Log: o.Log})
	if err != nil {
		return 0, err
	}
	if err := os.RemoveAll(o.OutDir); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return 0, err
	}
	job := images.Job{Sysctls: k.Sysctls, Tests: []images.Test{{
		Name: "conformance", Path: images.GuestConformance, Args: []string{"-test.v", "-test.count=1"},
		Env: []string{"NSBENCH_RUNTIME=" + images.GuestNsrun, "NSBENCH_PROBE=" + images.GuestProbe, "NSBENCH_NSNET=" + images.GuestNsnet},
	}}}
	res, err := Run(ctx, Options{
		Machine: Machine{Arch: o.Arch, Kernel: k.Image, Initramfs: img, Cmdline: k.Cmdline, Variant: o.Variant},
		Job:     job, Dir: o.OutDir, Timeout: o.Timeout,
	})
	if err != nil {
		return 0, err
	}
	out := res.Outputs["conformance"]
	fmt.Fprint(w, out)
	// The guest printed plain `go test -v`; test2json turns it into the
	// events the matrix reads, as on the host.
	conv := exec.CommandContext(ctx, "go", "tool", "test2json", "-p", "conformance")
	conv.Stdin = bytes.NewReader([]byte(out))
	events, err := conv.Output()
	if err == nil {
		if run, err := matrix.Parse(bytes.NewReader(events)); err == nil {
			run.Runtime = "nsrun@" + o.Variant + "/" + o.Arch
			fmt.Fprintln(w)
			matrix.Table(w, []*matrix.Run{run})
		}
	}
	code := res.ExitCodes["conformance"]
	fmt.Fprintf(w, "vmtest: kernel %s (%s, %s), accel %s, guest run %s, console %s, exit %d\n",
		k.Version, o.Variant, o.Arch, res.Accel, res.Elapsed.Round(100*time.Millisecond), filepath.Join(o.OutDir, "console.log"), code)
	return code, nil
}
