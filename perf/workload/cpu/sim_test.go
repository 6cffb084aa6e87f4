package cpu

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func small(seed uint64) Config {
	return Config{Seed: seed, Particles: 300, MemoryBytes: 1 << 20, Bins: 16}
}

func TestDeterministic(t *testing.T) {
	ctx := context.Background()
	a, err := Run(ctx, small(42))
	require.NoError(t, err)
	b, err := Run(ctx, small(42))
	require.NoError(t, err)
	assert.Equal(t, a.Checksum, b.Checksum)
	assert.Equal(t, a.Histograms, b.Histograms)
	assert.Positive(t, a.Hits)
	assert.Positive(t, a.Deposited)

	for name, cfg := range map[string]Config{
		"other seed":     small(43),
		"more particles": {Seed: 42, Particles: 301, MemoryBytes: 1 << 20, Bins: 16},
		"other map size": {Seed: 42, Particles: 300, MemoryBytes: 2 << 20, Bins: 16},
		"other binning":  {Seed: 42, Particles: 300, MemoryBytes: 1 << 20, Bins: 8},
	} {
		c, err := Run(ctx, cfg)
		require.NoError(t, err, name)
		assert.NotEqual(t, a.Checksum, c.Checksum, name)
	}
}

func TestPhysics(t *testing.T) {
	si := DefaultLayers()[0]
	// A minimum-ionising muon (βγ≈3.5) in silicon loses about 1.66 MeV cm²/g
	// (PDG); without the density effect this formula gives a little more.
	bg := 3.5
	beta2 := bg * bg / (1 + bg*bg)
	perGram := dEdx(si, bg, beta2, muonMass) / si.Density
	assert.InDelta(t, 1.66, perGram, 0.15)
	// Slower particles lose more.
	assert.Greater(t, dEdx(si, 0.5, 0.25/1.25, muonMass), dEdx(si, bg, beta2, muonMass))

	// Highland width for 1 GeV/c through 1 X0 is ~13.6 mrad·(1+0)≈13.6 mrad.
	theta0 := 13.6 / 1000 * math.Sqrt(1) * (1 + 0.038*math.Log(1))
	assert.InDelta(t, 0.0136, theta0, 1e-9)
}

func TestBadConfig(t *testing.T) {
	_, err := Run(context.Background(), Config{Particles: 0})
	assert.ErrorContains(t, err, "particles must be > 0")
	_, err = Run(context.Background(), Config{Particles: 1, MemoryBytes: -1})
	assert.ErrorContains(t, err, "memory must be >= 0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Run(ctx, small(1))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestMeasureMemoryFootprint(t *testing.T) {
	r, err := Measure(context.Background(), Config{Seed: 1, Particles: 50, MemoryBytes: 64 << 20})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, r.MaxRSSKiB, int64(64<<10), "the density map must be resident")
	assert.Positive(t, r.WallSeconds)
	assert.NotEmpty(t, r.Checksum)
}

func BenchmarkRun(b *testing.B) {
	for b.Loop() {
		if _, err := Run(context.Background(), small(7)); err != nil {
			b.Fatal(err)
		}
	}
}
