package procfs

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, in string
		want     *Stat
		wantErr  bool
	}{
		{"plain", "42 (sleep) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 12345 100 1", &Stat{Pid: 42, Comm: "sleep", State: 'S', PPid: 1, UTime: 7, STime: 3, StartTime: 12345}, false},
		{"name with spaces and parens", "7 (a ) b) Z 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0", &Stat{Pid: 7, Comm: "a ) b", State: 'Z', PPid: 3, StartTime: 99}, false},
		{"truncated", "7 (x) S 1 2 3", nil, true},
		{"no name", "7 x S 1", nil, true},
		{"bad starttime", "42 (sleep) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 x 100 1", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat(tc.in)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestReadStatSelf(t *testing.T) {
	st, err := ReadStat(os.Getpid())
	require.NoError(t, err)
	assert.Equal(t, os.Getppid(), st.PPid)
	assert.NotZero(t, st.StartTime)
	assert.True(t, Alive(os.Getpid()))
	assert.False(t, Alive(1<<30), "no such pid")
	all, err := All()
	require.NoError(t, err)
	require.Contains(t, all, os.Getpid())
	assert.Equal(t, st, all[os.Getpid()].withoutMoving(st))
}

// withoutMoving copies s's CPU times and state onto a copy of t: they move
// between two reads (a Go process is R while a thread runs, S when all
// sleep).
func (t *Stat) withoutMoving(s *Stat) *Stat {
	c := *t
	c.UTime, c.STime, c.State = s.UTime, s.STime, s.State
	return &c
}
