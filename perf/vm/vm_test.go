package vm

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/images"
	"github.com/nsbench/nsbench/internal/debpkg"
	"github.com/nsbench/nsbench/internal/gobuild"
	"github.com/nsbench/nsbench/kernels"
	"github.com/nsbench/nsbench/perf/results"
	"github.com/nsbench/nsbench/perf/runner"
	"github.com/nsbench/nsbench/perf/workload"
	"github.com/nsbench/nsbench/perf/workload/cpu"
	"github.com/nsbench/nsbench/perf/workload/fs"
	"github.com/nsbench/nsbench/vmtest"
)

// programs are the x86_64 guest's programs, built once by TestMain when a
// test will boot a guest (not in -short mode, as root); progErr says why
// there are none.
var (
	programs map[string]string
	progErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(func() int {
		if testing.Short() || os.Geteuid() != 0 {
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "nsbench-vm-test-")
		if err != nil {
			progErr = err
			return m.Run()
		}
		defer os.RemoveAll(dir)
		programs, progErr = gobuild.ResolveAll(context.Background(), images.Programs(), os.Getenv, dir, "x86_64")
		return m.Run()
	}())
}

func kernel(v string) *kernels.Kernel {
	return &kernels.Kernel{Variant: v, Arch: "x86_64"}
}

func TestPlanAlternatesKernels(t *testing.T) {
	ks := []*kernels.Kernel{kernel("stock"), kernel("hardened")}
	var got []string
	for _, b := range plan(ks, 4, 1) {
		got = append(got, fmt.Sprintf("%s%v", b.kernel.Variant, b.reps))
	}
	assert.Equal(t, []string{"stock[0]", "hardened[0]", "hardened[1]", "stock[1]", "stock[2]", "hardened[2]", "hardened[3]", "stock[3]"}, got,
		"each round runs every kernel once, the order rotating: drift spreads over both")
	got = got[:0]
	for _, b := range plan(ks, 5, 2) {
		got = append(got, fmt.Sprintf("%s%v", b.kernel.Variant, b.reps))
	}
	assert.Equal(t, []string{"stock[0 1]", "hardened[0 1]", "hardened[2 3]", "stock[2 3]", "stock[4]", "hardened[4]"}, got)
	three := append(ks, kernel("aufs"))
	got = got[:0]
	for _, b := range plan(three, 2, 1) {
		got = append(got, b.kernel.Variant)
	}
	assert.Equal(t, []string{"stock", "hardened", "aufs", "hardened", "aufs", "stock"}, got)
	for i, b := range plan(three, 3, 1) {
		assert.Equal(t, i, b.boot)
	}
}

func TestGuestEnvsAndTools(t *testing.T) {
	cfg := runner.Config{Envs: []string{"native", "nsrun", "runc", "crun", "docker", "podman", "singularity"},
		Workloads: []workload.Workload{&cpu.Sim{Particles: 1}, &cpu.Sysbench{MaxPrime: 1, Events: 1}}}
	in, out := GuestEnvs(cfg)
	assert.Equal(t, []string{"native", "nsrun", "runc", "crun", "docker", "podman"}, in)
	assert.Equal(t, map[string]string{"singularity": "not available in a VM guest"}, out)
	var paths []string
	for _, tl := range Tools(cfg) {
		paths = append(paths, tl.Path)
	}
	assert.ElementsMatch(t, []string{"/usr/bin/sysbench", images.GuestRunc, images.GuestCrun}, paths,
		"the workloads' tools and the runtimes of the guest's environments, nothing else: the engines go on the tool disk")

	tools, files := engineTools("docker")
	assert.Len(t, tools, 4, "dockerd, its client, containerd and the shim")
	assert.Empty(t, files)
	tools, files = engineTools("podman")
	assert.Len(t, tools, 2, "podman and conmon")
	assert.Len(t, files, 2, "the trust policy and the seccomp profile")

	none, err := ToolDisk(context.Background(), runner.Config{Envs: []string{"native", "nsrun", "runc"}}, "x86_64", nil)
	require.NoError(t, err)
	assert.Nil(t, none, "no engine, no tool disk")
}

