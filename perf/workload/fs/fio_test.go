package fs

import (
	"testing"
	"time"

	"github.com/nsbench/nsbench/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCaptured(t *testing.T) {
	// Expected values read off the captured files in testdata/fio (fio 3.33
	// on this machine).
	tests := []struct {
		file         string
		iops, bw     float64
		p50us, p99us float64
		jobs         int
	}{
		{"randread-libaio.json", 24133.933033, 96535, 116.224, 700.416, 1},
		{"write-sync-2jobs.json", 15280.938124, 977980, 109.056, 440.320, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := testutil.ReadFile(t, testutil.Testdata(t, "fio", tt.file))
			r, err := Parse(data)
			require.NoError(t, err)
			assert.Equal(t, "fio-3.33", r.Version)
			assert.Equal(t, tt.jobs, r.Jobs)
			assert.InDelta(t, tt.iops, r.IOPS, 1e-6)
			assert.InDelta(t, tt.bw, r.BandwidthKiBs, 1e-6)
			assert.InDelta(t, tt.p50us, r.LatP50us, 1e-6)
			assert.InDelta(t, tt.p99us, r.LatP99us, 1e-6)
		})
	}
}

func TestParseBad(t *testing.T) {
	for name, in := range map[string]string{
		"not json": "fio: failed",
		"no jobs":  `{"fio version":"fio-3.33","jobs":[]}`,
		"error":    `{"jobs":[{"error":5}]}`,
		"no io":    `{"jobs":[{"read":{"io_bytes":0},"write":{"io_bytes":0}}]}`,
	} {
		_, err := Parse([]byte(in))
		assert.ErrorContains(t, err, "parse fio json", name)
	}
}

func TestJobArgs(t *testing.T) {
	j := Job{RW: "randread", BS: "4k", Engine: "libaio", NumJobs: 4, IODepth: 16, Size: "64M",
		Runtime: 3 * time.Second, Direct: true, Filename: "/data/f"}
	require.NoError(t, j.Validate())
	assert.Equal(t, []string{"--name=nsbench", "--filename=/data/f", "--rw=randread", "--bs=4k",
		"--ioengine=libaio", "--numjobs=4", "--iodepth=16", "--size=64M", "--direct=1",
		"--time_based", "--runtime=3", "--group_reporting", "--output-format=json"}, j.Args())
	bad := j
	bad.RW = "trim"
	assert.ErrorContains(t, bad.Validate(), `rw "trim"`)
	bad = j
	bad.NumJobs = 0
	assert.ErrorContains(t, bad.Validate(), "numjobs 0")
}
