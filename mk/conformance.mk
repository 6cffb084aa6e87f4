# Conformance: isolation invariants against any OCI runtime (conformance/).
#   make conformance RUNTIME=runc     one runtime: results/conformance-runc.json and its matrix
#   make conformance-all              nsrun, runc and crun side by side
#   make conformance-rootless         the suite as the unprivileged nsbench-user
RUNTIME ?= nsrun
CONFORMANCE_RUNTIMES ?= nsrun runc crun
TEST_TARGETS += conformance-all conformance-rootless

.PHONY: conformance conformance-all conformance-rootless nsconformance

nsconformance:
	@$(GO) build -o $(BIN)/nsconformance ./cmd/nsconformance

# The suite writes its results as JSON (NSBENCH_CONFORMANCE_OUT); go test
# fails only when an outcome differs from conformance/expected (nsrun: any
# failure), and nsconformance check prints the matrix from the JSON.
conformance: deps-test nsconformance
	@mkdir -p results
	@rm -f results/conformance-$(RUNTIME).json
	@code=0; NSBENCH_RUNTIME=$(RUNTIME) NSBENCH_CONFORMANCE_OUT=$(CURDIR)/results/conformance-$(RUNTIME).json \
	  $(GO) test -count=1 -timeout 30m ./conformance/ || code=1; \
	$(BIN)/nsconformance check results/conformance-$(RUNTIME).json || code=1; exit $$code

conformance-all: deps-test nsconformance
	@fail=0; for r in $(CONFORMANCE_RUNTIMES); do \
	  echo "== $$r"; $(MAKE) --no-print-directory conformance RUNTIME=$$r || fail=1; done; \
	echo "== side by side"; \
	$(BIN)/nsconformance check $(foreach r,$(CONFORMANCE_RUNTIMES),results/conformance-$(r).json) || fail=1; \
	exit $$fail

# Built as root, run as nsbench-user against each runtime: static nsrun and
# probe, a compiled test binary, and a private XDG_RUNTIME_DIR per runtime
# for its rootless state, where the user's suite writes its results.
conformance-rootless: deps-test test-users nsconformance
	@if [ "$$(id -u)" != 0 ]; then echo "conformance-rootless: run as root (it switches to nsbench-user); unprivileged, run: go test ./conformance/"; exit 0; fi
	@mkdir -p results
	$(NSRUN_STATIC) -o $(BIN)/nsrun ./cmd/nsrun
	CGO_ENABLED=0 $(GO) build -o $(BIN)/nsprobe ./cmd/nsprobe
	$(GO) test -c -o $(BIN)/conformance.test ./conformance/
	@# The user runs copies in a directory of its own reach: a clone under
	@# /root (mode 700) is out of it.
	@fail=0; rl=$$(mktemp -d /tmp/nsbench-rootless-XXXXXX); chmod 755 $$rl; \
	cp $(BIN)/nsrun $(BIN)/nsprobe $(BIN)/conformance.test $$rl/; chmod 755 $$rl/*; \
	for r in $(CONFORMANCE_RUNTIMES); do \
	  echo "== $$r (rootless, as nsbench-user)"; rt=$$r; [ $$r = nsrun ] && rt=$$rl/nsrun; \
	  xdg=$$(mktemp -d /tmp/nsbench-xdg-XXXXXX); chown nsbench-user $$xdg; \
	  rm -f results/conformance-$$r-rootless.json; \
	  (cd /tmp && runuser -u nsbench-user -- env XDG_RUNTIME_DIR=$$xdg NSBENCH_RUNTIME=$$rt NSBENCH_PROBE=$$rl/nsprobe \
	    NSBENCH_CONFORMANCE_OUT=$$xdg/conformance.json $$rl/conformance.test -test.count=1) || fail=1; \
	  cp $$xdg/conformance.json results/conformance-$$r-rootless.json || fail=1; rm -rf $$xdg; \
	  $(BIN)/nsconformance check results/conformance-$$r-rootless.json || fail=1; done; \
	rm -rf $$rl; \
	echo "== side by side (rootless)"; \
	$(BIN)/nsconformance check $(foreach r,$(CONFORMANCE_RUNTIMES),results/conformance-$(r)-rootless.json) || fail=1; \
	exit $$fail
