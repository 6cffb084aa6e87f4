package conformance

// The teardown family: nothing of a deleted container is left.

import (
	"context"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nsbench/nsbench/internal/leftover"
	"github.com/nsbench/nsbench/internal/oci"
)

func checkTeardown(ctx context.Context, e *Env) Result {
	b, err := e.NewBundle("sleep", "30")
	if err != nil {
		return fail("make bundle: %v", err)
	}
	defer os.RemoveAll(b.Dir)
	id := newID("down")
	pid, remove, err := e.launch(ctx, id, b, oci.IO{}, true)
	if err != nil {
		return fail("%v", err)
	}
	defer remove() // in case the delete under test fails
	if err := e.Runtime.Delete(ctx, id, true); err != nil {
		return fail("delete --force: %v", err)
	}
	// The runtime's cgroup is named after the id, at the top of a
	// hierarchy or one level down (runc, crun and nsrun differ).
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	left := leftover.Scope{PIDs: []int{pid}, Cgroups: []string{id, "*/" + id}}.Wait(wait)
	if _, err := e.Runtime.State(ctx, id); err == nil {
		left = append(left, "state (the runtime still knows "+id+")")
	}
	if len(left) > 0 {
		return fail("left after delete: %s", strings.Join(slices.Compact(left), ", "))
	}
	return pass("no process, cgroup or state left")
}
