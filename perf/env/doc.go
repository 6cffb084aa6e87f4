// Package env runs a benchmark command in one execution environment behind
// one interface: natively, or in a container made by an OCI runtime CLI
// (nsrun, runc, crun) from the same busybox bundle. Container jobs see the
// host's /usr, /lib and /lib64 read-only so that dynamically linked tools
// (fio, iperf3) run unchanged, and the static nsbench-cpu binary is copied in.
//
// An environment that cannot run here says why (Available), and the runner
// reports it as skipped with that reason.
package env
