# Conformance: isolation invariants against any OCI runtime (conformance/).
#   make conformance RUNTIME=runc     one runtime: matrix + results/conformance-runc.json
#   make conformance-all              nsrun, runc and crun side by side
#   make conformance-rootless         the suite as the unprivileged nsbench-user
RUNTIME ?= nsrun
CONFORMANCE_RUNTIMES ?= nsrun runc crun
TEST_TARGETS += conformance-all conformance-rootless

.PHONY: conformance conformance-all conformance-rootless nsconformance

nsconformance:
	@$(GO) build -o $(BIN)/nsconformance ./cmd/nsconformance

conformance: deps-test nsconformance
	@mkdir -p results
	set -o pipefail; NSBENCH_RUNTIME=$(RUNTIME) $(GO) test -count=1 -timeout 15m -json ./conformance/ \
	  | $(BIN)/nsconformance parse -o results/conformance-$(RUNTIME).json

conformance-all: deps-test nsconformance
	@fail=0; for r in $(CONFORMANCE_RUNTIMES); do \
	  echo "== $$r"; $(MAKE) --no-print-directory conformance RUNTIME=$$r || fail=1; done; \
	echo "== side by side"; \
	$(BIN)/nsconformance table $(foreach r,$(CONFORMANCE_RUNTIMES),results/conformance-$(r).json); \
	exit $$fail

# Built as root, run as nsbench-user against each runtime: static nsrun and
# probe, a compiled test binary, and a private XDG_RUNTIME_DIR per runtime
# for its rootless state.
conformance-rootless: deps-test test-users nsconformance
	@if [ "$$(id -u)" != 0 ]; then echo "conformance-rootless: run as root (it switches to nsbench-user); unprivileged, run: go test ./conformance/"; exit 0; fi
	@mkdir -p results
	CGO_ENABLED=0 $(GO) build -o $(BIN)/nsrun ./cmd/nsrun
	CGO_ENABLED=0 $(GO) build -o $(BIN)/nsprobe ./cmd/nsprobe
	$(GO) test -c -o $(BIN)/conformance.test ./conformance/
	chmod 755 $(BIN) $(BIN)/nsrun $(BIN)/nsprobe $(BIN)/conformance.test
	@set -o pipefail; fail=0; for r in $(CONFORMANCE_RUNTIMES); do \
	  echo "== $$r (rootless, as nsbench-user)"; rt=$$r; [ $$r = nsrun ] && rt=$(BIN)/nsrun; \
	  xdg=$$(mktemp -d /tmp/nsbench-xdg-XXXXXX); chown nsbench-user $$xdg; \
	  (cd /tmp && runuser -u nsbench-user -- env XDG_RUNTIME_DIR=$$xdg NSBENCH_RUNTIME=$$rt NSBENCH_PROBE=$(BIN)/nsprobe \
	    $(GO) tool test2json -p conformance $(BIN)/conformance.test -test.v -test.count=1 \
	    | $(BIN)/nsconformance parse -o $(CURDIR)/results/conformance-$$r-rootless.json) || fail=1; rm -rf $$xdg; done; \
	echo "== side by side (rootless)"; \
	$(BIN)/nsconformance table $(foreach r,$(CONFORMANCE_RUNTIMES),results/conformance-$(r)-rootless.json); \
	exit $$fail
