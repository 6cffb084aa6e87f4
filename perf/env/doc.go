// Package env runs a benchmark command in one execution environment behind
// one interface: natively, or in a container made by an OCI runtime CLI
// (nsrun, runc, crun) from the same busybox bundle, or through a container
// engine (docker, podman) that the adapter starts and stops itself.
// Container jobs see the host's /usr, /lib and /lib64 read-only so that
// dynamically linked tools (fio, iperf3, sysbench) run unchanged, and the
// static nsbench-cpu binary is bind-mounted in read-only.
//
// An environment that cannot run here says why (Available), and the runner
// reports it as skipped with that reason.
package env
