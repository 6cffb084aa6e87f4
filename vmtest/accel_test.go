package vmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/guest"
)

// The test binary doubles as a fake qemu-system-* (fakeQEMU): a QEMU whose
// guest is silent under KVM is this host's failure, and no real KVM can be
// made to fail on demand.
const (
	fakeModeEnv = "NSBENCH_FAKE_QEMU" // e.g. "kvm=silent,tcg=boot"
	fakeLogEnv  = "NSBENCH_FAKE_QEMU_LOG"
)

// hostAccel is how the tests that boot a real guest choose the
// accelerator: as nsvm does, NSBENCH_ACCEL or the host's kept verdict.
var hostAccel Accel

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeModeEnv); mode != "" {
		os.Exit(fakeQEMU(mode, os.Getenv(fakeLogEnv), os.Args[1:]))
	}
	cache := os.Getenv("NSBENCH_CACHE")
	if cache == "" {
		cache = "/var/cache/nsbench"
	}
	hostAccel = Accel{Force: os.Getenv("NSBENCH_ACCEL"), VerdictDir: filepath.Join(cache, "accel")}
	os.Exit(m.Run())
}

// fakeQEMU behaves, per accelerator, as QEMU does here: "abort" exits
// before QMP as the MSR 0x10a abort did, "noqmp" never opens its monitor,
// "silent" serves QMP while the guest never prints (the nested-KVM hang),
// "boot" prints the kernel's banner and finishes the job in the share.
func fakeQEMU(modes, logPath string, args []string) int {
	arg := func(name string) string {
		for i := 0; i+1 < len(args); i++ {
			if args[i] == name {
				return args[i+1]
			}
		}
		return ""
	}
	accel := arg("-accel")
	if logPath != "" {
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s/%s\n", accel, arg("-cpu"))
			f.Close()
		}
	}
	// A mode for "accel/cpu" wins over one for the accelerator alone.
	mode, exact := "", false
	for _, kv := range strings.Split(modes, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == accel+"/"+arg("-cpu"):
			mode, exact = v, true
		case k == accel && !exact:
			mode = v
		}
	}
	consoleLog := strings.TrimPrefix(arg("-serial"), "file:")
	sock := splitOpts(strings.TrimPrefix(arg("-qmp"), "unix:"))[0]
	var share string
	for _, f := range splitOpts(arg("-virtfs")) {
		if p, ok := strings.CutPrefix(f, "path="); ok {
			share = p
		}
	}
	switch mode {
	case "abort":
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0")
		return 1
	case "noqmp":
		// A QEMU stuck before its monitor is up; only a kill ends it.
		time.Sleep(time.Hour)
		return 1
	case "silent", "boot":
	default:
		fmt.Fprintf(os.Stderr, "fake qemu: no mode for accel %q in %q\n", accel, modes)
		return 1
	}
	_ = os.WriteFile(consoleLog, []byte("SeaBIOS (version 1.16.2-debian-1.16.2-1)\nBooting from ROM...\n"), 0o644)
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake qemu:", err)
		return 1
	}
	defer l.Close()
	conn, err := l.Accept()
	if err != nil {
		return 1
	}
	dec, enc := json.NewDecoder(conn), json.NewEncoder(conn)
	_ = enc.Encode(map[string]any{"QMP": map[string]any{"version": map[string]any{"qemu": map[string]int{"major": 7, "minor": 2}}, "capabilities": []string{}}})
	for {
		var cmd struct {
			Execute string `json:"execute"`
		}
		if dec.Decode(&cmd) != nil {
			return 0
		}
		switch cmd.Execute {
		case "query-status":
			_ = enc.Encode(map[string]any{"return": map[string]any{"status": "running", "running": true}})
			if mode == "boot" {
				bootJob(consoleLog, share)
				return 0
			}
		case "quit":
			_ = enc.Encode(map[string]any{"return": map[string]any{}})
			return 0
		default:
			_ = enc.Encode(map[string]any{"return": map[string]any{}})
		}
	}
}

