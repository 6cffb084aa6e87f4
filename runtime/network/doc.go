// Package network attaches containers to a host bridge through veth pairs,
// for nsnet, the OCI hook, and for the benchmarks that compare bridge+veth
// with loopback. Addresses come from the bridge's subnet through a lease
// file under an flock, so concurrent containers never share one. The
// subnet's route sits on the bridge: nothing addressed inside it leaves the
// machine, and no NAT or forwarding is ever set up.
package network
