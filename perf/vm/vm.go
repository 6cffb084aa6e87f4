// Package vm makes the kernel a dimension of a benchmark run: it boots QEMU
// guests with each kernel variant (one image, one QEMU setup, one
// accelerator for all of them), runs the matrix inside with nsbench itself,
// brings every raw sample back over the 9p share as JSON and merges it
// into one results file, each sample tagged with the kernel it ran on.
//
// Design against drift: every boot runs one block of repetitions of the
// whole matrix on one kernel, and the kernels alternate between boots in a
// balanced order (stock, hardened; hardened, stock; ...: with three kernels
// each also follows each other equally often), so a slow drift of the host
// hits every kernel alike and none always runs first. A guest that crashes
// or hangs loses nothing already saved (the guest writes its results file
// on the share after every sample); the block is recorded as failed and
// -resume boots it again, the guest skipping what it already has.
//
// This file is over 500 lines because the plan of blocks, the boot of
// one, the merge of what it brought back and the resume check share the
// block and results types and must agree on what "done" means.
package vm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsbench/nsbench/images"
	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/guest"
	"github.com/nsbench/nsbench/internal/order"
	"github.com/nsbench/nsbench/kernels"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/runner"
	"github.com/nsbench/nsbench/vmtest"
)

// Guest paths of a benchmark boot: the scratch disk's and the tool disk's
// mounts, and the config and results file on the share.
const (
	Scratch     = "/scratch"
	toolMount   = "/tools"
	configFile  = "config.json"
	resultsFile = "results.json"
)

// Options of a kernel run.
type Options struct {
	// Config is the matrix; its Kernels, Arch and VM fields are read here.
	Config runner.Config
	// Kernels are the variants' kernels, in the order of the first round;
	// the first is the baseline of the kernel comparison.
	Kernels []*kernels.Kernel
	// Image is the guest image (Image builds it): the same for every kernel.
	Image string
	// ToolDisk, if not nil, is attached read-only to every guest and laid
	// over its root (ToolDisk builds it).
	ToolDisk *images.Disk
	// Out is the results file; Resume continues it.
	Out    string
	Resume bool
	// Dir keeps each boot's share, console log and scratch disk.
	Dir string
	// Accel chooses the first boot's accelerator; every later boot (and a
	// resumed run) uses the one it ran under.
	Accel vmtest.Accel
	// Timeout bounds one boot; Hang fails it when the guest's console and
	// share stay unchanged that long (defaults: 2 h, 5 min).
	Timeout, Hang time.Duration
	// Log receives one line per boot and the accelerator's decisions.
	Log io.Writer
}

// Defaults of the guests' machine.
const (
	defaultMemoryMiB = 2048
	defaultDiskMiB   = 2048
)

func cpusOf(cfg runner.Config, arch string) int {
	if cfg.VM != nil && cfg.VM.CPUs > 0 {
		return cfg.VM.CPUs
	}
	if arch == "arm64" {
		return 4 // the Raspberry Pi 4's cores
	}
	return 2
}

func memOf(cfg runner.Config) int {
	if cfg.VM != nil && cfg.VM.MemoryMiB > 0 {
		return cfg.VM.MemoryMiB
	}
	return defaultMemoryMiB
}

func diskOf(cfg runner.Config) int {
	if cfg.VM != nil && cfg.VM.DiskMiB > 0 {
		return cfg.VM.DiskMiB
	}
	return defaultDiskMiB
}

func blockOf(cfg runner.Config) int {
	if cfg.VM != nil && cfg.VM.BlockReps > 0 {
		return cfg.VM.BlockReps
	}
	return 1
}

// guestEnvTools are the environments a guest image can carry and the
// Debian tool each needs in the initramfs (native and nsrun need none:
// nsrun is one of the image's own programs; the engines' own programs are
// on the tool disk, engineTools, and they run their containers with runc).
func guestEnvTools() map[string][]images.Tool {
	runc := images.Tool{Package: "runc", Path: images.GuestRunc}
	return map[string][]images.Tool{
		"native": nil, "nsrun": nil,
		"runc":   {runc},
		"crun":   {{Package: "crun", Path: images.GuestCrun}},
		"docker": {runc},
		"podman": {runc},
	}
}

