# nsrun: the OCI runtime (runtime/, cmd/nsrun).
.PHONY: nsrun bench-runtime test-users

nsrun:
	$(GO) build -o $(BIN)/nsrun ./cmd/nsrun

# Median wall time of `run /bin/true` for nsrun, runc and crun, interleaved.
bench-runtime: deps-bench
	$(GO) run ./cmd/rtbench -n $(or $(RUNS),50) nsrun runc crun

# The rootless tests run as this unprivileged account (created when root).
test-go: test-users

test-users:
	@if [ "$$(id -u)" = 0 ] && ! id nsbench-user >/dev/null 2>&1; then useradd -m nsbench-user; fi