// splitOpts splits a QEMU option list as QEMU does: ",," is a comma.
func splitOpts(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == ',' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case s[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, cur.String())
}

// bootJob is a guest that runs every test of its job successfully.
func bootJob(consoleLog, share string) {
	f, err := os.OpenFile(consoleLog, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		fmt.Fprint(f, "[    0.000000] Linux version 6.1.0-fake (fake qemu)\n[    0.5] Run /init as init process\n")
		f.Close()
	}
	var job guest.Job
	data, _ := os.ReadFile(filepath.Join(share, guest.JobFile))
	_ = json.Unmarshal(data, &job)
	for _, t := range job.Tests {
		_ = os.WriteFile(filepath.Join(share, t.Name+".out"), []byte("ok\n"), 0o644)
		_ = os.WriteFile(filepath.Join(share, t.Name+".exit"), []byte("0\n"), 0o644)
	}
	_ = os.WriteFile(filepath.Join(share, guest.DoneFile), nil, 0o644)
}

// fakeRun runs a one-test job on the fake QEMU and returns the result and
// the accelerators QEMU was started with, in order.
func fakeRun(t *testing.T, modes string, acc Accel) (*Result, []string, error) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "qemu-invocations")
	t.Setenv(fakeModeEnv, modes)
	t.Setenv(fakeLogEnv, logPath)
	res, err := Run(context.Background(), Options{
		Machine: Machine{Arch: hostArch(), Kernel: "/k", Initramfs: "/i", QEMU: self},
		Job:     guest.Job{Tests: []guest.Test{{Name: "job", Path: "/bin/true"}}},
		Dir:     filepath.Join(dir, "run"),
		// Long enough that only the probe can end the silent KVM guest in
		// time: without it the run fails as a hang.
		Timeout: 2 * time.Minute, Hang: 45 * time.Second,
		Accel: acc,
	})
	var started []string
	if data, rerr := os.ReadFile(logPath); rerr == nil {
		started = strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	return res, started, err
}

func needKVMDevice(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("the probe only tries KVM when /dev/kvm opens: %v", err)
	}
	f.Close()
}

func TestAccelFallback(t *testing.T) {
	needKVMDevice(t)
	const kvmHost, kvmNoArchCaps, tcg = "kvm/host", "kvm/host,-arch-capabilities", "tcg/max"
	for _, tc := range []struct {
		name, modes string
		started     []string
		accel, note string
		// again is what a second run on the same host boot starts.
		again []string
	}{
		{"silent KVM guest falls back to TCG", "kvm=silent,tcg=boot", []string{kvmHost, kvmNoArchCaps, tcg}, "tcg",
			"KVM dropped: with -cpu host it ran QEMU but its guest kernel printed nothing within 2s; with -cpu host,-arch-capabilities it ran QEMU but",
			[]string{tcg}},
		{"QEMU aborting under KVM falls back to TCG", "kvm=abort,tcg=boot", []string{kvmHost, kvmNoArchCaps, tcg}, "tcg",
			"KVM dropped: with -cpu host it could not start the guest: qemu exited before QMP was up",
			[]string{tcg}},
		{"MSR abort with -cpu host, a guest without arch-capabilities runs", "kvm/host=abort,kvm=boot", []string{kvmHost, kvmNoArchCaps}, "kvm",
			"KVM dropped: with -cpu host it could not start the guest", []string{kvmNoArchCaps}},
		{"working KVM is kept", "kvm=boot", []string{kvmHost}, "kvm", "", []string{kvmHost}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vdir := t.TempDir()
			res, started, err := fakeRun(t, tc.modes, Accel{ProbeDeadline: 2 * time.Second, VerdictDir: vdir})
			require.NoError(t, err)
			assert.Equal(t, tc.started, started)
			assert.Equal(t, tc.accel, res.Accel)
			assert.Contains(t, res.AccelNote, tc.note)
			assert.Equal(t, 0, res.ExitCodes["job"])

			// The verdict holds for the rest of the host's boot: a second
			// run does not probe what failed before.
			res, started, err = fakeRun(t, tc.modes, Accel{ProbeDeadline: 2 * time.Second, VerdictDir: vdir})
			require.NoError(t, err)
			assert.Equal(t, tc.again, started)
			assert.Equal(t, tc.accel, res.Accel)
			if tc.accel == "tcg" {
				assert.Contains(t, res.AccelNote, "KVM not tried: earlier on this boot with -cpu host it ")
			}
		})
	}
}

