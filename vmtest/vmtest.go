// Package vmtest boots a kernel and an nsbench initramfs in QEMU (KVM when
// it is shown to run the guest, TCG otherwise; see Accel), hands the guest
// a job through a 9p share, watches the serial console for panics and hangs, controls the VM
// through QMP (github.com/digitalocean/go-qemu) and brings the guest's test
// output and exit codes back to the host.
package vmtest

import (
	"context"
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

	"github.com/digitalocean/go-qemu/qmp"

	"github.com/nsbench/nsbench/internal/guest"
)

// Machine describes the VM to boot.
type Machine struct {
	Arch      string // x86_64 or arm64
	Kernel    string // bzImage / Image
	Initramfs string
	Cmdline   []string
	// Variant is passed to the guest (nsbench.variant=) for its tests.
	Variant string
	CPUs    int
	MemMB   int
	// Board overrides the default board (pc; virt with a Cortex-A72).
	Board string
	// CPU overrides the CPU model (default: max under TCG; under KVM the
	// first of host and host,-arch-capabilities that runs the guest).
	CPU string
	// QEMU overrides the emulator binary (default qemu-system-x86_64 or
	// qemu-system-aarch64 from PATH).
	QEMU string
	// Disks are raw disk images given to the guest as virtio block devices
	// (/dev/vda, /dev/vdb, ... in this order), opened with O_DIRECT on the
	// host (cache=none), so the guest's direct I/O reaches the host's disk.
	Disks []string
	// ReadOnlyDisks follow Disks (their device names continue the
	// sequence) and are attached read-only, so several guests may share
	// one (a cached tool disk, images.BuildDisk).
	ReadOnlyDisks []string
}

// Options of one run.
type Options struct {
	Machine Machine
	Job     guest.Job
	// Dir receives the share, the console log and the QMP socket.
	Dir string
	// Timeout bounds the whole run; Hang fails it when neither the console
	// nor the share changes for that long.
	Timeout, Hang time.Duration
	// Accel chooses the accelerator (the zero value probes KVM).
	Accel Accel
	// Log receives what the run decides on its own, such as dropping KVM
	// for TCG; nil discards it.
	Log io.Writer
}

// Result is what came back.
type Result struct {
	ExitCodes map[string]int
	Outputs   map[string]string
	Console   string
	Elapsed   time.Duration
	// Boot is how long the kernel took to reach /init (first seen on the
	// console, to within the 100 ms the console is polled at).
	Boot time.Duration
	// Accel is the accelerator the guest ran under; AccelNote says why, when
	// it is not the first choice (KVM dropped or not tried) or was forced.
	Accel, AccelNote string
}

// Error is a run that did not finish, with the console's tail.
type Error struct {
	Reason, ConsoleTail, ConsoleLog string
	// Err is the cause where there is one: errTimeout, or the caller's
	// context error when the caller stopped the run.
	Err error
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	return fmt.Sprintf("%s (console log %s; last lines:)\n%s", e.Reason, e.ConsoleLog, e.ConsoleTail)
}

// QEMUArgs returns the qemu binary and arguments for m.
func QEMUArgs(m Machine, share, consoleLog, qmpSock, accel string) (string, []string, error) {
	cpus, mem := m.CPUs, m.MemMB
	if mem == 0 {
		// The suite's bundles live in the guest's tmpfs.
		mem = 2048
	}
	var bin, board, cpu, console string
	switch m.Arch {
	case "x86_64", "":
		bin, board, cpu, console = "qemu-system-x86_64", "pc", "max", "ttyS0"
		if cpus == 0 {
			cpus = 2
		}
	case "arm64":
		// The Raspberry Pi 4 stand-in: four Cortex-A72 cores on the virt
		// board (QEMU 7.2 has no raspi4b).
		bin, board, cpu, console = "qemu-system-aarch64", "virt", "cortex-a72", "ttyAMA0"
		if cpus == 0 {
			cpus = 4
		}
	default:
		return "", nil, fmt.Errorf("unknown guest arch %q: want x86_64 or arm64", m.Arch)
	}
	if m.Board != "" {
		board = m.Board
	}
	if m.QEMU != "" {
		bin = m.QEMU
	}
	if accel == "kvm" {
		cpu = "host"
	}
	if m.CPU != "" {
		cpu = m.CPU
	}
	cmdline := append([]string{"console=" + console, "panic=-1", "oops=panic", "nsbench.variant=" + m.Variant, "nsbench.arch=" + orDefault(m.Arch, "x86_64")}, m.Cmdline...)
	args := []string{
		"-M", board, "-cpu", cpu, "-smp", strconv.Itoa(cpus), "-m", strconv.Itoa(mem),
		"-accel", accel, "-no-reboot", "-display", "none", "-monitor", "none",
		"-serial", "file:" + consoleLog,
		"-kernel", m.Kernel, "-initrd", m.Initramfs, "-append", strings.Join(cmdline, " "),
		"-virtfs", "local,path=" + optValue(share) + ",mount_tag=" + guest.ShareTag + ",security_model=none,id=" + guest.ShareTag,
		"-qmp", "unix:" + optValue(qmpSock) + ",server=on,wait=off",
	}
	for i, d := range append(slices.Clip(m.Disks), m.ReadOnlyDisks...) {
		id := "disk" + strconv.Itoa(i)
		ro := ""
		if i >= len(m.Disks) {
			ro = ",readonly=on"
		}
		args = append(args, "-drive", "file="+optValue(d)+",if=none,id="+id+",format=raw,cache=none,aio=native"+ro,
			"-device", "virtio-blk-pci,drive="+id)
	}
	return bin, args, nil
}