// engineTools are the programs of an engine that go on the tool disk, and
// the configuration files it reads: dockerd starts containerd, which
// starts its shim; podman runs conmon, and reads the image trust policy
// (import checks it) and the default seccomp profile.
func engineTools(kind string) (tools, files []images.Tool) {
	switch kind {
	case "docker":
		return []images.Tool{{Package: "docker.io", Path: "/usr/sbin/dockerd"}, {Package: "docker.io", Path: "/usr/bin/docker"},
			{Package: "containerd", Path: "/usr/bin/containerd"}, {Package: "containerd", Path: "/usr/bin/containerd-shim-runc-v2"}}, nil
	case "podman":
		common := "golang-github-containers-common"
		return []images.Tool{{Package: "podman", Path: "/usr/bin/podman"}, {Package: "conmon", Path: "/usr/bin/conmon"}},
			[]images.Tool{{Package: common, Path: "/etc/containers/policy.json"}, {Package: common, Path: "/usr/share/containers/seccomp.json"}}
	}
	return nil, nil
}

// GuestEnvs splits the config's environments into those a guest runs and
// the others, with the reason for each of those.
func GuestEnvs(cfg runner.Config) (in []string, out map[string]string) {
	out = map[string]string{}
	carried := guestEnvTools()
	for _, e := range cfg.Envs {
		if _, ok := carried[e]; ok {
			in = append(in, e)
			continue
		}
		out[e] = "not available in a VM guest"
	}
	return in, out
}

// Tools are the Debian tools the guest image needs for cfg: the
// workloads' and the guest environments' runtimes.
func Tools(cfg runner.Config) []images.Tool {
	var out []images.Tool
	seen := map[string]bool{}
	add := func(t images.Tool) {
		if !seen[t.Path] {
			seen[t.Path] = true
			out = append(out, t)
		}
	}
	for _, t := range cfg.Tools() {
		add(images.Tool{Package: t.Package, Path: t.Path})
	}
	in, _ := GuestEnvs(cfg)
	for _, e := range in {
		for _, t := range guestEnvTools()[e] {
			add(t)
		}
	}
	return out
}

// ToolDisk builds (or finds in the cache) the tool disk with the engines
// of cfg's environments; nil when cfg runs no engine.
func ToolDisk(ctx context.Context, cfg runner.Config, arch string, log io.Writer) (*images.Disk, error) {
	var tools, files []images.Tool
	in, _ := GuestEnvs(cfg)
	for _, e := range in {
		t, f := engineTools(e)
		tools, files = append(tools, t...), append(files, f...)
	}
	if len(tools) == 0 {
		return nil, nil
	}
	return images.BuildDisk(ctx, images.DiskOptions{Arch: arch, Tools: tools, Files: files, Log: log})
}

// Image builds (or finds in the cache) the guest image for cfg: the
// programs (images.Programs, built for arch by the caller), the tools the
// workloads and environments need, and the modules of every kernel that
// has any (the distro kernel), so all kernels boot the same image.
func Image(ctx context.Context, cfg runner.Config, arch string, ks []*kernels.Kernel, programs map[string]string, log io.Writer) (string, error) {
	var mods []images.Module
	seen := map[string]bool{}
	for _, k := range ks {
		for _, m := range k.Modules {
			if !seen[m.Name] {
				seen[m.Name] = true
				mods = append(mods, images.Module{Name: m.Name, Path: m.Path})
			}
		}
	}
	return images.Build(ctx, images.Options{Arch: arch, Log: log, Tools: Tools(cfg), Modules: mods, Programs: programs})
}

// block is one planned boot.
type block struct {
	boot   int
	kernel *kernels.Kernel
	reps   []int
}

// plan orders the boots: round r runs repetitions [r·B, (r+1)·B) on every
// kernel, in round r's balanced order (package order).
func plan(ks []*kernels.Kernel, reps, per int) []block {
	var out []block
	for r := 0; r*per < reps; r++ {
		var rs []int
		for i := r * per; i < min((r+1)*per, reps); i++ {
			rs = append(rs, i)
		}
		for _, kk := range order.Of(ks, r) {
			out = append(out, block{boot: len(out), kernel: kk, reps: rs})
		}
	}
	return out
}

// Design describes the order of boots, for the results file and report.
func Design(nKernels, per int) string {
	if nKernels < 2 {
		return fmt.Sprintf("one kernel; each boot runs %d repetition(s) of the whole matrix", per)
	}
	return fmt.Sprintf("kernels alternate between boots, each boot running %d repetition(s) of the whole matrix on one kernel; "+
		"the kernels' order is balanced over the rounds (A B, B A, A B, ...; with three, each also follows each other equally often), "+
		"so drift of the host spreads over every kernel and none always runs first", per)
}

