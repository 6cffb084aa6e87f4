package guest

// Job is what the guest init reads from the share: the tests to run and
// the kernel variant's sysctls.
type Job struct {
	Sysctls map[string]string `json:"sysctls,omitempty"`
	Tests   []Test            `json:"tests"`
}

// Test is one program the guest runs; its output goes to <Name>.out and its
// exit code to <Name>.exit on the share.
type Test struct {
	Name string   `json:"name"`
	Path string   `json:"path"`
	Args []string `json:"args,omitempty"`
	Env  []string `json:"env,omitempty"`
}

// Share paths, as the guest sees them.
const (
	ShareTag   = "nsbench"
	ShareMount = "/share"
	JobFile    = "job.json"
	DoneFile   = "done"
)

// Paths of the kernel modules in the image and of their load order (a
// distribution kernel has 9p, virtio and the network devices as modules,
// and there is no modprobe in the guest).
const (
	ModuleDir  = "/lib/modules/nsbench"
	ModuleList = "/etc/nsbench/modules"
)
