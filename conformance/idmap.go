package conformance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/nsbench/nsbench/internal/kfeatures"
)

// IDAllocator hands out disjoint host id ranges, so containers that run at
// once never share a host id: an escape from one must not land as a user of
// another.
type IDAllocator struct {
	mu   sync.Mutex
	next uint32
}

// NewIDAllocator starts at base (well above the host's own accounts).
func NewIDAllocator(base uint32) *IDAllocator { return &IDAllocator{next: base} }

// Allocate returns maps of size ids starting at container id 0.
func (a *IDAllocator) Allocate(size uint32) []specs.LinuxIDMapping {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: a.next, Size: size}}
	a.next += size
	return m
}

// ErrSharedRange and ErrHostRoot are what CheckMaps reports.
var (
	ErrSharedRange = errors.New("containers share host ids")
	ErrHostRoot    = errors.New("host uid 0 is mapped into a container")
)

// CheckMaps inspects the uid maps of containers meant to run at once: any
// host id in two of them is ErrSharedRange, host uid 0 in any is ErrHostRoot.
func CheckMaps(byContainer map[string][]specs.LinuxIDMapping) error {
	type span struct {
		id         string
		start, end uint64
	}
	var spans []span
	var errs []error
	for id, maps := range byContainer {
		for _, m := range maps {
			s := span{id, uint64(m.HostID), uint64(m.HostID) + uint64(m.Size)}
			if s.start == 0 && s.end > 0 {
				errs = append(errs, fmt.Errorf("%w: %s maps container id %d to host root", ErrHostRoot, id, m.ContainerID))
			}
			for _, o := range spans {
				if o.id != s.id && s.start < o.end && o.start < s.end {
					errs = append(errs, fmt.Errorf("%w: %s [%d,%d) and %s [%d,%d)", ErrSharedRange, id, s.start, s.end, o.id, o.start, o.end))
				}
			}
			spans = append(spans, s)
		}
	}
	return errors.Join(errs...)
}

// checkIDRanges: two containers with ranges from the allocator run at once,
// each sees exactly its own map, and the maps share no host id.
func checkIDRanges(ctx context.Context, e *Env) Result {
	if os.Geteuid() != 0 {
		return skip("mapping ranges other than your own ids needs root (or newuidmap)")
	}
	f, err := kfeatures.Detect()
	if err != nil {
		return fail("%v", err)
	}
	if err := f.UserNamespaces(); err != nil {
		if errors.Is(err, kfeatures.ErrPolicy) {
			return Result{Policy, err.Error()}
		}
		return skip("%v", err)
	}
	// The check brings its own configuration (a user namespace with a
	// 65536-id range) and judges map handling only; a simulated breakage
	// such as a missing pid namespace would just make the kernel refuse
	// proc in that user namespace, which says nothing about id ranges.
	clean := *e
	clean.Break = nil
	e = &clean
	alloc := NewIDAllocator(200000)
	maps := map[string][]specs.LinuxIDMapping{}
	var seen []string
	for i := 0; i < 2; i++ {
		m := alloc.Allocate(65536)
		maps[fmt.Sprint("c", i)] = m
		r, err := e.RunProbe(ctx, func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
			s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
		})
		if err != nil {
			return fail("container with uid map %v: %v", m, err)
		}
		want := fmt.Sprintf("0 %d %d", m[0].HostID, m[0].Size)
		if r.UIDMap != want {
			return fail("uid_map inside is %q, the config says %q", r.UIDMap, want)
		}
		seen = append(seen, r.UIDMap)
	}
	if err := CheckMaps(maps); err != nil {
		return fail("%v", err)
	}
	return pass("two containers mapped %q and %q: disjoint, as configured", seen[0], seen[1])
}
