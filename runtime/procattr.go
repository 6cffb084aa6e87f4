package runtime

import (
	"fmt"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/nsbench/nsbench/runtime/spec"
)

// applyProcessAttrs sets what the config asks of the process beyond user
// and capabilities: its personality, its scheduling policy and its I/O
// priority (runtime-spec 1.1). It runs before the capabilities drop (a
// higher priority takes CAP_SYS_NICE) and before a seccomp filter loads.
// The validator has checked the values.
func applyProcessAttrs(p *specs.Process, personality *specs.LinuxPersonality) error {
	if personality != nil {
		dom := spec.PersonalityDomains[personality.Domain]
		if _, _, errno := unix.Syscall(unix.SYS_PERSONALITY, dom, 0, 0); errno != 0 {
			return fmt.Errorf("set linux.personality %s: %w", personality.Domain, errno)
		}
	}
	if s := p.Scheduler; s != nil {
		if err := setScheduler(s); err != nil {
			return err
		}
	}
	if io := p.IOPriority; io != nil {
		v := spec.IOPriorityClasses[io.Class]<<13 | uintptr(io.Priority)
		// ioprio_set(IOPRIO_WHO_PROCESS, 0 = this process, value)
		if _, _, errno := unix.Syscall(unix.SYS_IOPRIO_SET, 1, 0, v); errno != 0 {
			return fmt.Errorf("set process.ioPriority %s %d: %w", io.Class, io.Priority, errno)
		}
	}
	return nil
}

// schedAttr is struct sched_attr of sched_setattr(2) (version 1, with the
// utilisation clamps).
type schedAttr struct {
	size     uint32
	policy   uint32
	flags    uint64
	nice     int32
	priority uint32
	runtime  uint64
	deadline uint64
	period   uint64
	utilMin  uint32
	utilMax  uint32
}

func setScheduler(s *specs.Scheduler) error {
	a := schedAttr{
		policy: spec.SchedulerPolicies[s.Policy], nice: s.Nice, priority: uint32(s.Priority),
		runtime: s.Runtime, deadline: s.Deadline, period: s.Period,
	}
	a.size = uint32(unsafe.Sizeof(a))
	for _, f := range s.Flags {
		a.flags |= spec.SchedulerFlags[f]
	}
	if _, _, errno := unix.Syscall(unix.SYS_SCHED_SETATTR, 0, uintptr(unsafe.Pointer(&a)), 0); errno != 0 {
		return fmt.Errorf("set process.scheduler %s (nice %d, priority %d): %w", s.Policy, s.Nice, s.Priority, errno)
	}
	return nil
}
