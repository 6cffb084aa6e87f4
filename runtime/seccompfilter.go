package runtime

// The container's seccomp filter: compiled once on the host at create,
// kept beside the state record, handed to the init and to exec compiled.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/runtime/seccomp"
)

// compileSeccomp compiles the container's filter, once, on the host: the
// init only loads it. The kernel is asked here whether it takes the
// filter's actions and flags, so that create fails, not start.
func compileSeccomp(p *specs.LinuxSeccomp) (*seccomp.Filter, error) {
	if p == nil {
		return nil, nil
	}
	arch, err := seccomp.HostArch()
	if err != nil {
		return nil, fmt.Errorf("config.json: linux.seccomp: %w", err)
	}
	f, err := seccomp.Compile(p, arch)
	if err != nil {
		if _, ok := err.(*seccomp.Error); ok {
			return nil, fmt.Errorf("config.json: %w", err)
		}
		return nil, fmt.Errorf("config.json: linux.seccomp: %w", err)
	}
	if f != nil {
		if err := f.Check(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func saveFilter(dir string, f *seccomp.Filter) error {
	if f == nil {
		return nil
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode the seccomp filter: %w", err)
	}
	return atomicfile.Write(filepath.Join(dir, filterName), data, 0o600)
}

// loadFilter is the container's compiled filter; a container whose record
// predates the file gets its profile compiled again.
func loadFilter(dir string, s *specs.Spec) (*seccomp.Filter, error) {
	data, err := os.ReadFile(filepath.Join(dir, filterName))
	if errors.Is(err, os.ErrNotExist) {
		if s == nil || s.Linux == nil {
			return nil, nil
		}
		return compileSeccomp(s.Linux.Seccomp)
	}
	if err != nil {
		return nil, fmt.Errorf("read the container's seccomp filter: %w", err)
	}
	var f seccomp.Filter
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Join(dir, filterName), err)
	}
	return &f, nil
}

// withoutSeccomp is s without its seccomp profile (tens of kilobytes of
// JSON), which the init gets compiled instead.
func withoutSeccomp(s *specs.Spec) *specs.Spec {
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return s
	}
	cp, lx := *s, *s.Linux
	lx.Seccomp = nil
	cp.Linux = &lx
	return &cp
}
