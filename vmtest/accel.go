package vmtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/atomicfile"
)

// Accel says how to choose QEMU's accelerator. The zero value decides by
// evidence: KVM when /dev/kvm opens and the guest's arch is the host's,
// dropped for TCG when QEMU aborts under it or when the guest kernel prints
// nothing within ProbeDeadline. /dev/kvm existing proves little: nested KVM
// has aborted QEMU on one machine (MSR 0x10a) and, on another, run it at
// 100 % CPU without the guest ever executing a byte of its kernel.
type Accel struct {
	// Force is "kvm" or "tcg" to use that one and nothing else.
	Force string
	// ProbeDeadline is how long a KVM guest may stay silent before KVM is
	// declared broken. Under working KVM a minimal kernel prints its banner
	// within about a second; default 20 s leaves room for a loaded host.
	ProbeDeadline time.Duration
	// VerdictDir, when set, keeps the host's verdict on KVM per boot, so
	// only the first run after a reboot pays the probe.
	VerdictDir string
}

// DefaultProbeDeadline bounds a silent KVM guest.
const DefaultProbeDeadline = 20 * time.Second

// kernelBanner is the first line every Linux kernel prints (x86 and arm64,
// any loglevel the suite uses): the evidence that the guest really runs.
const kernelBanner = "Linux version "

// attempt is one accelerator (and CPU model) to try; probe > 0 bounds
// its silence.
type attempt struct {
	accel, cpu string
	probe      time.Duration
}

// kvmCPUs are the CPU models KVM is tried with, best first. "host" passes
// the real CPU through; nested KVM that refuses to let the guest set
// IA32_ARCH_CAPABILITIES (MSR 0x10a: QEMU aborts in kvm_buf_set_msrs) can
// still run a guest whose CPU lacks that feature.
var kvmCPUs = [...]string{"host", "host,-arch-capabilities"}

// verdict is what a host's KVM did on one boot of the host.
type verdict struct {
	BootID string    `json:"boot_id"`
	Arch   string    `json:"arch"`
	KVM    string    `json:"kvm"` // "works" or "broken"
	CPU    string    `json:"cpu,omitempty"`
	Reason string    `json:"reason,omitempty"`
	When   time.Time `json:"when"`
}

// hostArch maps Go's GOARCH to the guest arch names; KVM only runs guests
// of the host's own arch.
func hostArch() string {
	switch goruntime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "arm64"
	}
	return goruntime.GOARCH
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (a Accel) verdictPath(arch string) string {
	return filepath.Join(a.VerdictDir, "kvm-"+arch+".json")
}

// readVerdict returns this boot's verdict on KVM for arch, if one was kept.
func (a Accel) readVerdict(arch string) (*verdict, string) {
	if a.VerdictDir == "" {
		return nil, ""
	}
	p := a.verdictPath(arch)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, p
	}
	var v verdict
	if json.Unmarshal(data, &v) != nil || v.BootID == "" || v.BootID != bootID() || v.Arch != arch {
		return nil, p
	}
	return &v, p
}

// writeVerdict keeps what KVM did for the rest of this host boot. Failing
// to keep it costs only a later probe, so the error is returned for the
// caller to report, never to fail the run on.
func (a Accel) writeVerdict(arch, kvm, cpu, reason string) error {
	if a.VerdictDir == "" {
		return nil
	}
	if err := os.MkdirAll(a.VerdictDir, 0o755); err != nil {
		return fmt.Errorf("keep the KVM verdict: %w", err)
	}
	v := verdict{BootID: bootID(), Arch: arch, KVM: kvm, CPU: cpu, Reason: reason, When: time.Now().UTC()}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(a.verdictPath(arch), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("keep the KVM verdict: %w", err)
	}
	return nil
}

// plan lists the accelerators to try for a guest of arch, best first, and
// says why KVM is not among them when it is not. cpu, when set, is the
// only CPU model KVM is tried with.
func (a Accel) plan(arch, cpu string) ([]attempt, string, error) {
	if arch == "" {
		arch = "x86_64"
	}
	probe := a.ProbeDeadline
	if probe == 0 {
		probe = DefaultProbeDeadline
	}
	switch a.Force {
	case "kvm", "tcg":
		return []attempt{{accel: a.Force}}, "forced", nil
	case "":
	default:
		return nil, "", fmt.Errorf("unknown accelerator %q: want kvm or tcg (or nothing, to decide by probing)", a.Force)
	}
	if arch != hostArch() {
		return []attempt{{accel: "tcg"}}, fmt.Sprintf("KVM not tried: a %s guest on a %s host", arch, hostArch()), nil
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return []attempt{{accel: "tcg"}}, fmt.Sprintf("KVM not tried: %v", err), nil
	}
	f.Close()
	v, p := a.readVerdict(arch)
	if v != nil && v.KVM == "broken" {
		return []attempt{{accel: "tcg"}}, fmt.Sprintf("KVM not tried: earlier on this boot %s (verdict in %s)", v.Reason, p), nil
	}
	cpus := kvmCPUs[:]
	if arch != "x86_64" {
		cpus = []string{"host"}
	}
	switch {
	case cpu != "":
		cpus = []string{cpu}
	case v != nil && v.CPU != "":
		cpus = []string{v.CPU}
	}
	var atts []attempt
	for _, c := range cpus {
		atts = append(atts, attempt{accel: "kvm", cpu: c, probe: probe})
	}
	return append(atts, attempt{accel: "tcg"}), "", nil
}
