// Package kernels builds the Linux kernels that nsbench treats as a test
// parameter. Every variant starts from one source tree and one base
// configuration (tinyconfig plus what the suite needs), so that only the
// variable under study differs: stock, hardened (KSPP), aufs (the union
// filesystem seed 000's Docker needed). Builds are cached outside the tree
// by a hash of everything that goes into them.
package kernels