// KernelInfo describes a kernel for the results file: its version, the
// hash of its final configuration, and the values of every option that
// some kernel of the run asks for beyond the common base.
func KernelInfo(k *kernels.Kernel, all []*kernels.Kernel) (results.Kernel, error) {
	ki := results.Kernel{Variant: k.Variant, Version: k.Version, BuildKey: k.Key, Cmdline: k.Cmdline, Sysctls: k.Sysctls,
		Options: map[string]string{}}
	text, err := os.ReadFile(k.ConfigPath)
	if err != nil {
		return ki, fmt.Errorf("kernel %s: read its config: %w", k.Variant, err)
	}
	sum := sha256.Sum256(text)
	ki.ConfigHash = hex.EncodeToString(sum[:8])
	final, err := kernels.ParseConfig(k.ConfigPath, string(text))
	if err != nil {
		return ki, err
	}
	for _, other := range all {
		opts, err := kernels.VariantOptions(other.Variant, other.Arch)
		if err != nil {
			return ki, err
		}
		for o := range opts {
			v := final[o]
			if v == "" {
				v = "n"
			}
			ki.Options[o] = strings.Trim(v, `"`)
		}
	}
	return ki, nil
}

// Run boots the blocks that are not done yet and returns the results file.
func Run(ctx context.Context, o Options) (*results.File, error) {
	cfg := o.Config
	if len(o.Kernels) == 0 {
		return nil, errors.New("vm: no kernels")
	}
	if cfg.Precision != nil {
		return nil, errors.New("precision (adaptive repetitions) does not combine with kernels: each boot runs a fixed block of repetitions; drop the precision section or the kernels")
	}
	arch := o.Kernels[0].Arch
	for _, k := range o.Kernels {
		if k.Arch != arch {
			return nil, fmt.Errorf("vm: kernel %s is for %s, %s for %s: one arch per run", o.Kernels[0].Variant, arch, k.Variant, k.Arch)
		}
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Hour
	}
	guestEnvs, notCarried := GuestEnvs(cfg)
	f, err := start(o, arch, notCarried)
	if err != nil {
		return nil, err
	}
	guestEnvs = startedWith(f, guestEnvs)
	if err := f.Save(o.Out); err != nil {
		return nil, err
	}
	for _, b := range plan(o.Kernels, cfg.Repetitions, blockOf(cfg)) {
		if done(f, b) {
			continue
		}
		if err := boot(ctx, o, f, b, guestEnvs); err != nil {
			return f, err
		}
	}
	return f, nil
}

// start makes the results file, or continues the one there with -resume
// when it holds the same kernels and guest machine.
func start(o Options, arch string, notCarried map[string]string) (*results.File, error) {
	cfg := o.Config
	var variants []string
	for _, k := range o.Kernels {
		variants = append(variants, k.Variant)
	}
	f := &results.File{Version: results.Version, Config: cfg.Name, Created: time.Now().UTC(), Machine: results.DescribeMachine(),
		Runtimes: map[string]string{}, Skipped: map[string]string{}, Kernels: map[string]results.Kernel{},
		VM: &results.VMRun{Arch: arch, CPUs: cpusOf(cfg, arch), MemoryMiB: memOf(cfg), Kernels: variants,
			Disk:   fmt.Sprintf("virtio-blk, a %d MiB raw image (cache=none, aio=native on the host), ext4 made before every boot without lazy init, mounted at %s", diskOf(cfg), Scratch),
			Design: Design(len(o.Kernels), blockOf(cfg))}}
	if o.Resume {
		old, err := results.Load(o.Out)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		case old.Config != cfg.Name || old.VM == nil:
			return nil, fmt.Errorf("resume %s: it holds %q, not a kernel run of %q", o.Out, old.Config, cfg.Name)
		case !slices.Equal(old.VM.Kernels, variants) || old.VM.Arch != arch || old.VM.CPUs != f.VM.CPUs || old.VM.MemoryMiB != f.VM.MemoryMiB:
			return nil, fmt.Errorf("resume %s: it ran kernels %v on %s with %d CPUs and %d MiB, not %v on %s with %d and %d: start a new results file",
				o.Out, old.VM.Kernels, old.VM.Arch, old.VM.CPUs, old.VM.MemoryMiB, variants, arch, f.VM.CPUs, f.VM.MemoryMiB)
		default:
			f = old
		}
	}
	for _, k := range o.Kernels {
		ki, err := KernelInfo(k, o.Kernels)
		if err != nil {
			return nil, err
		}
		if old, ok := f.Kernels[k.Variant]; ok && old.ConfigHash != ki.ConfigHash {
			return nil, fmt.Errorf("resume %s: kernel %s had config %s, this one has %s: not the same kernel", o.Out, k.Variant, old.ConfigHash, ki.ConfigHash)
		}
		f.Kernels[k.Variant] = ki
	}
	for e, why := range notCarried {
		f.Skipped[e] = why
	}
	return f, nil
}

