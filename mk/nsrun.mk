# nsrun: the OCI runtime (runtime/, cmd/nsrun). Its C part (runtime/nsenter,
# run before the Go runtime to join namespaces) needs cgo; the binary is
# linked statically against glibc so it runs in bare root filesystems and VM
# guests (netgo/osusergo keep glibc's NSS out).
.PHONY: nsrun bench-runtime bench-runtime-vm test-users
NSRUN_STATIC := CGO_ENABLED=1 $(GO) build -trimpath -tags netgo,osusergo -ldflags '-s -w -extldflags=-static'

nsrun:
	$(NSRUN_STATIC) -o $(BIN)/nsrun ./cmd/nsrun

# The fair start-cost benchmark (nsbench startcost): `run /bin/true` for nsrun,
# runc and crun, interleaved, under the same conditions, with the breakdown
# of nsrun's time by phase;
# SECCOMP=docker or podman gives the bundle that engine's default profile.
bench-runtime: deps-bench
	$(GO) run ./cmd/nsbench startcost -n $(or $(RUNS),30) $(if $(SECCOMP),-seccomp $(SECCOMP)) -out $(or $(STARTCOST_OUT),results/startcost.json) nsrun runc crun

# The same in a cgroup v2 guest (KERNEL, ARCH as for vmtest; KERNEL_IMAGE
# names a kernel built already, so nothing is built).
bench-runtime-vm: deps-vm $(KERNEL_DEPS)
	$(GO) run ./cmd/nsvm startcost --kernel $(KERNEL) --arch $(ARCH) -n $(or $(RUNS),20) $(if $(KERNEL_IMAGE),--kernel-image $(KERNEL_IMAGE))

# The rootless tests run as this unprivileged account (created when root).
test-go: test-users

test-users:
	@if [ "$$(id -u)" = 0 ] && ! id nsbench-user >/dev/null 2>&1; then useradd -m nsbench-user; fi
