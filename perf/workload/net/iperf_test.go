package net

import (
	"testing"
	"time"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, name string) []byte {
	t.Helper()
	return testutil.ReadFile(t, testutil.Testdata(t, "iperf3", name))
}

func TestParseTCP(t *testing.T) {
	// iperf3 3.12 over loopback here: 2 streams, 0.5 s intervals, 2 s.
	r, err := Parse(load(t, "tcp-2streams.json"))
	require.NoError(t, err)
	assert.Equal(t, "TCP", r.Protocol)
	assert.Equal(t, 2, r.Streams)
	assert.Equal(t, "iperf 3.12", r.Version)
	assert.InDelta(t, 10802669403.396551, r.SentBps, 1e-3)
	assert.InDelta(t, 10776089089.282234, r.ReceivedBps, 1e-3)
	assert.Equal(t, 17, r.Retransmits)
	assert.InDelta(t, (361.0+253)/2, r.MeanRTTus, 1e-9)
	assert.InDelta(t, 568.0, r.MaxRTTus, 1e-9)
	require.Len(t, r.Intervals, 4)
	assert.InDelta(t, 11271060501.868654, r.Intervals[0].BitsPerSec, 1e-3)
	assert.InDelta(t, (45.0+52)/2, r.Intervals[0].RTTus, 1e-9)
	assert.Equal(t, 0.0, r.Intervals[0].Start)
}

func TestParseUDP(t *testing.T) {
	r, err := Parse(load(t, "udp.json"))
	require.NoError(t, err)
	assert.Equal(t, "UDP", r.Protocol)
	assert.InDelta(t, 99969652.16986986, r.SentBps, 1e-3)
	assert.InDelta(t, 99960006.71887124, r.ReceivedBps, 1e-3)
	assert.InDelta(t, 0.006219281898015856, r.JitterMs, 1e-12)
	assert.Equal(t, 0.0, r.LostPercent)
	assert.Len(t, r.Intervals, 4)
	assert.Zero(t, r.MeanRTTus)
}

func TestParseBad(t *testing.T) {
	for name, in := range map[string]string{
		"not json":     "iperf3: error",
		"iperf3 error": `{"start":{},"intervals":[],"end":{},"error":"unable to connect to server"}`,
		"no intervals": `{"start":{},"intervals":[],"end":{}}`,
	} {
		_, err := Parse([]byte(in))
		assert.ErrorContains(t, err, "parse iperf3 json", name)
	}
}

func TestArgs(t *testing.T) {
	tc := Test{UDP: true, Parallel: 4, Length: "1400", Bitrate: "1G", Duration: 2 * time.Second,
		Interval: 500 * time.Millisecond, Server: "10.88.0.2", Port: 5201}
	assert.Equal(t, []string{"-c", "10.88.0.2", "-p", "5201", "-J", "-t", "2", "-P", "4",
		"-i", "0.5", "-u", "-b", "1G", "-l", "1400"}, tc.ClientArgs())
	assert.Equal(t, []string{"-s", "-1", "-B", "127.0.0.1", "-p", "5201"}, ServerArgs("127.0.0.1", 5201))
}