// The guest's config: no kernel fields, its environments, repetitions up
// to the block's last; the guest's seed holds only that kernel's cells.
func TestGuestConfigAndSeed(t *testing.T) {
	cfg := runner.Config{Name: "x", Repetitions: 5, Envs: []string{"native", "docker"}, Kernels: []string{"stock", "hardened"},
		Arch: "x86_64", VM: &runner.VMConfig{CPUs: 2}, Workloads: []workload.Workload{&cpu.Sim{Particles: 1}}}
	g := guestConfig(cfg, []string{"native"}, block{reps: []int{2, 3}})
	assert.Nil(t, g.Kernels)
	assert.Empty(t, g.Arch)
	assert.Nil(t, g.VM)
	assert.Equal(t, []string{"native"}, g.Envs)
	assert.Equal(t, 4, g.Repetitions)
	require.NoError(t, g.Validate())

	f := &results.File{VM: &results.VMRun{}}
	assert.Nil(t, seed(f, "stock"), "before the first boot the guest starts its own file")
	f.VM.GuestMachine = &results.Machine{Cores: 2}
	for _, k := range []string{"stock", "hardened"} {
		c := f.Cell(results.KernelKey("cpu jobs=1 env=native", k))
		c.Kernel, c.Point, c.Env = k, "cpu jobs=1", "native"
		c.Samples = []results.Sample{{Rep: 0, Value: 1}}
	}
	s := seed(f, "hardened")
	require.Len(t, s.Cells, 1)
	assert.Equal(t, "cpu jobs=1 env=native", s.Cells[0].Key)
	assert.Empty(t, s.Cells[0].Kernel)
	assert.Equal(t, 2, s.Machine.Cores, "the guest's cores decide its default sweeps")
}

