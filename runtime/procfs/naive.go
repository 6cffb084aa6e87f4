//go:build nsrun_naive

// This file is the deliberately naive twin of write.go, built only with
// -tags nsrun_naive for the conformance self-test. Never build a runtime
// for use with that tag.

package procfs

import "os"

// WriteFile writes path wherever it leads.
func WriteFile(path string, data []byte) error { return os.WriteFile(path, data, 0) }
