package matrix

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A trimmed capture of `go test -json ./conformance/` output.
const sample = `{"Action":"output","Package":"p","Output":"nsbench-conformance runtime=runc version=\"runc version 1.1.5+ds1\" kernel=6.18.44 euid=0\n"}
{"Action":"run","Package":"p","Test":"TestInvariants/mount-leak"}
{"Action":"output","Package":"p","Test":"TestInvariants/mount-leak","Output":"    conformance_test.go:107: no mount left\n"}
{"Action":"pass","Package":"p","Test":"TestInvariants/mount-leak","Elapsed":0.1}
{"Action":"run","Package":"p","Test":"TestInvariants/net-ns"}
{"Action":"output","Package":"p","Test":"TestInvariants/net-ns","Output":"    conformance_test.go:109: interfaces inside: [lo eth0]\n"}
{"Action":"fail","Package":"p","Test":"TestInvariants/net-ns","Elapsed":0.1}
{"Action":"run","Package":"p","Test":"TestInvariants/user-ns-maps"}
{"Action":"output","Package":"p","Test":"TestInvariants/user-ns-maps","Output":"    conformance_test.go:111: policy: user.max_user_namespaces=0\n"}
{"Action":"skip","Package":"p","Test":"TestInvariants/user-ns-maps","Elapsed":0}
{"Action":"run","Package":"p","Test":"TestInvariants/teardown"}
`

func TestParse(t *testing.T) {
	run, err := Parse(strings.NewReader(sample))
	require.NoError(t, err)
	assert.Equal(t, "runc", run.Runtime)
	assert.Equal(t, "runc version 1.1.5+ds1", run.Version)
	assert.Equal(t, "6.18.44", run.Kernel)
	want := []Result{
		{"mount-leak", "pass", "no mount left"},
		{"net-ns", "fail", "interfaces inside: [lo eth0]"},
		{"user-ns-maps", "policy", "user.max_user_namespaces=0"},
		{"teardown", "fail", ""},
	}
	assert.Empty(t, cmp.Diff(want, run.Results))
}

func TestParseNothing(t *testing.T) {
	_, err := Parse(strings.NewReader("build failed\n"))
	assert.ErrorContains(t, err, "no TestInvariants results")
}

func TestTableSideBySide(t *testing.T) {
	a, err := Parse(strings.NewReader(sample))
	require.NoError(t, err)
	b := &Run{Runtime: "nsrun", Version: "nsrun version 0.1.0", Kernel: "6.18.44", Results: []Result{{"mount-leak", "pass", ""}}}
	var out bytes.Buffer
	Table(&out, []*Run{a, b})
	lines := strings.Split(out.String(), "\n")
	assert.Contains(t, lines[0], "runc")
	assert.Contains(t, lines[0], "nsrun")
	assert.Contains(t, lines[1], "(1.1.5+ds1)")
	assert.Regexp(t, `net-ns\s+fail\s+-`, out.String())
	assert.Contains(t, out.String(), "kernel: 6.18.44")
}
