package nsenter

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestEncode(t *testing.T) {
	tests := []struct {
		name    string
		req     Request
		want    string // the payload after the length
		wantErr string
	}{
		{"empty", Request{}, "", ""},
		{"joins then the rest", Request{
			Joins:   []Join{{Flag: 0x10000000, Name: "user", Path: "/proc/7/ns/user"}, {Flag: 0x40000000, Name: "network", Path: "/run/netns/a b"}},
			Unshare: 0x20000, NoDump: true, Fork: true,
		}, "join 268435456 user /proc/7/ns/user\njoin 1073741824 network /run/netns/a b\nunshare 131072\nnodump\nfork\n", ""},
		{"relative path", Request{Joins: []Join{{Flag: 1, Name: "net", Path: "proc/1/ns/net"}}}, "", "must be absolute"},
		{"newline in path", Request{Joins: []Join{{Flag: 1, Name: "net", Path: "/a\nfork"}}}, "", "without newlines"},
		{"two-word type", Request{Joins: []Join{{Flag: 1, Name: "a b", Path: "/x"}}}, "", "single word"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.Encode()
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(got), 4)
			assert.Equal(t, uint32(len(tc.want)), binary.NativeEndian.Uint32(got))
			assert.Equal(t, tc.want, string(got[4:]))
		})
	}
}
