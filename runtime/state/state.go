// Package state keeps nsrun's per-container records: one directory per
// container under the runtime root, a state file replaced atomically, and
// an flock (internal/flock) that serialises commands on the same container.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/atomicfile"
	"github.com/nsbench/nsbench/internal/flock"
	"github.com/nsbench/nsbench/runtime/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// idByte reports whether c may appear in an id (first: as its first byte);
// a check by hand rather than a regexp compiled when every nsrun process,
// the container's init too, starts.
func idByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '_' || c == '+' || c == '.' || c == '-':
		return !first
	}
	return false
}

// ErrNotExist means no container has the id.
var ErrNotExist = errors.New("container does not exist")

// ErrExist means the id is taken.
var ErrExist = errors.New("container already exists")

// ValidateID accepts the ids runc accepts: letters, digits, _ + . -, not
// starting with punctuation, so an id is always a plain directory name.
func ValidateID(id string) error {
	if len(id) == 0 || len(id) > 1024 || !idByte(id[0], true) || strings.IndexFunc(id[1:], func(r rune) bool { return r >= 0x80 || !idByte(byte(r), false) }) >= 0 {
		return fmt.Errorf("invalid container id %q: use letters, digits, '_', '+', '.', '-' (starting with a letter or digit)", id)
	}
	return nil
}

// Container is what nsrun remembers of a container between commands.
type Container struct {
	specs.State
	Created time.Time `json:"created"`
	// InitStartTime is field 22 of /proc/PID/stat of the init process, to
	// tell it from a later process that reused its pid.
	InitStartTime uint64            `json:"initStartTime,omitempty"`
	CgroupPaths   map[string]string `json:"cgroupPaths,omitempty"`
	Rootless      bool              `json:"rootless,omitempty"`
	// Config is the bundle's config as it was at create time: delete runs
	// its poststop hooks even if the bundle changed since.
	Config *specs.Spec `json:"config"`
}

// Store is a runtime root directory.
type Store struct {
	Root string
}

// Dir returns the directory of container id.
func (s *Store) Dir(id string) string { return filepath.Join(s.Root, id) }

// Create reserves id, creating its directory, and returns it locked.
func (s *Store) Create(ctx context.Context, id string) (unlock func(), err error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Root, 0o711); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", s.Root, err)
	}
	if err := os.Mkdir(s.Dir(id), 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create container %s: %w (delete it first, or pick another id)", id, ErrExist)
		}
		return nil, fmt.Errorf("create state directory %s: %w", s.Dir(id), err)
	}
	return s.lock(ctx, id)
}

// Lock takes the container's lock, waiting until ctx ends; every command
// that changes a container holds it, so concurrent commands on one id run
// one after the other.
func (s *Store) Lock(ctx context.Context, id string) (unlock func(), err error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	return s.lock(ctx, id)
}

// lock flocks the container's directory itself: no lock file to outlive
// the container.
func (s *Store) lock(ctx context.Context, id string) (func(), error) {
	unlock, err := flock.LockDir(ctx, s.Dir(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	return unlock, nil
}

// Save writes the record atomically: a reader sees the old file or the new
// one, never a torn one. It is not fsynced: a record is about processes
// that a crash of the machine ends too (and it lives under /run, cleared
// at boot, by default), so durability would buy nothing for two journal
// commits per save.
func (s *Store) Save(c *Container) error {
	data, err := Encode(c)
	if err != nil {
		return fmt.Errorf("encode state of %s: %w", c.ID, err)
	}
	if err := atomicfile.WriteVolatile(filepath.Join(s.Dir(c.ID), "state.json"), data, 0o600); err != nil {
		return fmt.Errorf("save state of %s: %w", c.ID, err)
	}
	return nil
}

// Encode is json.Marshal(c), the config encoded with package spec's
// generated encoders (see Decode).
func Encode(c *Container) ([]byte, error) {
	cfg, err := spec.Encode(c.Config)
	if err != nil {
		return nil, err
	}
	type plain Container
	return json.Marshal(struct {
		*plain
		Config json.RawMessage `json:"config"`
	}{(*plain)(c), cfg})
}

// Load reads container id's record.
func (s *Store) Load(id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	path := filepath.Join(s.Dir(id), "state.json")
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if _, derr := os.Stat(s.Dir(id)); derr == nil {
				// The directory exists without a record: a create that
				// died before its first save. delete --force removes it.
				return &Container{State: specs.State{ID: id, Status: specs.StateCreating}}, nil
			}
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	return Decode(id, path, data)
}

// statuses are the states a record may hold ("paused" as runc reports a
// frozen container).
var statuses = map[specs.ContainerState]bool{
	specs.StateCreating: true, specs.StateCreated: true, specs.StateRunning: true, specs.StateStopped: true, "paused": true,
}

// Decode parses the state file of container id (path names it in errors).
// A record of another id, a negative pid or an unknown status is refused:
// the file is damaged or not nsrun's, and acting on it (signalling its
// pid, say) could hit another process.
func Decode(id, path string, data []byte) (*Container, error) {
	var c Container
	// The config goes to package spec's generated decoders: every command
	// loads the record, and encoding/json's reflection over the spec's
	// types would cost each about 1 ms of CPU.
	type plain Container
	aux := struct {
		*plain
		Config json.RawMessage `json:"config"`
	}{plain: (*plain)(&c)}
	if err := json.Unmarshal(data, &aux); err != nil {
		return nil, fmt.Errorf("decode state %s: %w", path, err)
	}
	var err error
	if c.Config, err = spec.DecodeRaw(aux.Config); err != nil {
		return nil, fmt.Errorf("decode state %s: config: %w", path, err)
	}
	switch {
	case c.ID != id:
		return nil, fmt.Errorf("decode state %s: the record is of container %q, not %q", path, c.ID, id)
	case c.Pid < 0:
		return nil, fmt.Errorf("decode state %s: pid %d", path, c.Pid)
	case !statuses[c.Status]:
		return nil, fmt.Errorf("decode state %s: unknown status %q", path, c.Status)
	}
	return &c, nil
}

// Remove deletes the container's directory and everything in it.
func (s *Store) Remove(id string) error {
	if err := ValidateID(id); err != nil {
		return err
	}
	if err := os.RemoveAll(s.Dir(id)); err != nil {
		return fmt.Errorf("remove state directory %s: %w", s.Dir(id), err)
	}
	return nil
}

// List returns the ids in the root, sorted.
func (s *Store) List() ([]string, error) {
	entries, err := os.ReadDir(s.Root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s: %w", s.Root, err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}
