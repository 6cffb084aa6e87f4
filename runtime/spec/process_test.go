package spec

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateProcess(t *testing.T) {
	tests := []struct {
		name string
		p    specs.Process
		want []string // substrings of the error; none means valid
	}{
		{"valid", specs.Process{Args: []string{"sh"}, Cwd: "/"}, nil},
		{"empty args", specs.Process{Cwd: "/"}, []string{"p.json: process.args: empty"}},
		{"two problems", specs.Process{Args: []string{"sh"}, Cwd: "tmp", Env: []string{"X"}}, []string{"p.json: process.cwd", "p.json: process.env"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateProcess(&tc.p, "p.json")
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "config.json")
		})
	}
}
