// Package cgroups gives each container one control group, on cgroup v2
// hosts and on v1 or hybrid hosts (v1 controllers plus a cgroup2 mount, as
// Debian's systemd used to set up). The runtime applies linux.resources
// through it, pauses and resumes the container with the freezer, reaches
// every process of a container for kill and delete, and removes it on
// delete.
//
// The host's layout is read from mountinfo, never guessed from paths:
// HostLayout and its Mode are the one place nsbench decides whether a host
// is v1, hybrid or v2. The files follow runc's split of fs (v1) and fs2
// (v2): layout.go (hierarchies and mode), manager.go (paths, create, apply,
// destroy), v1.go and v2.go (limits as each version writes them),
// freeze.go (pause, resume, holding processes still for a kill), kill.go
// (listing and signalling every process).
package cgroups
