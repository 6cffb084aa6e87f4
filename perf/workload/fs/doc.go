// Package fs is nsbench's storage workload, seed 001's fio experiment: it
// builds fio command lines for a job (pattern, block size, engine, numjobs,
// iodepth, direct I/O, file location) and reads IOPS, bandwidth and latency
// percentiles from fio's own --output-format=json.
package fs
