package vmtest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/images"
	"github.com/nsbench/nsbench/internal/guest"
	"github.com/nsbench/nsbench/kernels"
)

// StartcostOptions select the guest `nsbench startcost` runs in.
type StartcostOptions struct {
	Variant, Arch string
	// KernelImage, when set, is a kernel already built for Variant and
	// Arch (a cache entry's bzImage), used as it is: nothing is built.
	KernelImage string
	// Rounds is startcost's -n.
	Rounds int
	// Programs are the image's programs (images.Programs), built for Arch
	// by the caller.
	Programs map[string]string
	// Extra are more builds to compare, LABEL=PATH as for `nsbench
	// startcost` (nsrun@LABEL rows are compared step by step); PATH is a
	// static binary for Arch on this host, carried into the image.
	Extra []string
	// OutDir receives console.log, the share and startcost.json.
	OutDir  string
	Timeout time.Duration
	Accel   Accel
	Log     io.Writer
}

// startcostResults is the guest's results file on the share.
const startcostResults = "startcost.json"

// RunStartcost boots the kernel and runs `nsbench startcost` in the guest,
// nsrun against Debian's runc and crun of the guest's arch: the start-cost
// comparison on a cgroup v2 host (the guest init mounts cgroup2 alone, so
// no runtime needs anything hidden). It prints the guest's tables to w and
// leaves the JSON results in OutDir.
func RunStartcost(ctx context.Context, o StartcostOptions, w io.Writer) error {
	if o.OutDir == "" {
		o.OutDir = filepath.Join("results", "vm", "startcost-"+o.Variant+"-"+o.Arch)
	}
	if o.Rounds < 2 {
		o.Rounds = 20
	}
	// The extra builds are checked before a kernel is built or booted.
	progs := maps.Clone(o.Programs)
	if progs == nil {
		progs = map[string]string{}
	}
	runtimes := []string{"nsrun", "runc=" + images.GuestRunc, "crun=" + images.GuestCrun}
	for i, e := range o.Extra {
		label, p, ok := strings.Cut(e, "=")
		if !ok || label == "" || p == "" {
			return fmt.Errorf("extra build %q: want LABEL=PATH, e.g. nsrun@jsonv2=bin/nsrun-jsonv2", e)
		}
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("extra build %s: %w", label, err)
		}
		gp := fmt.Sprintf("/usr/local/bin/startcost-extra-%d", i)
		progs[gp] = p
		runtimes = append(runtimes, label+"="+gp)
	}
	k := &kernels.Kernel{Image: o.KernelImage, Variant: o.Variant, Arch: o.Arch}
	if o.KernelImage == "" {
		var err error
		if k, err = Kernel(ctx, kernels.Options{Variant: o.Variant, Arch: o.Arch, Log: o.Log}); err != nil {
			return err
		}
	}
	mods := make([]images.Module, 0, len(k.Modules))
	for _, m := range k.Modules {
		mods = append(mods, images.Module{Name: m.Name, Path: m.Path})
	}
	img, err := images.Build(ctx, images.Options{Arch: o.Arch, Log: o.Log, Tools: images.DefaultTools(), Modules: mods, Programs: progs})
	if err != nil {
		return err
	}
	if err := os.RemoveAll(o.OutDir); err != nil {
		return fmt.Errorf("remove %s: %w", o.OutDir, err)
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", o.OutDir, err)
	}
	job := guest.Job{Sysctls: k.Sysctls, Tests: []guest.Test{{
		Name: "startcost", Path: images.GuestNsbench,
		Args: append([]string{"startcost", "-n", strconv.Itoa(o.Rounds), "-nsrun", images.GuestNsrun,
			"-out", filepath.Join(guest.ShareMount, startcostResults),
		}, runtimes...),
	}}}
	res, err := Run(ctx, Options{
		Machine: Machine{Arch: o.Arch, Kernel: k.Image, Initramfs: img, Cmdline: k.Cmdline, Variant: o.Variant},
		Job:     job, Dir: o.OutDir, Timeout: o.Timeout, Accel: o.Accel, Log: o.Log,
	})
	if err != nil {
		return err
	}
	fmt.Fprint(w, res.Outputs["startcost"])
	accel := res.Accel
	if res.AccelNote != "" {
		accel += " (" + res.AccelNote + ")"
	}
	fmt.Fprintf(w, "\nvmtest startcost: kernel %s (%s, %s), accel %s, guest run %s, results %s\n",
		k.Version, o.Variant, o.Arch, accel, res.Elapsed.Round(100*time.Millisecond), filepath.Join(o.OutDir, "share", startcostResults))
	if code := res.ExitCodes["startcost"]; code != 0 {
		return fmt.Errorf("nsbench startcost in the guest exited %d", code)
	}
	return nil
}
