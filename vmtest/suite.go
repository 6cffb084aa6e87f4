package vmtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nsbench/nsbench/conformance/matrix"
	"github.com/nsbench/nsbench/images"
	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/guest"
	"github.com/nsbench/nsbench/kernels"
)

// SuiteOptions select one cell of the kernel × arch matrix.
type SuiteOptions struct {
	Variant, Arch string
	// Runtime is the OCI runtime the suite drives in the guest: nsrun
	// (default), runc or crun, the latter two Debian's of the guest's arch.
	Runtime string
	// PerfSmoke adds a few seconds of fio and iperf3 in the guest.
	PerfSmoke bool
	// SelfTest also runs the suite's self-test (TestBrokenSettingsAreCaught:
	// every broken setting against the runtime) in the guest, which takes
	// several times as long as the invariants themselves under TCG.
	SelfTest bool
	// AufsSrc is the aufs-standalone checkout the aufs variant is built with.
	AufsSrc string
	// Programs are the image's programs (images.Programs) and the
	// compiled conformance suite (images.GuestConformance), built for Arch
	// by the caller.
	Programs map[string]string
	// KernelToolchain is kernels.Options.Toolchain: "" for the pinned
	// Debian 12 build root, "host" for the host's gcc.
	KernelToolchain string
	// OutDir receives console.log and the share (default
	// results/vm/<variant>-<arch>, with -<runtime> for runc and crun).
	OutDir  string
	Timeout time.Duration
	// Accel chooses QEMU's accelerator (the zero value probes KVM).
	Accel Accel
	// Log receives kernel build output and the run's own decisions (KVM
	// dropped for TCG); nil discards them.
	Log io.Writer
	// Notice receives the run's own decisions even when Log is nil.
	Notice io.Writer
}

// GuestRuntime returns the guest path of a runtime the image carries:
// nsrun (the default), or Debian's runc or crun of the guest's arch.
func GuestRuntime(name string) (string, error) {
	switch name {
	case "nsrun", "":
		return images.GuestNsrun, nil
	case "runc":
		return images.GuestRunc, nil
	case "crun":
		return images.GuestCrun, nil
	}
	return "", fmt.Errorf("unknown guest runtime %q: want nsrun, runc or crun", name)
}

// Kernel builds (or takes from the cache) the kernel o describes (variant,
// arch, aufs source, toolchain); distro is Debian's prebuilt one.
func Kernel(ctx context.Context, o kernels.Options) (*kernels.Kernel, error) {
	if o.Variant == "distro" {
		return kernels.Distro(ctx, kernels.DistroOptions{Arch: o.Arch, Log: o.Log})
	}
	return kernels.Build(ctx, o)
}