// testKernel returns the stock x86_64 kernel when the cache has it (a
// hit takes seconds; a cold build takes many minutes, and one another
// process is building holds the lock), else Debian's prebuilt one (a
// download).
// needGuest skips unless an x86_64 guest can boot here, and returns its
// kernel; the guest's programs are TestMain's.
func needGuest(t *testing.T) *kernels.Kernel {
	t.Helper()
	if testing.Short() {
		t.Skip("boots QEMU guests: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("the guest image's Debian packages may need dpkg --add-architecture: needs root")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("no qemu-system-x86_64 (apt-get install qemu-system-x86)")
	}
	k := testKernel(t)
	require.NoError(t, progErr, "building the guest's programs")
	return k
}

func testKernel(t *testing.T) *kernels.Kernel {
	t.Helper()
	hit, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	matches, _ := filepath.Glob(filepath.Join(kernels.DefaultCacheDir(), "builds", "*", "kernel.json"))
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil || !strings.Contains(string(data), `"variant": "stock"`) || !strings.Contains(string(data), `"arch": "x86_64"`) {
			continue
		}
		if k, err := kernels.Build(hit, kernels.Options{Variant: "stock", Arch: "x86_64"}); err == nil {
			return k
		}
		break
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel2()
	k, err := kernels.Distro(ctx, kernels.DistroOptions{Arch: "x86_64"})
	if errors.Is(err, debpkg.ErrArchive) {
		t.Skipf("no stock kernel in %s and Debian's cannot be fetched: %v", kernels.DefaultCacheDir(), err)
	}
	require.NoError(t, err)
	return k
}

// A real kernel run, killed mid-run: the guest is stopped after its first
// samples are on the share; every sample saved so far is in the results
// file with its kernel, and -resume boots the block again and finishes the
// matrix without repeating or changing a sample.
func TestKernelRunKilledAndResumed(t *testing.T) {
	k := needGuest(t)
	ctx := context.Background()
	cfg := runner.Config{Name: "vm-kill", Repetitions: 2, Seed: 1, Envs: []string{"native", "nsrun"}, Kernels: []string{k.Variant},
		VM:        &runner.VMConfig{DiskMiB: 64},
		Workloads: []workload.Workload{&cpu.Sim{Concurrency: []int{1, 2}, Particles: 300, MemMiB: 4}}}
	require.NoError(t, cfg.Validate())
	img, err := Image(ctx, cfg, "x86_64", []*kernels.Kernel{k}, programs, nil)
	require.NoError(t, err)
	dir := t.TempDir()
	o := Options{Config: cfg, Kernels: []*kernels.Kernel{k}, Image: img, Out: filepath.Join(dir, "r.json"), Dir: filepath.Join(dir, "vm"),
		Accel: vmtest.Accel{Force: accel()}, Hang: 3 * time.Minute}

	// kill the first guest once a sample is on its share
	kctx, kill := context.WithCancel(ctx)
	defer kill()
	share := filepath.Join(o.Dir, "boot00-"+k.Variant, "share", resultsFile)
	go func() {
		for kctx.Err() == nil {
			if g, err := results.Load(share); err == nil && samples(g) > 0 {
				kill()
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	_, err = Run(kctx, o)
	require.Error(t, err, "the killed guest's block did not finish")
	assert.Contains(t, err.Error(), "-resume")
	first, lerr := results.Load(o.Out)
	require.NoError(t, lerr)
	n := samples(first)
	require.Positive(t, n, "the samples saved before the kill are kept")
	require.Len(t, first.VM.Blocks, 1)
	assert.False(t, first.VM.Blocks[0].Done)
	assert.NotEmpty(t, first.VM.Blocks[0].Error)
	for _, c := range first.Cells {
		assert.Equal(t, k.Variant, c.Kernel, c.Key)
		for _, s := range c.Samples {
			require.NotNil(t, s.Guest, c.Key)
			assert.Equal(t, k.Version, s.Guest.KernelVersion)
			assert.Equal(t, first.Kernels[k.Variant].ConfigHash, s.Guest.ConfigHash)
		}
	}

	o.Resume = true
	f, err := Run(ctx, o)
	require.NoError(t, err)
	require.NoError(t, Check(cfg, f))
	assert.Equal(t, 2*2*2, samples(f), "2 points × 2 environments × 2 repetitions, none repeated")
	for _, c := range first.Cells {
		got := f.Cell(c.Key)
		for _, s := range c.Samples {
			i := 0
			for i < len(got.Samples) && got.Samples[i].Rep != s.Rep {
				i++
			}
			require.Less(t, i, len(got.Samples), "%s rep %d kept", c.Key, s.Rep)
			a, _ := json.Marshal(s)
			b, _ := json.Marshal(got.Samples[i])
			assert.JSONEq(t, string(a), string(b), "%s rep %d unchanged by the resume", c.Key, s.Rep)
		}
	}
	accel := f.VM.Accel
	for _, c := range f.Cells {
		for _, s := range c.Samples {
			assert.Equal(t, accel, s.Guest.Accel)
			assert.Equal(t, f.VM.CPUs, s.Guest.CPUs)
		}
	}
}

func samples(f *results.File) int {
	n := 0
	for _, c := range f.Cells {
		n += len(c.Samples)
	}
	return n
}

// accel is NSBENCH_ACCEL, else TCG: how vmtest picks an accelerator is
// vmtest's test; a killed first boot must know the one it ran under.
func accel() string {
	if a := os.Getenv("NSBENCH_ACCEL"); a != "" {
		return a
	}
	return "tcg"
}

// docker and podman run in the guest from the tool disk: dockerd with its
// containerd, podman with conmon, each under its private state on the
// scratch disk, and every cell of theirs comes back measured.
func TestEnginesInGuest(t *testing.T) {
	k := needGuest(t)
	ctx := context.Background()
	cfg := runner.Config{Name: "vm-engines", Repetitions: 1, Seed: 1, Envs: []string{"native", "docker", "podman"}, Kernels: []string{k.Variant},
		VM: &runner.VMConfig{DiskMiB: 256},
		Workloads: []workload.Workload{&cpu.Sim{Concurrency: []int{1}, Particles: 300, MemMiB: 4},
			&fs.Fio{RW: []string{"write"}, BS: []string{"4k"}, Engines: []string{"libaio"}, NumJobs: []int{1}, IODepth: []int{4},
				Locations: []string{"rootfs"}, Size: "4M", RuntimeS: 1, Direct: true}}}
	require.NoError(t, cfg.Validate())
	img, err := Image(ctx, cfg, "x86_64", []*kernels.Kernel{k}, programs, nil)
	require.NoError(t, err)
	disk, err := ToolDisk(ctx, cfg, "x86_64", nil)
	if errors.Is(err, debpkg.ErrArchive) {
		t.Skipf("the engines' packages cannot be fetched: %v", err)
	}
	require.NoError(t, err)
	require.NotNil(t, disk)
	dir := t.TempDir()
	o := Options{Config: cfg, Kernels: []*kernels.Kernel{k}, Image: img, ToolDisk: disk, Out: filepath.Join(dir, "r.json"),
		Dir: filepath.Join(dir, "vm"), Accel: vmtest.Accel{Force: accel()}, Hang: 5 * time.Minute}
	f, err := Run(ctx, o)
	require.NoError(t, err)
	assert.Empty(t, f.Skipped, "every environment ran in the guest")
	require.NoError(t, Check(cfg, f))
	for _, e := range []string{"docker", "podman"} {
		assert.NotEmpty(t, f.Runtimes[e], "%s's version is recorded", e)
		for _, w := range []string{"cpu jobs=1", "fs bs=4k engine=libaio iodepth=4 numjobs=1 on=rootfs rw=write"} {
			key := w + " env=" + e + " kernel=" + k.Variant
			c := f.Cell(key)
			require.NotNil(t, c, key)
			require.Len(t, c.Samples, 1, key)
			assert.Positive(t, c.Samples[0].Value, key)
			assert.Equal(t, k.Version, c.Samples[0].Guest.KernelVersion, key)
		}
	}
}

func TestResumeKeepsTheEnvironmentsItBeganWith(t *testing.T) {
	envs := []string{"native", "nsrun", "docker", "podman"}
	began := &results.File{Skipped: map[string]string{
		"docker": "docker is not in the VM guest image", "podman": "podman is not in the VM guest image",
		"stock: crun": "crun: refused by the guest", // a guest's own skip: keyed by kernel, not an environment
	}}
	assert.Equal(t, []string{"native", "nsrun"}, startedWith(began, envs), "not added half-way through a run")
	assert.Equal(t, envs, startedWith(&results.File{Skipped: map[string]string{}}, envs), "a new run carries them all")
	assert.Equal(t, []string{"native", "nsrun", "docker", "podman"}, envs, "the caller's list is not changed")
}

func TestAufsKernelAddsDockerOnAufs(t *testing.T) {
	envs := []string{"native", "nsrun", "docker", "podman"}
	assert.Equal(t, []string{"native", "nsrun", "docker", aufsDocker, "podman"}, kernelEnvs("aufs", envs))
	assert.Equal(t, envs, kernelEnvs("stock", envs))
	assert.Equal(t, envs, kernelEnvs("hardened", envs))
	assert.Equal(t, []string{"native", "nsrun"}, kernelEnvs("aufs", []string{"native", "nsrun"}), "no docker, nothing to add")
	assert.Equal(t, []string{"native", "nsrun", "docker", "podman"}, envs, "the caller's list is not changed")
}
