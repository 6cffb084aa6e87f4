package cpu

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// Physical constants (PDG), in MeV, cm and g.
const (
	electronMass = 0.51099895 // MeV
	muonMass     = 105.6583755
	pionMass     = 139.57039
	kBethe       = 0.307075 // MeV cm^2/mol
)

// Material is one layer of the detector.
type Material struct {
	Name      string
	Z, A      float64 // atomic number, mass number (g/mol)
	Density   float64 // g/cm^3
	X0        float64 // radiation length, g/cm^2
	I         float64 // mean excitation energy, MeV
	Thickness float64 // cm
	Sensitive bool    // hits are recorded when a particle leaves it
}

// DefaultLayers is a tracker-then-calorimeter stack: silicon planes, an
// aluminium support, a lead/scintillator-like sampling section and iron.
func DefaultLayers() []Material {
	si := Material{"Si", 14, 28.0855, 2.329, 21.82, 173e-6, 0.03, true}
	al := Material{"Al", 13, 26.9815, 2.699, 24.01, 166e-6, 0.5, false}
	pb := Material{"Pb", 82, 207.2, 11.35, 6.37, 823e-6, 0.56, false}
	fe := Material{"Fe", 26, 55.845, 7.874, 13.84, 286e-6, 2.0, true}
	layers := []Material{si, si, si, si, al}
	for range 6 {
		layers = append(layers, pb, si)
	}
	return append(layers, fe, fe)
}

// Config sets the amount of work and memory of one run.
type Config struct {
	Seed        uint64
	Particles   int   // primaries to transport; the work knob
	MemoryBytes int64 // size of the density map; the resident-memory knob
	Bins        int   // histogram bins per axis per sensitive layer (default 64)
	Layers      []Material
	StepsPerCm  float64 // transport steps per cm (default 50)
}

// Result is what a run produced.
type Result struct {
	Particles int     `json:"particles"`
	Hits      int64   `json:"hits"`
	Deposited float64 `json:"deposited_mev"`
	Stopped   int     `json:"stopped"`
	Checksum  string  `json:"checksum"`
	// Histograms is per sensitive layer, Bins*Bins counts (row-major y, x).
	Histograms [][]uint32 `json:"-"`
}

const halfWidth = 50.0 // cm: the detector's transverse half-size

// Run transports cfg.Particles particles; ctx is checked between particles.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Particles <= 0 {
		return Result{}, fmt.Errorf("cpu workload: particles must be > 0, got %d", cfg.Particles)
	}
	if cfg.MemoryBytes < 0 {
		return Result{}, fmt.Errorf("cpu workload: memory must be >= 0, got %d", cfg.MemoryBytes)
	}
	if cfg.Bins <= 0 {
		cfg.Bins = 64
	}
	if cfg.StepsPerCm <= 0 {
		cfg.StepsPerCm = 50
	}
	if len(cfg.Layers) == 0 {
		cfg.Layers = DefaultLayers()
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6e7362656e6368))
	dmap := newDensityMap(cfg.MemoryBytes, cfg.Seed)

	var sensitive []int
	for i, l := range cfg.Layers {
		if l.Sensitive {
			sensitive = append(sensitive, i)
		}
	}
	hist := make([][]uint32, len(sensitive))
	histOf := make([]int, len(cfg.Layers))
	for i := range histOf {
		histOf[i] = -1
	}
	for h, i := range sensitive {
		hist[h] = make([]uint32, cfg.Bins*cfg.Bins)
		histOf[i] = h
	}

	res := Result{Particles: cfg.Particles, Histograms: hist}
	for n := range cfg.Particles {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return Result{}, fmt.Errorf("cpu workload: after %d particles: %w", n, err)
			}
		}
		p := newParticle(rng)
		z := 0.0 // depth of the current layer's front face
		for li, m := range cfg.Layers {
			dep, alive := p.cross(rng, m, z, cfg.StepsPerCm, dmap)
			res.Deposited += dep
			z += m.Thickness
			if !alive {
				res.Stopped++
				break
			}
			if h := histOf[li]; h >= 0 && math.Abs(p.x) < halfWidth && math.Abs(p.y) < halfWidth {
				bx := int((p.x + halfWidth) / (2 * halfWidth) * float64(cfg.Bins))
				by := int((p.y + halfWidth) / (2 * halfWidth) * float64(cfg.Bins))
				hist[h][by*cfg.Bins+bx]++
				res.Hits++
			}
		}
	}
	res.Checksum = checksum(res, dmap)
	return res, nil
}

