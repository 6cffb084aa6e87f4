package seccomp

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
)

// TestFeatureLists: what `nsrun features` advertises is what Compile takes,
// and the flags it only knows are refused.
func TestFeatureLists(t *testing.T) {
	for _, a := range Actions() {
		_, err := action(specs.LinuxSeccompAction(a), nil, "f", "e")
		assert.NoError(t, err, a)
	}
	_, err := action(specs.ActNotify, nil, "f", "e")
	assert.Error(t, err, "SCMP_ACT_NOTIFY is not advertised and not taken")
	for _, op := range Operators() {
		assert.NoError(t, checkArgs([]specs.LinuxSeccompArg{{Op: specs.LinuxSeccompOperator(op)}}), op)
	}
	for _, a := range KnownArchs() {
		assert.NoError(t, Validate(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.Arch(a)}}), a)
	}
	for _, a := range Archs() {
		assert.Contains(t, KnownArchs(), a)
	}
	for _, f := range KnownFlags() {
		_, err := flags([]specs.LinuxSeccompFlag{specs.LinuxSeccompFlag(f)})
		if slices.Contains(Flags(), f) {
			assert.NoError(t, err, f)
		} else {
			assert.Error(t, err, f)
		}
	}
	for _, f := range SupportedFlags() {
		assert.Contains(t, Flags(), f)
	}
}