// aufsDocker is the environment the aufs kernel's guests add: docker with
// the aufs storage driver, as seed 000's Docker ran.
const aufsDocker = "docker:storage=aufs"

// kernelEnvs are the environments a guest of the variant runs: on the aufs
// kernel, aufsDocker beside docker. Plain docker (overlay2) stays, because
// it is what pairs with the other kernels' docker; aufsDocker against
// native on the aufs kernel is seed 000's setup.
func kernelEnvs(variant string, envs []string) []string {
	i := slices.Index(envs, "docker")
	if variant != "aufs" || i < 0 {
		return envs
	}
	return slices.Insert(slices.Clone(envs), i+1, aufsDocker)
}

// startedWith drops from envs those the run's file lists as not carried
// into its guests: a resumed run keeps the environments it began with
// (docker and podman were not carried before the tool disk). Added half-way,
// an environment's early repetitions would be measured in later boots and
// paired with native samples of other boots, and drift between boots would
// pass for its cost.
func startedWith(f *results.File, envs []string) []string {
	return slices.DeleteFunc(slices.Clone(envs), func(e string) bool {
		_, skipped := f.Skipped[e]
		return skipped
	})
}

// done tells whether every cell of b's kernel has b's repetitions, and the
// block was recorded as done.
func done(f *results.File, b block) bool {
	for _, rec := range f.VM.Blocks {
		if rec.Kernel == b.kernel.Variant && slices.Equal(rec.Reps, b.reps) && rec.Done {
			return true
		}
	}
	return false
}

// guestConfig is the matrix as the guest runs it: its environments, no
// kernel fields, repetitions up to the block's last (the guest skips the
// ones it is given).
func guestConfig(cfg runner.Config, envs []string, b block) runner.Config {
	g := cfg
	g.Kernels, g.Arch, g.VM = nil, "", nil
	g.Envs = envs
	g.Repetitions = b.reps[len(b.reps)-1] + 1
	return g
}

// seed is the guest's results file before the boot: what the host has of
// this kernel (so the guest resumes rather than repeats), the calibration
// (so every kernel runs the same sizes) and the guest's machine.
func seed(f *results.File, variant string) *results.File {
	if f.VM.GuestMachine == nil {
		return nil // the first boot: the guest starts its own file
	}
	s := &results.File{Version: results.Version, Config: f.Config, Created: time.Now().UTC(), Machine: *f.VM.GuestMachine,
		Runtimes: map[string]string{}, Skipped: map[string]string{}, Calibration: f.Calibration}
	for _, c := range f.Cells {
		if c.Kernel != variant {
			continue
		}
		gc := c
		gc.Kernel = ""
		gc.Key = strings.TrimSuffix(c.Key, " kernel="+variant)
		gc.Failed = ""
		s.Cells = append(s.Cells, gc)
	}
	return s
}

