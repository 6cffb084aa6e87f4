# nsbench — top-level build. Parts of the tree add their own targets in mk/*.mk;
# each may append to APT_PKGS (Debian packages it needs), TEST_TARGETS (run by
# `make test` after the Go tests) and BUILD_TARGETS.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
GOPATH_BIN := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2
# Unit and integration tests; root-only tests skip themselves with a reason.
GOTEST_FLAGS ?= -count=1
GOTEST_TIMEOUT ?= 20m

APT_PKGS := runc crun fio iperf3 busybox-static uidmap sysbench iproute2
TEST_TARGETS :=
BUILD_TARGETS :=

-include mk/*.mk

.PHONY: all build deps vet staticcheck test test-go test-race bench clean help

all: build

help:
	@echo "make deps       install missing Debian packages (as root) or print the apt-get line"
	@echo "make build      build every command into ./bin"
	@echo "make test       vet + staticcheck + unit and integration tests (+ $(TEST_TARGETS))"
	@echo "make bench      run the quick benchmark matrix, write results/ (see README)"

# deps installs what is missing when run as root and otherwise prints the exact
# command to run, so a fresh machine needs nothing but `make test`.
deps:
	@missing=""; for p in $(sort $(APT_PKGS)); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "deps: missing Debian packages; run: sudo apt-get install -y$$missing" >&2; \
	  fi; \
	fi

build: $(BUILD_TARGETS)
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet ./...

staticcheck:
	@command -v staticcheck >/dev/null || [ -x $(GOPATH_BIN)/staticcheck ] || \
	  $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$(GOPATH_BIN):$$PATH" staticcheck ./...

test-go: build
	$(GO) test $(GOTEST_FLAGS) -timeout $(GOTEST_TIMEOUT) ./...

# The packages with concurrent code run again under the race detector.
test-race:
	$(GO) test $(GOTEST_FLAGS) -race -short -timeout $(GOTEST_TIMEOUT) $(foreach d,runtime internal perf,$(if $(wildcard $(d)),./$(d)/...))

test: deps vet staticcheck test-go test-race $(TEST_TARGETS)

# The main benchmark job. Today it measures what isolation costs at container
# start (run of /bin/true in nsrun, runc and crun); the CPU, fs and net
# workloads of perf/ join it as they land.
bench: bench-runtime

clean:
	rm -rf $(BIN)
