// Package cgroups gives each container one control group, on cgroup v2
// hosts and on v1 or hybrid hosts (v1 controllers plus a cgroup2 mount, as
// Debian's systemd used to set up). The runtime applies linux.resources
// through it, reaches every process of a container for kill and delete, and
// removes it on delete. The host's layout is read from mountinfo, never
// guessed from paths.
package cgroups
