// Package soak runs nsrun container lifecycles by the thousand, as a
// benchmark matrix does, and checks that nothing accumulates: `make soak`
// (SOAK_N lifecycles, 1,000 by default) runs TestSoak with nsrun and nsnet
// built with the race detector. Its lifecycles mix user namespaces, nsnet,
// hooks at every stage and resource limits, 8 at a time; then 100
// containers run at once. Afterwards no mount, cgroup, state file, veth,
// lease, process or zombie may be left, and nsrun's memory and descriptors
// must not have grown. It prints lifecycles per second and p50/p99
// latency, and writes them as JSON with -soak.out.
//
// The package has tests only.
package soak