func TestAccelVerdictIsPerBoot(t *testing.T) {
	needKVMDevice(t)
	vdir := t.TempDir()
	stale := verdict{BootID: "another-boot", Arch: hostArch(), KVM: "broken", Reason: "hung", When: time.Now()}
	data, err := json.Marshal(stale)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(vdir, "kvm-"+hostArch()+".json"), data, 0o644))
	res, started, err := fakeRun(t, "kvm=boot", Accel{ProbeDeadline: 2 * time.Second, VerdictDir: vdir})
	require.NoError(t, err)
	assert.Equal(t, []string{"kvm/host"}, started, "a verdict from another boot of the host is not trusted")
	assert.Equal(t, "kvm", res.Accel)
	v, _ := Accel{VerdictDir: vdir}.readVerdict(hostArch())
	require.NotNil(t, v)
	assert.Equal(t, "works", v.KVM)
}

func TestAccelForced(t *testing.T) {
	for _, tc := range []struct{ force, modes, want string }{
		{"tcg", "tcg=boot", "tcg/max"},
		{"kvm", "kvm=boot", "kvm/host"},
	} {
		t.Run(tc.force, func(t *testing.T) {
			res, started, err := fakeRun(t, tc.modes, Accel{Force: tc.force})
			require.NoError(t, err)
			assert.Equal(t, []string{tc.want}, started)
			assert.Equal(t, "forced by the caller", res.AccelNote)
		})
	}
	// A forced KVM that stays silent is not silently replaced: it runs into
	// the hang detector like any guest.
	t.Run("kvm forced silent is not replaced", func(t *testing.T) {
		self, err := os.Executable()
		require.NoError(t, err)
		t.Setenv(fakeModeEnv, "kvm=silent,tcg=boot")
		_, err = Run(context.Background(), Options{
			Machine: Machine{Arch: hostArch(), QEMU: self, Kernel: "/k", Initramfs: "/i"},
			Dir:     t.TempDir(), Timeout: time.Minute, Hang: 2 * time.Second,
			Accel: Accel{Force: "kvm"},
		})
		var verr *Error
		require.True(t, errors.As(err, &verr), "%v", err)
		assert.Contains(t, verr.Reason, "hung")
	})
	_, _, err := Accel{Force: "hvf"}.plan("x86_64", "")
	assert.ErrorContains(t, err, `unknown accelerator "hvf": want kvm or tcg`)
}

func TestAccelPlanOtherArch(t *testing.T) {
	other := "arm64"
	if hostArch() == "arm64" {
		other = "x86_64"
	}
	atts, note, err := Accel{}.plan(other, "")
	require.NoError(t, err)
	assert.Equal(t, []attempt{{accel: "tcg"}}, atts)
	assert.Contains(t, note, "KVM not tried: a "+other+" guest")
}

// silentGuest writes a multiboot image whose only instruction is a jump to
// itself: a guest that runs and never prints, as the hung nested KVM was.
func silentGuest(t *testing.T) string {
	t.Helper()
	const base = 0x100000
	le := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	const magic, flags = 0x1BADB002, 1 << 16 // address fields valid: no ELF needed
	var img []byte
	for _, v := range []uint32{magic, flags, -(magic + flags) & 0xffffffff, base, base, 0, 0, base + 32} {
		img = append(img, le(v)...)
	}
	img = append(img, 0xEB, 0xFE) // jmp .
	p := filepath.Join(t.TempDir(), "silent.img")
	require.NoError(t, os.WriteFile(p, img, 0o644))
	return p
}

