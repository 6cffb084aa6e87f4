//go:build cgo

package nsenter

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCNamesMatch(t *testing.T) {
	assert.Equal(t, []string{Env, EnvSyncFD, MsgIDMap, MsgPid, MsgError, string(rune(Ack))}, cNames())
}
