package net

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/nsbench/nsbench/perf/env"
	"github.com/nsbench/nsbench/perf/workload"
)

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      bool
	}{
		{"refused", `{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}`, true},
		{"no route yet", `{"error":"unable to connect to server: No route to host"}`, true},
		{"other error", `{"error":"unable to send control message: Bad file descriptor"}`, false},
		{"a result", `{"start":{},"intervals":[{}],"end":{}}`, false},
		{"not json", `iperf3: error`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Refused([]byte(tc.out)))
		})
	}
}

func TestIperfPoints(t *testing.T) {
	w := Iperf{Protocols: []string{"tcp"}, Parallel: []int{1, 4}, Lengths: []string{"", "128K"}, DurationS: 1,
		Topologies: []string{"host", "bridge"}}
	require.NoError(t, w.Validate())
	var keys []string
	for _, p := range w.Points(2) {
		keys = append(keys, p.Key("net"))
	}
	assert.ElementsMatch(t, []string{
		"net parallel=1 proto=tcp topo=host", "net parallel=1 proto=tcp topo=bridge",
		"net len=128K parallel=1 proto=tcp topo=host", "net len=128K parallel=1 proto=tcp topo=bridge",
		"net parallel=4 proto=tcp topo=host", "net parallel=4 proto=tcp topo=bridge",
		"net len=128K parallel=4 proto=tcp topo=host", "net len=128K parallel=4 proto=tcp topo=bridge",
	}, keys)
	assert.True(t, NeedsBridge(workload.Params{"topo": "mixed"}))
	assert.False(t, NeedsBridge(workload.Params{"topo": "host"}))
	assert.False(t, NeedsBridge(workload.Params{}))

	for name, bad := range map[string]Iperf{
		"topology": {Protocols: []string{"tcp"}, Parallel: []int{1}, Lengths: []string{""}, DurationS: 1, Topologies: []string{"overlay"}},
		"protocol": {Protocols: []string{"sctp"}, Parallel: []int{1}, Lengths: []string{""}, DurationS: 1},
		"duration": {Protocols: []string{"tcp"}, Parallel: []int{1}, Lengths: []string{""}},
		"empty":    {Protocols: []string{"tcp"}, DurationS: 1},
	} {
		assert.Error(t, bad.Validate(), name)
	}
}

// Parse keeps the headline (received Gbit/s), the metrics and a series per
// interval; an iperf3 error reported with exit 0 fails it.
func TestIperfParse(t *testing.T) {
	data := testutil.ReadFile(t, testutil.Testdata(t, "iperf3", "tcp-2streams.json"))
	s, err := Iperf{}.Parse(data)
	require.NoError(t, err)
	r, err := Parse(data)
	require.NoError(t, err)
	assert.InDelta(t, r.ReceivedBps/1e9, s.Value, 1e-9)
	assert.Len(t, s.Series, len(r.Intervals))
	assert.Contains(t, s.Metrics, "retransmits")
	require.Len(t, s.Raw, 1)
	_, err = Iperf{}.Parse([]byte(`{"start":{},"intervals":[],"end":{},"error":"unable to connect to server: Connection refused"}`))
	assert.ErrorContains(t, err, "Connection refused")
}

// serverEnv runs a server container that, like an engine's, takes a while
// to be removed once its client command is cancelled; every client fails.
type serverEnv struct {
	removed atomic.Bool
	clients atomic.Int32
}

func (*serverEnv) Name() string                    { return "slow-engine" }
func (*serverEnv) Available(context.Context) error { return nil }
func (*serverEnv) Version(context.Context) string  { return "" }
func (*serverEnv) Close() error                    { return nil }
func (e *serverEnv) Run(ctx context.Context, job env.Job) ([]byte, error) {
	if slices.Contains(job.Args, "-s") {
		<-ctx.Done()
		time.Sleep(100 * time.Millisecond) // rm -f of the container
		e.removed.Store(true)
		return nil, ctx.Err()
	}
	if e.clients.Add(1) == 1 {
		// the server is not listening yet: retried
		return []byte(`{"error": "unable to connect to server - server may have stopped running or use a different port, firewall issue, etc.: Connection refused"}`), nil
	}
	return nil, errors.New("client container: exit status 125")
}

// A failed client must not leave the server container to be removed
// behind the caller's back: the next job, or the engine's shutdown, would
// race its removal (an engine's cgroup was left busy that way).
func TestContainerServerRemovedOnError(t *testing.T) {
	e := &serverEnv{}
	_, err := containerServer(context.Background(), "/usr/bin/iperf3", e, Test{Port: 5201, Duration: time.Second}, &env.Network{}, "", false)
	require.ErrorContains(t, err, "client container: exit status 125")
	assert.EqualValues(t, 2, e.clients.Load(), "a refused client is retried, another error is not")
	assert.True(t, e.removed.Load(), "the server container is gone when containerServer returns")
}