// A real QEMU whose guest is silent: the KVM attempt is stopped at the
// probe deadline and the verdict says why; the TCG attempt (silent too)
// then ends as a hang.
func TestAccelProbeRealQEMU(t *testing.T) {
	if hostArch() != "x86_64" {
		t.Skip("the silent guest is an x86 multiboot image")
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("no qemu-system-x86_64 (apt-get install qemu-system-x86)")
	}
	needKVMDevice(t)
	vdir := t.TempDir()
	initrd := filepath.Join(t.TempDir(), "modules")
	require.NoError(t, os.WriteFile(initrd, []byte("x"), 0o644))
	var log strings.Builder
	_, err := Run(context.Background(), Options{
		Machine: Machine{Arch: "x86_64", Kernel: silentGuest(t), Initramfs: initrd},
		Dir:     t.TempDir(), Timeout: 2 * time.Minute, Hang: 5 * time.Second,
		Accel: Accel{ProbeDeadline: 3 * time.Second, VerdictDir: vdir}, Log: &log,
	})
	var verr *Error
	require.True(t, errors.As(err, &verr), "%v", err)
	assert.Contains(t, verr.Reason, "hung", "the TCG attempt has no probe: the hang detector ends it")
	// On this kind of host -cpu host aborts (MSR 0x10a) or hangs; either
	// way the silent guest is what ends the last KVM attempt.
	assert.Contains(t, log.String(), "KVM with -cpu host,-arch-capabilities it ran QEMU but its guest kernel printed nothing within 3s; booting the same job under TCG")
	v, _ := Accel{VerdictDir: vdir}.readVerdict("x86_64")
	require.NotNil(t, v)
	assert.Equal(t, "broken", v.KVM)
}

// TestRunStopped: a run the caller stops (Ctrl-C cancels nsbench's context)
// or whose caller's deadline passes is not reported as the VM's own
// timeout, which it once was ("timed out after 2h0m0s" for a Ctrl-C), and
// is not retried under another accelerator.
func TestRunStopped(t *testing.T) {
	self, err := os.Executable()
	require.NoError(t, err)
	for _, tc := range []struct {
		name, mode     string
		timeout        time.Duration
		stop           func(context.Context) (context.Context, context.CancelFunc)
		want           error
		reason, notWas string
	}{
		{"caller cancels a running guest", "silent", time.Hour, cancelSoon, context.Canceled, "stopped by the caller after ", "timed out"},
		{"caller cancels before QMP is up", "noqmp", time.Hour, cancelSoon, context.Canceled, "", "timed out"},
		{"caller's deadline passes", "silent", time.Hour, func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, time.Second)
		}, context.DeadlineExceeded, "stopped by the caller after 1s: context deadline exceeded", "timed out"},
		{"the run's own timeout", "silent", time.Second, func(ctx context.Context) (context.Context, context.CancelFunc) {
			return context.WithCancel(ctx)
		}, errTimeout, "timed out after 1s", "stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			logPath := filepath.Join(dir, "qemu-invocations")
			t.Setenv(fakeModeEnv, "kvm="+tc.mode+",tcg="+tc.mode)
			t.Setenv(fakeLogEnv, logPath)
			ctx, cancel := tc.stop(context.Background())
			defer cancel()
			_, err := Run(ctx, Options{
				Machine: Machine{Arch: hostArch(), QEMU: self, Kernel: "/k", Initramfs: "/i"},
				Dir:     filepath.Join(dir, "run"), Timeout: tc.timeout, Hang: time.Hour,
				Accel: Accel{Force: "tcg"},
			})
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			assert.NotContains(t, err.Error(), tc.notWas)
			if tc.reason != "" {
				var verr *Error
				require.True(t, errors.As(err, &verr), "%v", err)
				assert.Contains(t, verr.Reason, tc.reason)
			}
			data, err := os.ReadFile(logPath)
			require.NoError(t, err)
			assert.Equal(t, "tcg/max", strings.TrimSpace(string(data)), "QEMU is started once, not retried")
		})
	}
}

func cancelSoon(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(time.Second, cancel)
	return ctx, cancel
}