// boot runs one block in a guest and merges what came back, also when the
// guest failed half-way.
func boot(ctx context.Context, o Options, f *results.File, b block, envs []string) error {
	cfg := o.Config
	k := b.kernel
	dir := filepath.Join(o.Dir, fmt.Sprintf("boot%02d-%s", b.boot, k.Variant))
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	share := filepath.Join(dir, "share")
	if err := os.MkdirAll(share, 0o777); err != nil {
		return fmt.Errorf("create %s: %w", share, err)
	}
	gcfg, err := json.MarshalIndent(guestConfig(cfg, kernelEnvs(k.Variant, envs), b), "", " ")
	if err != nil {
		return fmt.Errorf("encode the guest's config: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(share, configFile), gcfg, 0o644); err != nil {
		return err
	}
	if s := seed(f, k.Variant); s != nil {
		if err := s.Save(filepath.Join(share, resultsFile)); err != nil {
			return err
		}
	}
	disk := filepath.Join(dir, "scratch.img")
	if err := makeDisk(ctx, disk, diskOf(cfg)); err != nil {
		return err
	}
	defer os.Remove(disk)

	job := guest.Job{Sysctls: k.Sysctls,
		Mounts: []guest.Mount{{Source: "/dev/vda", Target: Scratch, FSType: "ext4"}},
		Tests: []guest.Test{{Name: "nsbench", Path: images.GuestNsbench, Args: []string{"run",
			"-config", filepath.Join(guest.ShareMount, configFile), "-out", filepath.Join(guest.ShareMount, resultsFile), "-resume",
			"-state", Scratch + "/state", "-scratch", Scratch + "/data",
			"-nsrun", images.GuestNsrun, "-nsnet", images.GuestNsnet, "-cpu-bin", images.GuestCPU}}}}
	acc := o.Accel
	if f.VM.Accel != "" {
		if acc.Force != "" && acc.Force != f.VM.Accel {
			return fmt.Errorf("the run's earlier boots ran under %s, not %s: every kernel must run under the same accelerator (start a new results file to change it)", f.VM.Accel, acc.Force)
		}
		acc.Force = f.VM.Accel
	}
	m := vmtest.Machine{Arch: k.Arch, Kernel: k.Image, Initramfs: o.Image, Cmdline: k.Cmdline, Variant: k.Variant,
		CPUs: f.VM.CPUs, MemMB: f.VM.MemoryMiB, Disks: []string{disk}}
	if d := o.ToolDisk; d != nil {
		m.ReadOnlyDisks = []string{d.Path}
		job.Mounts = append(job.Mounts, guest.Mount{Source: "/dev/vdb", Target: toolMount, FSType: "ext4", ReadOnly: true})
		for _, top := range d.Tops {
			job.Overlays = append(job.Overlays, guest.Overlay{Lower: toolMount + "/" + top, Target: "/" + top})
		}
	}
	t0 := time.Now()
	logf(o.Log, "boot %d: kernel %s (%s), repetition(s) %v", b.boot, k.Variant, k.Version, oneBased(b.reps))
	res, runErr := vmtest.Run(ctx, vmtest.Options{Machine: m, Job: job, Dir: dir, Timeout: o.Timeout, Hang: o.Hang, Accel: acc, Log: o.Log})
	rec := results.Block{Boot: b.boot, Kernel: k.Variant, Reps: b.reps, Seconds: time.Since(t0).Seconds()}
	accel := f.VM.Accel
	if accel == "" {
		accel = acc.Force
	}
	if res != nil {
		rec.BootS = res.Boot.Seconds()
		accel = res.Accel
		if f.VM.Accel == "" {
			f.VM.Accel, f.VM.AccelNote = res.Accel, res.AccelNote
		}
	}
	if accel == "" {
		accel = "unknown (the first boot failed before it was known)"
	}
	n, mergeErr := merge(f, filepath.Join(share, resultsFile), k, b.boot, accel)
	switch {
	case runErr != nil:
		rec.Error = runErr.Error()
	case res.ExitCodes["nsbench"] != 0:
		rec.Error = fmt.Sprintf("nsbench in the guest exited %d: %s", res.ExitCodes["nsbench"], lastLines(res.Outputs["nsbench"], 15))
	case mergeErr != nil:
		rec.Error = mergeErr.Error()
	default:
		rec.Done = true
	}
	f.VM.Blocks = slices.DeleteFunc(f.VM.Blocks, func(x results.Block) bool {
		return x.Kernel == rec.Kernel && slices.Equal(x.Reps, rec.Reps)
	})
	f.VM.Blocks = append(f.VM.Blocks, rec)
	if err := f.Save(o.Out); err != nil {
		return err
	}
	if !rec.Done {
		return fmt.Errorf("boot %d (kernel %s, repetition(s) %v) did not finish: %s\n%d samples of it are kept in %s; nsbench run -resume boots it again (console: %s)",
			b.boot, k.Variant, oneBased(b.reps), rec.Error, n, o.Out, filepath.Join(dir, "console.log"))
	}
	logf(o.Log, "boot %d: %d samples in %s (boot to /init %s)", b.boot, n, time.Duration(rec.Seconds*float64(time.Second)).Round(time.Second), res.Boot.Round(100*time.Millisecond))
	return nil
}

// merge adds the guest's new samples to f, each tagged with its kernel,
// and returns how many were new.
func merge(f *results.File, path string, k *kernels.Kernel, bootN int, accel string) (int, error) {
	g, err := results.Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("the guest wrote no results file")
	}
	if err != nil {
		return 0, err
	}
	if f.VM.GuestMachine == nil {
		gm := g.Machine
		f.VM.GuestMachine = &gm
	}
	if len(f.Calibration) == 0 && len(g.Calibration) > 0 {
		f.Calibration = g.Calibration
	}
	for e, v := range g.Runtimes {
		f.Runtimes[e] = v
	}
	for key, why := range g.Skipped {
		f.Skipped[k.Variant+": "+key] = why
	}
	for e, fl := range g.Failed {
		if f.Failed == nil {
			f.Failed = map[string]results.Failure{}
		}
		fl.Cell = results.KernelKey(fl.Cell, k.Variant)
		f.Failed[k.Variant+": "+e] = fl
	}
	ki := f.Kernels[k.Variant]
	info := &results.Guest{Kernel: k.Variant, KernelVersion: k.Version, ConfigHash: ki.ConfigHash, Arch: k.Arch, Accel: accel,
		CPUs: f.VM.CPUs, MemoryMiB: f.VM.MemoryMiB, Boot: bootN}
	n := 0
	for _, gc := range g.Cells {
		hc := f.Cell(results.KernelKey(gc.Key, k.Variant))
		hc.Point, hc.Workload, hc.Env, hc.Params, hc.Unit, hc.Axis = gc.Point, gc.Workload, gc.Env, gc.Params, gc.Unit, gc.Axis
		hc.Kernel = k.Variant
		hc.Failed, hc.Stopped = gc.Failed, gc.Stopped
		for _, s := range gc.Samples {
			if hc.HasRep(s.Rep) {
				continue
			}
			s.Guest = info
			hc.Samples = append(hc.Samples, s)
			n++
		}
	}
	return n, nil
}

