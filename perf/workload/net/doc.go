// Package net is nsbench's network workload, seed 001's iperf3 experiment:
// it builds iperf3 server and client command lines (TCP or UDP, parallel
// streams, buffer length, duration) and reads throughput per interval, RTT,
// retransmits, jitter and loss from iperf3's -J output.
package net
