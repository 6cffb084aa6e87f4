// Package cpu is nsbench's CPU-bound workload, standing in for seed 000's
// physics simulation: a small Monte Carlo detector simulation. Charged
// particles from a seeded generator cross a stack of material layers, lose
// energy by a Bethe-Bloch mean rate, scatter by the Highland formula, and
// leave hits that are histogrammed per sensitive layer.
//
// A run is deterministic: the same Config gives the same Checksum on the same
// architecture, so a container that changed the computation is caught, not
// just timed. The resident memory footprint is set by Config.MemoryBytes (a
// material density map read at every step), so the job can weigh ~1 GB like
// the seed's simulation or a few MB in tests.
package cpu
