package state

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
)

// FuzzDecode: any state file is refused or decoded into a record of the
// container asked for, with a pid that cannot signal a process group, which
// saves and decodes back to the same record. Seeds: state files nsrun wrote
// (testdata/state).
func FuzzDecode(f *testing.F) {
	testutil.Seed(f, filepath.Join("state", "*.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode("reliab-cap", "state.json", data)
		if err != nil {
			return
		}
		if c.ID != "reliab-cap" || c.Pid < 0 {
			t.Fatalf("accepted a record of %q with pid %d", c.ID, c.Pid)
		}
		enc, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("an accepted record does not encode: %v", err)
		}
		back, err := Decode("reliab-cap", "state.json", enc)
		if err != nil {
			t.Fatalf("an accepted record does not decode back: %v\n%s", err, enc)
		}
		if diff := cmp.Diff(c, back, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("a record changes when saved again (-first +again):\n%s", diff)
		}
	})
}

func TestDecodeRefusesDamage(t *testing.T) {
	good := string(testutil.ReadFile(t, testutil.Testdata(t, "state", "created.json")))
	_, err := Decode("reliab-cap", "s", []byte(good))
	require.NoError(t, err, "a state nsrun wrote")
	for name, tc := range map[string]struct{ id, text, want string }{
		"other id":  {"other", good, `the record is of container "reliab-cap", not "other"`},
		"negative":  {"c", `{"id":"c","status":"running","pid":-1}`, "pid -1"},
		"status":    {"c", `{"id":"c","status":"exploded","pid":5}`, `unknown status "exploded"`},
		"truncated": {"reliab-cap", good[:len(good)/2], "decode state s"},
	} {
		_, err := Decode(tc.id, "s", []byte(tc.text))
		assert.ErrorContains(t, err, tc.want, name)
	}
}
