package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/nsbench/nsbench/runtime/seccomp"
	"github.com/nsbench/nsbench/runtime/spec"
)

// Features is the runtime-spec features document (`nsrun features`): what
// this nsrun implements, for engines that ask before they build a config.
// It is derived from the same tables the validator and the init use, so it
// cannot claim what nsrun refuses.
func Features() *features.Features {
	yes, no := true, false
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  spec.MountOptions(),
		Linux: &features.Linux{
			Namespaces:   spec.Namespaces(),
			Capabilities: spec.Capabilities(),
			// cgroupfs on v1, hybrid and v2 hosts; no systemd driver
			// (--systemd-cgroup is refused), no rdma controller.
			Cgroup: &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &no},
			Seccomp: &features.Seccomp{
				Enabled: &yes, Actions: seccomp.Actions(), Operators: seccomp.Operators(), Archs: seccomp.Archs(),
				KnownFlags: seccomp.KnownFlags(), SupportedFlags: seccomp.SupportedFlags(),
			},
			Apparmor:        &features.Apparmor{Enabled: &no},
			Selinux:         &features.Selinux{Enabled: &no},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}},
		},
		Annotations: map[string]string{"org.nsbench.nsrun.cgroupDriver": "cgroupfs"},
	}
}
