package guest

// Job is what the guest init reads from the share: the tests to run, the
// kernel variant's sysctls and the file systems to mount first.
type Job struct {
	Sysctls map[string]string `json:"sysctls,omitempty"`
	Mounts  []Mount           `json:"mounts,omitempty"`
	// Overlays are laid over the root after the mounts.
	Overlays []Overlay `json:"overlays,omitempty"`
	Tests    []Test    `json:"tests"`
}

// Mount is a file system the guest init mounts before the tests: a disk
// the host gave the guest (vmtest.Machine.Disks are /dev/vda, /dev/vdb, ...).
type Mount struct {
	Source string `json:"source"`
	Target string `json:"target"`
	FSType string `json:"fstype"`
	Data   string `json:"data,omitempty"`
	// ReadOnly mounts it read-only (a disk attached read-only must be).
	ReadOnly bool `json:"read_only,omitempty"`
}

// Overlay lays the directory Lower (on a mounted disk) over the guest's
// Target: Lower's files are seen first, Target's own stay visible under
// them, and writes go to a tmpfs, so Target stays writable. A tool disk's
// programs thus appear at the paths they were built for.
type Overlay struct {
	Lower  string `json:"lower"`
	Target string `json:"target"`
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
