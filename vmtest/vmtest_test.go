package vmtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/images"
	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/kernels"
)

func TestQEMUArgs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		m     Machine
		accel string
		bin   string
		want  []string
	}{
		{"x86_64 tcg", Machine{Arch: "x86_64", Kernel: "/k", Initramfs: "/i", Variant: "stock"}, "tcg", "qemu-system-x86_64",
			[]string{"-M pc", "-cpu max", "-smp 2", "-accel tcg", "console=ttyS0 panic=-1 oops=panic nsbench.variant=stock nsbench.arch=x86_64", "-kernel /k", "-initrd /i"}},
		{"x86_64 kvm uses the host cpu", Machine{Arch: "x86_64"}, "kvm", "qemu-system-x86_64", []string{"-cpu host", "-accel kvm"}},
		{"arm64 is the Pi 4 stand-in", Machine{Arch: "arm64", Variant: "hardened", Cmdline: []string{"init_on_free=1"}}, "tcg", "qemu-system-aarch64",
			[]string{"-M virt", "-cpu cortex-a72", "-smp 4", "console=ttyAMA0", "nsbench.variant=hardened nsbench.arch=arm64 init_on_free=1"}},
		{"board override", Machine{Arch: "arm64", Board: "raspi3b"}, "tcg", "qemu-system-aarch64", []string{"-M raspi3b"}},
		{"cpu override", Machine{Arch: "x86_64", CPU: "host,-arch-capabilities"}, "kvm", "qemu-system-x86_64", []string{"-cpu host,-arch-capabilities"}},
		{"disks are virtio, O_DIRECT on the host", Machine{Arch: "arm64", Disks: []string{"/d/a.img", "/d/b,c.img"}}, "tcg", "qemu-system-aarch64",
			[]string{"-drive file=/d/a.img,if=none,id=disk0,format=raw,cache=none,aio=native -device virtio-blk-pci,drive=disk0",
				"-drive file=/d/b,,c.img,if=none,id=disk1,format=raw,cache=none,aio=native -device virtio-blk-pci,drive=disk1"}},
		{"read-only disks follow the others", Machine{Arch: "x86_64", Disks: []string{"/d/a.img"}, ReadOnlyDisks: []string{"/c/tools.ext4"}}, "tcg", "qemu-system-x86_64",
			[]string{"-drive file=/d/a.img,if=none,id=disk0,format=raw,cache=none,aio=native -device virtio-blk-pci,drive=disk0",
				"-drive file=/c/tools.ext4,if=none,id=disk1,format=raw,cache=none,aio=native,readonly=on -device virtio-blk-pci,drive=disk1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin, args, err := QEMUArgs(tc.m, "/share", "/log", "/sock", tc.accel)
			require.NoError(t, err)
			assert.Equal(t, tc.bin, bin)
			joined := strings.Join(args, " ")
			for _, w := range tc.want {
				assert.Contains(t, joined, w)
			}
			assert.Contains(t, joined, "mount_tag=nsbench")
			assert.Contains(t, joined, "-qmp unix:/sock,server=on,wait=off")
		})
	}
	// Commas in paths are doubled inside QEMU's option lists.
	_, args, err := QEMUArgs(Machine{}, "/a,b/share", "/log", "/c,d/sock", "tcg")
	require.NoError(t, err)
	joined := strings.Join(args, " ")
	assert.Contains(t, joined, "local,path=/a,,b/share,mount_tag=")
	assert.Contains(t, joined, "-qmp unix:/c,,d/sock,server=on")
	_, _, err = QEMUArgs(Machine{Arch: "riscv64"}, "", "", "", "tcg")
	assert.ErrorContains(t, err, `unknown guest arch "riscv64"`)
}

// cachedStock returns the stock x86_64 kernel if it is already built; real
// boots only run then (a cold build takes minutes).
func cachedStock(t *testing.T) *kernels.Kernel {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("no qemu-system-x86_64 (apt-get install qemu-system-x86)")
	}
	if testing.Short() {
		t.Skip("boots a VM: skipped in -short mode")
	}
	dir := kernels.DefaultCacheDir()
	matches, _ := filepath.Glob(filepath.Join(dir, "builds", "*", "kernel.json"))
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err == nil && strings.Contains(string(data), `"variant": "stock"`) && strings.Contains(string(data), `"arch": "x86_64"`) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			k, err := kernels.Build(ctx, kernels.Options{Variant: "stock", Arch: "x86_64"})
			if err == nil {
				return k
			}
		}
	}
	t.Skipf("no cached stock x86_64 kernel in %s (make kernel KERNEL=stock builds one)", dir)
	return nil
}

func initramfs(t *testing.T, entries []images.Entry) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, images.Write(&buf, entries))
	p := filepath.Join(t.TempDir(), "initramfs.cpio.gz")
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	return p
}

func TestPanicFailsFast(t *testing.T) {
	k := cachedStock(t)
	// No /init at all: the kernel panics ("No working init found").
	img := initramfs(t, []images.Entry{{Path: "/etc/hostname", Mode: 0o644, Data: []byte("x\n")}})
	start := time.Now()
	_, err := Run(context.Background(), Options{
		Machine: Machine{Arch: "x86_64", Kernel: k.Image, Initramfs: img, Variant: "stock"},
		Dir:     t.TempDir(), Timeout: 3 * time.Minute, Hang: time.Minute, Accel: hostAccel,
	})
	var verr *Error
	require.True(t, errors.As(err, &verr), "%v", err)
	assert.Contains(t, verr.Reason, "panicked")
	assert.Contains(t, verr.ConsoleTail, "Kernel panic")
	assert.Less(t, time.Since(start), 2*time.Minute, "fails on the panic, not at the timeout")
}

