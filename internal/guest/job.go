package guest

// Job is what the guest init reads from the share: the tests to run, the
// kernel variant's sysctls and the file systems to mount first.
type Job struct {
	Sysctls map[string]string `json:"sysctls,omitempty"`
	Mounts  []Mount           `json:"mounts,omitempty"`
	Tests   []Test            `json:"tests"`
}

// Mount is a file system the guest init mounts before the tests: a disk
// the host gave the guest (vmtest.Machine.Disks are /dev/vda, /dev/vdb, ...).
type Mount struct {
	Source string `json:"source"`
	Target string `json:"target"`
	FSType string `json:"fstype"`
	Data   string `json:"data,omitempty"`
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
