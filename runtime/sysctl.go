package runtime

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nsbench/nsbench/runtime/procfs"
)

// applySysctls writes linux.sysctl through the container's /proc/sys, after
// pivot_root and before readonlyPaths makes /proc/sys read-only, as runc
// does. The validator let through only sysctls of the container's own
// namespaces.
func applySysctls(sysctl map[string]string) error {
	keys := make([]string, 0, len(sysctl))
	for k := range sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/"))
		// Verified to land on the container's procfs, beneath /proc with
		// no symlink or mount on the way: an image's /proc cannot redirect
		// the runtime's write to a file of its choosing.
		if err := procfs.WriteFile(p, []byte(sysctl[k])); err != nil {
			return fmt.Errorf("set linux.sysctl %s=%q: write %s: %w", k, sysctl[k], p, err)
		}
	}
	return nil
}