type particle struct {
	mass, e float64 // MeV, total energy
	x, y    float64 // cm
	tx, ty  float64 // direction slopes dx/dz, dy/dz
}

func newParticle(rng *rand.Rand) particle {
	m := muonMass
	if rng.IntN(3) == 0 {
		m = pionMass
	}
	// momentum falls like p^-2 between 200 MeV and 20 GeV
	pmin, pmax := 200.0, 20000.0
	u := rng.Float64()
	p := 1 / (1/pmin - u*(1/pmin-1/pmax))
	return particle{
		mass: m, e: math.Hypot(p, m),
		x: rng.NormFloat64() * 2, y: rng.NormFloat64() * 2,
		tx: rng.NormFloat64() * 0.05, ty: rng.NormFloat64() * 0.05,
	}
}

// dEdx is the Bethe-Bloch mean energy loss (MeV/cm) of a singly charged
// particle, without density-effect or shell corrections.
func dEdx(m Material, bg, beta2, mass float64) float64 {
	gamma := math.Sqrt(1 + bg*bg)
	me := electronMass
	tmax := 2 * me * bg * bg / (1 + 2*gamma*me/mass + (me/mass)*(me/mass))
	arg := 2 * me * bg * bg * tmax / (m.I * m.I)
	v := kBethe * m.Z / m.A / beta2 * (0.5*math.Log(arg) - beta2)
	if v < 0 {
		return 0
	}
	return v * m.Density
}

// cross transports p through one layer in fixed steps and returns the energy
// it deposited and whether it is still moving.
func (p *particle) cross(rng *rand.Rand, m Material, z0, stepsPerCm float64, dmap *densityMap) (float64, bool) {
	steps := max(1, int(m.Thickness*stepsPerCm))
	dz := m.Thickness / float64(steps)
	var dep float64
	for s := range steps {
		pmom := math.Sqrt(p.e*p.e - p.mass*p.mass)
		bg := pmom / p.mass
		beta2 := bg * bg / (1 + bg*bg)
		path := dz * math.Sqrt(1+p.tx*p.tx+p.ty*p.ty)
		rho := dmap.at(p.x, p.y, z0+float64(s)*dz) // local density variation, ~1
		loss := dEdx(m, bg, beta2, p.mass) * path * rho
		if p.e-loss <= p.mass*1.0005 {
			dep += p.e - p.mass
			p.e = p.mass
			return dep, false
		}
		p.e -= loss
		dep += loss
		// Highland: width of the projected scattering angle
		t := path * m.Density * rho / m.X0
		theta0 := 13.6 / (math.Sqrt(beta2) * pmom) * math.Sqrt(t) * (1 + 0.038*math.Log(t/beta2))
		if theta0 > 0 {
			p.tx += rng.NormFloat64() * theta0
			p.ty += rng.NormFloat64() * theta0
		}
		p.x += p.tx * dz
		p.y += p.ty * dz
	}
	return dep, true
}

// densityMap is a voxel map of relative density (around 1) filling the
// memory budget; every step reads one voxel, so the whole map stays resident.
type densityMap struct {
	cells []float32
}

func newDensityMap(bytes int64, seed uint64) *densityMap {
	n := max(bytes/4, 1024)
	cells := make([]float32, n)
	// an xorshift fill is cheap enough for 1 GB and touches every page
	s := seed*0x9E3779B97F4A7C15 | 1
	for i := range cells {
		s ^= s << 13
		s ^= s >> 7
		s ^= s << 17
		cells[i] = 0.98 + float32(s>>40)/float32(1<<24)*0.04
	}
	return &densityMap{cells: cells}
}

func (d *densityMap) at(x, y, z float64) float64 {
	// 1 mm voxels hashed over the map
	ix := uint64(int64(math.Floor(x * 10)))
	iy := uint64(int64(math.Floor(y * 10)))
	iz := uint64(int64(math.Floor(z * 10)))
	h := ix*0x9E3779B97F4A7C15 ^ iy*0xC2B2AE3D27D4EB4F ^ iz*0x165667B19E3779F9
	h ^= h >> 29
	return float64(d.cells[h%uint64(len(d.cells))])
}

func checksum(r Result, d *densityMap) string {
	h := fnv.New64a()
	var b [8]byte
	put := func(v uint64) {
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		h.Write(b[:])
	}
	for _, hist := range r.Histograms {
		for _, c := range hist {
			put(uint64(c))
		}
	}
	put(uint64(r.Hits))
	put(uint64(r.Stopped))
	put(math.Float64bits(r.Deposited))
	put(uint64(len(d.cells)))
	return fmt.Sprintf("%016x", h.Sum64())
}