// optValue escapes a path inside a QEMU option list, where a comma
// separates options unless doubled.
func optValue(s string) string { return strings.ReplaceAll(s, ",", ",,") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// errNoStart is a QEMU that died before its QMP socket was up.
var errNoStart = errors.New("qemu exited before QMP was up")

// errTimeout is the run's own Options.Timeout running out; a caller that
// cancels (Ctrl-C) or whose deadline passes gets its context's error.
var errTimeout = errors.New("the VM run timed out")

// errSilent is a guest whose kernel printed nothing within the probe
// deadline: the accelerator runs QEMU but not the guest.
var errSilent = errors.New("the guest kernel printed nothing")

// Run boots the machine, runs the job and returns its results. A panic, a
// hang or the timeout ends the VM at once and returns an *Error. KVM is
// dropped for TCG, in the same run, when QEMU aborts under it or its guest
// stays silent past the probe deadline; the verdict is kept for the host's
// boot when o.Accel.VerdictDir is set.
func Run(ctx context.Context, o Options) (*Result, error) {
	attempts, note, err := o.Accel.plan(o.Machine.Arch, o.Machine.CPU)
	if err != nil {
		return nil, err
	}
	arch := orDefault(o.Machine.Arch, "x86_64")
	var dropped []string
	for i, at := range attempts {
		res, err := runOnce(ctx, o, at)
		probing := at.accel == "kvm" && at.probe > 0
		lastKVM := probing && (i+1 == len(attempts) || attempts[i+1].accel != "kvm")
		switch {
		case probing && err == nil:
			if werr := o.Accel.writeVerdict(arch, "works", at.cpu, ""); werr != nil {
				logf(o.Log, "vmtest: %v", werr)
			}
		case probing && (errors.Is(err, errNoStart) || errors.Is(err, errSilent)):
			why := "could not start the guest: " + firstLine(err.Error())
			if errors.Is(err, errSilent) {
				why = fmt.Sprintf("ran QEMU but its guest kernel printed nothing within %s", at.probe)
			}
			dropped = append(dropped, fmt.Sprintf("with -cpu %s it %s", at.cpu, why))
			note = "KVM dropped: " + strings.Join(dropped, "; ")
			if lastKVM {
				if werr := o.Accel.writeVerdict(arch, "broken", "", strings.TrimPrefix(note, "KVM dropped: ")); werr != nil {
					logf(o.Log, "vmtest: %v", werr)
				}
			}
			if i+1 < len(attempts) {
				logf(o.Log, "vmtest: KVM %s; booting the same job under %s", dropped[len(dropped)-1], describe(attempts[i+1]))
				continue
			}
		case errors.Is(err, errNoStart) && i+1 < len(attempts):
			note = fmt.Sprintf("%s dropped: %v", strings.ToUpper(at.accel), err)
			continue
		}
		if err != nil {
			return nil, err
		}
		res.AccelNote = note
		if note == "forced" {
			res.AccelNote = "forced by the caller"
		}
		return res, nil
	}
	return nil, fmt.Errorf("no accelerator could run the guest (%s)", note)
}

func describe(at attempt) string {
	if at.cpu == "" {
		return strings.ToUpper(at.accel)
	}
	return strings.ToUpper(at.accel) + " with -cpu " + at.cpu
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

func runOnce(ctx context.Context, o Options, at attempt) (*Result, error) {
	acc := at.accel
	if o.Timeout == 0 {
		o.Timeout = 20 * time.Minute
	}
	if o.Hang == 0 {
		o.Hang = 5 * time.Minute
	}
	share := filepath.Join(o.Dir, "share")
	if err := os.MkdirAll(share, 0o777); err != nil {
		return nil, err
	}
	job, err := json.Marshal(o.Job)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(share, guest.JobFile), job, 0o644); err != nil {
		return nil, err
	}
	consoleLog := filepath.Join(o.Dir, "console.log")
	qmpSock := filepath.Join(o.Dir, "qmp.sock")
	_ = os.Remove(qmpSock)
	_ = os.Remove(consoleLog)
	m := o.Machine
	if at.cpu != "" {
		m.CPU = at.cpu
	}
	bin, args, err := QEMUArgs(m, share, consoleLog, qmpSock, acc)
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("find %s: %w (apt-get install qemu-system-x86 qemu-system-arm)", bin, err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, errTimeout)
	defer cancel()
	start := time.Now()
	cmd := exec.Command(bin, args...)
	var qemuErr strings.Builder
	cmd.Stderr = &qemuErr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	// exited is closed when QEMU is gone; waitErr is then set.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	// Whatever happens, the VM does not outlive the run.
	defer func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	failCause := func(reason string, cause error) error {
		return &Error{Reason: reason, ConsoleTail: tail(consoleLog, 25), ConsoleLog: consoleLog, Err: cause}
	}
	fail := func(reason string) error { return failCause(reason, nil) }
	mon, err := connectQMP(ctx, qmpSock, exited)
	if err != nil && !errors.Is(err, errNoStart) {
		// Stopped or timed out before QMP was up; the deferred kill ends
		// QEMU, and no other accelerator is tried.
		return nil, fmt.Errorf("connect to QEMU's QMP socket %s: %w", qmpSock, context.Cause(ctx))
	}
	if err != nil {
		<-exited
		return nil, fmt.Errorf("%w (accel %s): %v: %s", errNoStart, acc, waitErr, strings.TrimSpace(qemuErr.String()))
	}
	defer mon.Disconnect()
	if st, err := mon.Run([]byte(`{"execute":"query-status"}`)); err != nil || !strings.Contains(string(st), `"running"`) {
		return nil, fail(fmt.Sprintf("the VM is not running after start: %s %v", st, err))
	}
	quit := func() { _, _ = mon.Run([]byte(`{"execute":"quit"}`)) }

	lastSize, lastChange := int64(-1), time.Now()
	var boot time.Duration
	kernelSeen := false
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-exited:
			done = true
		case <-ctx.Done():
			quit()
			if cause := context.Cause(ctx); !errors.Is(cause, errTimeout) {
				return nil, failCause(fmt.Sprintf("stopped by the caller after %s: %v", time.Since(start).Round(time.Second), cause), cause)
			}
			return nil, failCause(fmt.Sprintf("timed out after %s", o.Timeout), errTimeout)
		case <-tick.C:
			con, _ := os.ReadFile(consoleLog)
			if !kernelSeen && strings.Contains(string(con), kernelBanner) {
				kernelSeen = true
			}
			if at.probe > 0 && !kernelSeen && time.Since(start) > at.probe {
				quit()
				return nil, fmt.Errorf("%w within %s under %s", errSilent, at.probe, acc)
			}
			if boot == 0 && strings.Contains(string(con), "Run /init") {
				boot = time.Since(start)
			}
			if i := strings.Index(string(con), "Kernel panic"); i >= 0 {
				quit()
				return nil, fail("the guest kernel panicked: " + firstLine(string(con[i:])))
			}
			size := int64(len(con)) + dirSize(share)
			if size != lastSize {
				lastSize, lastChange = size, time.Now()
			} else if time.Since(lastChange) > o.Hang {
				quit()
				return nil, fail(fmt.Sprintf("the guest hung: no console or share output for %s", o.Hang))
			}
		}
	}
	if waitErr != nil && qemuErr.Len() > 0 {
		return nil, fail(fmt.Sprintf("qemu failed: %v: %s", waitErr, strings.TrimSpace(qemuErr.String())))
	}
	res := &Result{ExitCodes: map[string]int{}, Outputs: map[string]string{}, Elapsed: time.Since(start), Boot: boot, Accel: acc}
	con, _ := os.ReadFile(consoleLog)
	res.Console = string(con)
	if i := strings.Index(res.Console, "Kernel panic"); i >= 0 {
		return nil, fail("the guest kernel panicked: " + firstLine(res.Console[i:]))
	}
	if msg, err := os.ReadFile(filepath.Join(share, "init-error")); err == nil {
		return nil, fail("the guest init failed: " + strings.TrimSpace(string(msg)))
	}
	if _, err := os.Stat(filepath.Join(share, guest.DoneFile)); err != nil {
		return nil, fail("the guest powered off without finishing its job")
	}
	for _, t := range o.Job.Tests {
		out, _ := os.ReadFile(filepath.Join(share, t.Name+".out"))
		res.Outputs[t.Name] = string(out)
		code, err := os.ReadFile(filepath.Join(share, t.Name+".exit"))
		if err != nil {
			return nil, fail(fmt.Sprintf("no exit code for %s", t.Name))
		}
		res.ExitCodes[t.Name], _ = strconv.Atoi(strings.TrimSpace(string(code)))
	}
	return res, nil
}

// connectQMP waits for QEMU's QMP socket and connects to it.
func connectQMP(ctx context.Context, sock string, exited <-chan struct{}) (*qmp.SocketMonitor, error) {
	for {
		if _, err := os.Stat(sock); err == nil {
			mon, err := qmp.NewSocketMonitor("unix", sock, 5*time.Second)
			if err == nil {
				if err = mon.Connect(); err == nil {
					return mon, nil
				}
			}
		}
		select {
		case <-exited:
			return nil, errNoStart
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func dirSize(dir string) int64 {
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}

func tail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no console output: " + err.Error() + ")"
	}
	ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}
