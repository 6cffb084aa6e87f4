// Package images builds the compressed initramfs an nsbench VM guest boots:
// busybox, the guest init, the suite's static binaries and test binaries.
// The archive is reproducible (sorted entries, fixed times and owners), so
// the same inputs give the same bytes, and it is cached by content hash.
package images

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
