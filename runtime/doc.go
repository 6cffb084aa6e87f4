// Package runtime is nsrun's container library: it creates, starts,
// inspects, signals and deletes OCI containers from runtime-spec bundles,
// like runc's libcontainer. The container's first process is this binary
// re-executed as "init" (Go cannot unshare a user namespace in a running,
// multi-threaded program); it builds the namespaces' contents, reports
// every failure back over a socketpair with its operation and path, and
// waits on a fifo until `start` releases it to execve the user's program.
package runtime