// RunConformance builds (or takes from the cache) the kernel and image,
// runs the conformance suite in the guest against the chosen runtime (and
// the perf smoke), prints the guest's go test output, the matrix and the
// smoke's numbers to w, and returns the guest suite's exit code (1 when
// the suite passed but the smoke failed).
func RunConformance(ctx context.Context, o SuiteOptions, w io.Writer) (int, error) {
	if o.Runtime == "" {
		o.Runtime = "nsrun"
	}
	rt, err := GuestRuntime(o.Runtime)
	if err != nil {
		return 0, err
	}
	if o.OutDir == "" {
		o.OutDir = filepath.Join("results", "vm", o.Variant+"-"+o.Arch)
		if o.Runtime != "nsrun" {
			o.OutDir += "-" + o.Runtime
		}
	}
	k, err := Kernel(ctx, kernels.Options{Variant: o.Variant, Arch: o.Arch, AufsSrc: o.AufsSrc, Toolchain: o.KernelToolchain, Log: o.Log})
	if err != nil {
		return 0, err
	}
	mods := make([]images.Module, 0, len(k.Modules))
	for _, m := range k.Modules {
		mods = append(mods, images.Module{Name: m.Name, Path: m.Path})
	}
	if o.Programs[images.GuestConformance] == "" {
		return 0, fmt.Errorf("no conformance suite binary given for %s", images.GuestConformance)
	}
	img, err := images.Build(ctx, images.Options{Arch: o.Arch, Log: o.Log, Tools: images.DefaultTools(), Modules: mods, Programs: o.Programs})
	if err != nil {
		return 0, err
	}
	if err := os.RemoveAll(o.OutDir); err != nil {
		return 0, fmt.Errorf("remove %s: %w", o.OutDir, err)
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return 0, fmt.Errorf("create %s: %w", o.OutDir, err)
	}
	// The kernel the results came from, with its source's checksum and
	// toolchain, beside them.
	kj, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return 0, fmt.Errorf("encode kernel metadata: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(o.OutDir, "kernel.json"), append(kj, '\n'), 0o644); err != nil {
		return 0, err
	}
	job := guest.Job{Sysctls: k.Sysctls, Tests: []guest.Test{{
		Name: "conformance", Path: images.GuestConformance, Args: suiteArgs(o.SelfTest),
		Env: []string{"NSBENCH_RUNTIME=" + rt, "NSBENCH_PROBE=" + images.GuestProbe, "NSBENCH_NSNET=" + images.GuestNsnet,
			"NSBENCH_CONFORMANCE_OUT=" + filepath.Join(guest.ShareMount, conformanceResults)},
	}}}
	checks := variantChecks(o.Variant)
	job.Tests = append(job.Tests, checks...)
	if o.PerfSmoke {
		job.Tests = append(job.Tests, perfSmokeTests()...)
	}
	res, err := Run(ctx, Options{
		Machine: Machine{Arch: o.Arch, Kernel: k.Image, Initramfs: img, Cmdline: k.Cmdline, Variant: o.Variant},
		Job:     job, Dir: o.OutDir, Timeout: o.Timeout, Accel: o.Accel, Log: o.Notice,
	})
	if err != nil {
		return 0, err
	}
	fmt.Fprint(w, res.Outputs["conformance"])
	// The suite wrote its results as JSON onto the share; the matrix is
	// built from that, as on the host.
	run, rerr := matrix.Load(filepath.Join(o.OutDir, "share", conformanceResults))
	if rerr == nil {
		run.Label = o.Runtime + "@" + o.Variant + "/" + o.Arch
		fmt.Fprintln(w)
		_, rerr = matrix.Table(w, []*matrix.Run{run})
	}
	if rerr != nil {
		fmt.Fprintf(w, "\nno conformance matrix: %v\n", rerr)
	}
	code := res.ExitCodes["conformance"]
	for _, c := range checks {
		fmt.Fprintln(w)
		if res.ExitCodes[c.Name] != 0 {
			fmt.Fprintf(w, "%s FAILED (exit %d):\n%s\n", c.Name, res.ExitCodes[c.Name], indent(res.Outputs[c.Name]))
			if code == 0 {
				code = 1
			}
			continue
		}
		fmt.Fprintf(w, "%s: ok\n%s\n", c.Name, indent(res.Outputs[c.Name]))
	}
	if o.PerfSmoke {
		fmt.Fprintln(w)
		if !reportPerfSmoke(w, res) && code == 0 {
			code = 1
		}
	}
	accel := res.Accel
	if res.AccelNote != "" {
		accel += " (" + res.AccelNote + ")"
	}
	fmt.Fprintf(w, "vmtest: kernel %s (%s, %s), runtime %s, accel %s, boot to /init %s, guest run %s, console %s, exit %d\n",
		k.Version, o.Variant, o.Arch, o.Runtime, accel, res.Boot.Round(100*time.Millisecond), res.Elapsed.Round(100*time.Millisecond), filepath.Join(o.OutDir, "console.log"), code)
	summary := RunSummary{
		Kernel: k.Version, Variant: o.Variant, Arch: o.Arch, Runtime: o.Runtime,
		Accel: res.Accel, AccelNote: res.AccelNote,
		BootSeconds: res.Boot.Seconds(), ElapsedSeconds: res.Elapsed.Seconds(), Exit: code,
	}
	if err := summary.write(filepath.Join(o.OutDir, SummaryFile)); err != nil {
		return code, err
	}
	return code, nil
}

// SummaryFile is the JSON summary of one guest run in its OutDir.
const SummaryFile = "run.json"

// RunSummary is what one guest run was and how it went, for tools and
// reports (people read the printed lines).
type RunSummary struct {
	Kernel  string `json:"kernel"`
	Variant string `json:"variant"`
	Arch    string `json:"arch"`
	Runtime string `json:"runtime"`
	// Accel is the accelerator the guest ran under; AccelNote why, when KVM
	// was dropped, not tried or forced.
	Accel          string  `json:"accel"`
	AccelNote      string  `json:"accel_note,omitempty"`
	BootSeconds    float64 `json:"boot_seconds"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Exit           int     `json:"exit"`
}

func (s RunSummary) write(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the run summary: %w", err)
	}
	return nil
}

// conformanceResults is the suite's results file on the share.
const conformanceResults = "conformance.json"

// variantChecks are guest jobs showing that what a variant is about is
// really in its kernel: the aufs kernel must list aufs and mount a union
// of two tmpfs branches that shows the upper branch's file.
func variantChecks(variant string) []guest.Test {
	switch variant {
	case "aufs":
		script := "set -e; grep -w aufs /proc/filesystems; mkdir -p /tmp/aufs/rw /tmp/aufs/ro /tmp/aufs/u; " +
			"echo upper > /tmp/aufs/rw/f; echo lower > /tmp/aufs/ro/g; " +
			"mount -t aufs -o br=/tmp/aufs/rw=rw:/tmp/aufs/ro=ro none /tmp/aufs/u; " +
			"grep aufs /proc/mounts; cat /tmp/aufs/u/f /tmp/aufs/u/g; umount /tmp/aufs/u"
		return []guest.Test{{Name: "aufs-check", Path: "/bin/sh", Args: []string{"-c", script}}}
	}
	return nil
}

// suiteArgs are the guest suite's arguments: every test, or the
// invariants alone.
func suiteArgs(selfTest bool) []string {
	args := []string{"-test.v", "-test.count=1"}
	if !selfTest {
		args = append(args, "-test.run", "^TestInvariants$")
	}
	return args
}