// makeDisk makes a sparse raw image of mib MiB with an ext4 file system
// whose inode tables and journal are written now: lazy initialisation
// would have the guest kernel write them in the background while fio
// measures.
func makeDisk(ctx context.Context, path string, mib int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create scratch disk: %w", err)
	}
	err = f.Truncate(int64(mib) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("size scratch disk %s: %w", path, err)
	}
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		return fmt.Errorf("make the scratch disk's file system: %w (apt-get install e2fsprogs)", err)
	}
	out, err := exec.CommandContext(ctx, mkfs, "-q", "-F", "-L", "nsbench-scratch", "-E", "lazy_itable_init=0,lazy_journal_init=0", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %w: %s", path, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// oneBased prints repetitions as people count them.
func oneBased(reps []int) []int {
	out := make([]int, len(reps))
	for i, r := range reps {
		out[i] = r + 1
	}
	return out
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "nsbench: "+format+"\n", args...)
	}
}

// Check tells whether f holds every sample of a finished kernel run of
// cfg: each kernel, each point (for the guests' cores), each environment the
// guests ran that was not skipped, repetitions 0…cfg.Repetitions-1.
func Check(cfg runner.Config, f *results.File) error {
	if f.VM == nil || f.VM.GuestMachine == nil {
		return errors.New("not a kernel run with a finished boot")
	}
	envs, _ := GuestEnvs(cfg)
	envs = startedWith(f, envs)
	var problems []string
	for _, kv := range f.VM.Kernels {
		for _, p := range cfg.Points(f.VM.GuestMachine.Cores) {
			for _, e := range kernelEnvs(kv, envs) {
				if _, skipped := f.Skipped[kv+": "+e]; skipped {
					continue
				}
				if _, skipped := f.Skipped[kv+": "+runner.SkipName(e, p)]; skipped {
					continue
				}
				key := results.KernelKey(p.CellKey(e), kv)
				i := slices.IndexFunc(f.Cells, func(c results.Cell) bool { return c.Key == key })
				if i < 0 {
					problems = append(problems, "missing cell "+key)
					continue
				}
				for r := range cfg.Repetitions {
					if !f.Cells[i].HasRep(r) {
						problems = append(problems, key+" repetition "+strconv.Itoa(r+1))
					}
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d samples or cells missing: %s", len(problems), strings.Join(problems, "; "))
	}
	return nil
}
