package spec

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// PersonalityDomains are the personality(2) values of linux.personality's
// domains.
var PersonalityDomains = map[specs.LinuxPersonalityDomain]uintptr{
	specs.PerLinux: 0x0000, specs.PerLinux32: 0x0008,
}

// SchedulerPolicies are the kernel's numbers of process.scheduler's
// policies (SCHED_ISO is in the spec but not in Linux).
var SchedulerPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

// SchedulerFlags are sched_attr's flag bits.
var SchedulerFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10, specs.SchedFlagUtilClampMin: 0x20,
	specs.SchedFlagUtilClampMax: 0x40,
}

// IOPriorityClasses are ioprio_set(2)'s class numbers.
var IOPriorityClasses = map[specs.IOPriorityClass]uintptr{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

// validateExtras checks the runtime-spec 1.1+ fields: the ones nsrun
// applies (personality, scheduler, I/O priority) for values the kernel
// takes, and refuses those it cannot apply instead of running without
// them.
func validateExtras(s *specs.Spec) []error {
	var errs []error
	if p := s.Process; p != nil {
		if sc := p.Scheduler; sc != nil {
			policy, ok := SchedulerPolicies[sc.Policy]
			switch {
			case !ok:
				errs = append(errs, bad("process.scheduler.policy", "%q is not one of SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, SCHED_DEADLINE (Linux has no SCHED_ISO)", sc.Policy))
			case sc.Nice < -20 || sc.Nice > 19:
				errs = append(errs, bad("process.scheduler.nice", "%d is not in -20..19", sc.Nice))
			case (policy == 1 || policy == 2) && (sc.Priority < 1 || sc.Priority > 99):
				errs = append(errs, bad("process.scheduler.priority", "%d: %s takes 1..99", sc.Priority, sc.Policy))
			case policy != 1 && policy != 2 && sc.Priority != 0:
				errs = append(errs, bad("process.scheduler.priority", "%d: only SCHED_FIFO and SCHED_RR take a priority", sc.Priority))
			case policy != 6 && (sc.Runtime != 0 || sc.Deadline != 0 || sc.Period != 0):
				errs = append(errs, bad("process.scheduler", "runtime, deadline and period are for SCHED_DEADLINE only"))
			}
			for i, f := range sc.Flags {
				if _, ok := SchedulerFlags[f]; !ok {
					errs = append(errs, bad(fmt.Sprintf("process.scheduler.flags[%d]", i), "unknown flag %q", f))
				}
			}
		}
		if io := p.IOPriority; io != nil {
			if _, ok := IOPriorityClasses[io.Class]; !ok {
				errs = append(errs, bad("process.ioPriority.class", "%q is not IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE", io.Class))
			} else if io.Priority < 0 || io.Priority > 7 {
				errs = append(errs, bad("process.ioPriority.priority", "%d is not in 0..7", io.Priority))
			}
		}
		if p.ExecCPUAffinity != nil {
			errs = append(errs, bad("process.execCPUAffinity", "not applied by nsrun: drop it (a runtime that ignores it would run the process on other CPUs than asked)"))
		}
	}
	if l := s.Linux; l != nil {
		if pe := l.Personality; pe != nil {
			if _, ok := PersonalityDomains[pe.Domain]; !ok {
				errs = append(errs, bad("linux.personality.domain", "%q is not LINUX or LINUX32", pe.Domain))
			}
			if len(pe.Flags) > 0 {
				errs = append(errs, bad("linux.personality.flags", "the runtime spec defines no flags; drop %v", pe.Flags))
			}
		}
		if l.IntelRdt != nil {
			errs = append(errs, bad("linux.intelRdt", "nsrun does not manage Intel RDT (resctrl); drop it (runc refuses it too where RDT is not enabled)"))
		}
		if len(l.NetDevices) > 0 {
			errs = append(errs, bad("linux.netDevices", "moving host network devices into the container is not done by nsrun; drop them, or attach a network with a hook (nsnet)"))
		}
		if l.MemoryPolicy != nil {
			errs = append(errs, bad("linux.memoryPolicy", "not applied by nsrun: drop it"))
		}
	}
	return errs
}