func TestHangFailsFast(t *testing.T) {
	k := cachedStock(t)
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox-static for the hanging init")
	}
	data, err := os.ReadFile(bb)
	require.NoError(t, err)
	img := initramfs(t, []images.Entry{
		{Path: "/bin/busybox", Mode: 0o755, Data: data},
		{Path: "/init", Mode: 0o755, Data: []byte("#!/bin/busybox sh\n/bin/busybox sleep 100000\n")},
	})
	_, err = Run(context.Background(), Options{
		Machine: Machine{Arch: "x86_64", Kernel: k.Image, Initramfs: img, Variant: "stock"},
		Dir:     t.TempDir(), Timeout: 3 * time.Minute, Hang: 15 * time.Second, Accel: hostAccel,
	})
	var verr *Error
	require.True(t, errors.As(err, &verr), "%v", err)
	assert.Contains(t, verr.Reason, "hung")
	assert.Contains(t, verr.ConsoleTail, "Run /init")
}

func TestGuestRuntime(t *testing.T) {
	for _, tc := range []struct{ name, want, err string }{
		{"", images.GuestNsrun, ""},
		{"nsrun", images.GuestNsrun, ""},
		{"runc", images.GuestRunc, ""},
		{"crun", images.GuestCrun, ""},
		{"docker", "", `unknown guest runtime "docker"`},
	} {
		got, err := GuestRuntime(tc.name)
		if tc.err != "" {
			assert.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

func TestSuiteArgs(t *testing.T) {
	assert.Equal(t, []string{"-test.v", "-test.count=1"}, suiteArgs(true), "every test")
	assert.Equal(t, []string{"-test.v", "-test.count=1", "-test.run", "^TestInvariants$"}, suiteArgs(false), "the invariants alone")
}

func TestPerfSmokeTests(t *testing.T) {
	tests := perfSmokeTests()
	require.Len(t, tests, 2)
	assert.Equal(t, images.GuestFio, tests[0].Path)
	assert.Contains(t, tests[0].Args, "--output-format=json")
	assert.Contains(t, tests[0].Args, "--filename=/tmp/nsbench-fio", "tmpfs: no disk in the guest")
	script := strings.Join(tests[1].Args, " ")
	assert.Contains(t, script, "ip link set lo up", "the guest's loopback starts down")
	assert.Contains(t, script, images.GuestIperf3+" -D -s -1 -B 127.0.0.1 -p 5201")
	assert.Contains(t, script, "-c 127.0.0.1 -p 5201 -J")
}

// testdata/vmtest holds real guest output (stock x86_64 guest under TCG).
func TestReportPerfSmoke(t *testing.T) {
	fio := testutil.ReadFile(t, testutil.Testdata(t, "vmtest", "guest-fio.out"))
	iperf := testutil.ReadFile(t, testutil.Testdata(t, "vmtest", "guest-iperf3.out"))
	for _, tc := range []struct {
		name     string
		res      Result
		ok       bool
		contains []string
	}{
		{"both ran", Result{
			Outputs:   map[string]string{smokeFio: "fio: a warning on stderr\n" + string(fio), smokeIperf: string(iperf)},
			ExitCodes: map[string]int{smokeFio: 0, smokeIperf: 0},
		}, true, []string{"fio fio-3.33, randread 4k, libaio iodepth 8 on tmpfs, 3s:", "IOPS", "TCP over loopback, 3s:", "Gbit/s received"}},
		{"iperf3 failed", Result{
			Outputs:   map[string]string{smokeFio: string(fio), smokeIperf: "iperf3: error - unable to connect to server: Connection refused\n"},
			ExitCodes: map[string]int{smokeFio: 0, smokeIperf: 1},
		}, false, []string{"IOPS", "iperf3 FAILED (exit 1)", "    iperf3: error - unable to connect"}},
		{"fio missing", Result{
			Outputs:   map[string]string{smokeIperf: string(iperf)},
			ExitCodes: map[string]int{smokeFio: 126, smokeIperf: 0},
		}, false, []string{"fio FAILED (exit 126)", "Gbit/s received"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			res := tc.res
			assert.Equal(t, tc.ok, reportPerfSmoke(&buf, &res))
			for _, c := range tc.contains {
				assert.Contains(t, buf.String(), c)
			}
		})
	}
}

func TestVariantChecks(t *testing.T) {
	assert.Empty(t, variantChecks("stock"))
	assert.Empty(t, variantChecks("distro"))
	checks := variantChecks("aufs")
	require.Len(t, checks, 1)
	script := strings.Join(checks[0].Args, " ")
	assert.Contains(t, script, "grep -w aufs /proc/filesystems")
	assert.Contains(t, script, "mount -t aufs -o br=/tmp/aufs/rw=rw:/tmp/aufs/ro=ro")
}

// TestStartcostExtraChecked: a bad LABEL=PATH fails before any kernel is
// built or booted (no kernel image is given, so one would be built).
func TestStartcostExtraChecked(t *testing.T) {
	for _, tc := range []struct{ extra, err string }{
		{"nsrun@x", `extra build "nsrun@x": want LABEL=PATH`},
		{"=bin/nsrun", `extra build "=bin/nsrun": want LABEL=PATH`},
		{"nsrun@x=/nonexistent/nsrun-x", "extra build nsrun@x: stat /nonexistent/nsrun-x: no such file or directory"},
	} {
		out := t.TempDir()
		err := RunStartcost(context.Background(), StartcostOptions{Variant: "stock", Arch: "x86_64", Extra: []string{tc.extra}, OutDir: out}, io.Discard)
		assert.ErrorContains(t, err, tc.err)
		entries, _ := os.ReadDir(out)
		assert.Empty(t, entries, "nothing made")
	}
}
