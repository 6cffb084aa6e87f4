package runtime

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/runtime/spec"
)

// Where a config asks for something the kernel cannot do as written and
// runc 1.1.5 runs it anyway, nsrun runs it the same way and says what it
// left out. Each case is a row of the README's compatibility table.

// normalize adjusts a validated config in place, warning about each change:
//   - capability names nsrun does not know: skipped, as runc skips them.
//   - kernel memory limits: ignored, as runc 1.1 ignores them.
//   - ambient capabilities that are not also permitted and inheritable: the
//     kernel refuses to raise them (PR_CAP_AMBIENT_RAISE gives EPERM); runc
//     and crun warn and start the process without them. `runc spec`'s own
//     default config lists ambient capabilities and no inheritable ones.
//   - filesystem data options (key=value, such as mode= or size=) on a bind
//     mount: a bind takes no data, the kernel ignores it; runc passes it and
//     the kernel drops it.
func (r *Runtime) normalize(s *specs.Spec) {
	if c := s.Process.Capabilities; c != nil {
		var unknown []string
		for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Inheritable, &c.Permitted, &c.Ambient} {
			var keep []string
			for _, name := range *set {
				if _, ok := spec.Capability(name); ok {
					keep = append(keep, name)
				} else if !contains(unknown, name) {
					unknown = append(unknown, name)
				}
			}
			*set = keep
		}
		if len(unknown) > 0 {
			r.warn("process.capabilities: %s unknown to nsrun and skipped (runc skips unknown capabilities the same way)", strings.Join(unknown, ", "))
		}
	}
	//lint:ignore SA1019 the deprecated field is read only to say it is ignored
	if m := s.Linux.Resources; m != nil && m.Memory != nil && (m.Memory.Kernel != nil || m.Memory.KernelTCP != nil) {
		r.warn("linux.resources.memory.kernel/kernelTCP ignored: deprecated in the runtime spec, and current kernels no longer limit kernel memory apart (runc 1.1 ignores them too)")
	}
	if c := s.Process.Capabilities; c != nil && len(c.Ambient) > 0 {
		var keep, dropped []string
		for _, name := range c.Ambient {
			if contains(c.Inheritable, name) && contains(c.Permitted, name) {
				keep = append(keep, name)
			} else {
				dropped = append(dropped, name)
			}
		}
		if len(dropped) > 0 {
			r.warn("process.capabilities.ambient: %s not raised: an ambient capability must also be permitted and inheritable (runc and crun skip them the same way)", strings.Join(dropped, ", "))
			c.Ambient = keep
		}
	}
	for i := range s.Mounts {
		m := &s.Mounts[i]
		if !spec.IsBind(*m) {
			continue
		}
		var keep, dropped []string
		for _, o := range m.Options {
			if spec.IsData(o) {
				dropped = append(dropped, o)
			} else {
				keep = append(keep, o)
			}
		}
		if len(dropped) > 0 {
			r.warn("mounts[%d] (%s): %s ignored: a bind mount takes no filesystem data (runc passes it and the kernel ignores it)", i, m.Destination, strings.Join(dropped, ","))
			m.Options = keep
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// allowedDevices are the device cgroup rules runc appends after a config's
// own (specconv.AllowedDevices in runc 1.1): mknod of any node, the nodes
// every container gets, /dev/ptmx, /dev/pts/*, /dev/net/tun. linux.devices
// get no rule of their own, as with runc: the config's resources.devices
// (docker's and podman's --device add one) decide their access.
var allowedDevices = []struct {
	typ          string
	major, minor int64
	access       string
}{
	{"c", -1, -1, "m"}, {"b", -1, -1, "m"},
	{"c", 1, 3, "rwm"}, {"c", 1, 8, "rwm"}, {"c", 1, 7, "rwm"}, {"c", 5, 0, "rwm"},
	{"c", 1, 5, "rwm"}, {"c", 1, 9, "rwm"}, {"c", 136, -1, "rwm"}, {"c", 5, 2, "rwm"}, {"c", 10, 200, "rwm"},
}

// withAllowedDevices is the config's resources with allowedDevices after
// its device rules: a deny-all rule alone would forbid even /dev/null.
func withAllowedDevices(s *specs.Spec) *specs.LinuxResources {
	if s.Linux.Resources == nil {
		return nil
	}
	r := *s.Linux.Resources
	if len(r.Devices) == 0 {
		return &r
	}
	r.Devices = append([]specs.LinuxDeviceCgroup(nil), r.Devices...)
	for _, d := range allowedDevices {
		mj, mn := d.major, d.minor
		r.Devices = append(r.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: d.typ, Major: &mj, Minor: &mn, Access: d.access})
	}
	return &r
}
