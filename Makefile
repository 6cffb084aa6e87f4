# nsbench — top-level build. Parts of the tree add their own targets in mk/*.mk;
# each may append to TEST_TARGETS (run by `make test-host` after the Go tests),
# VM_TEST_TARGETS (run by `make test` after those) and BUILD_TARGETS. The
# distribution packages each purpose needs, per host release, are in
# mk/packages.tsv; a target depends on deps-<purpose> to have them.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
GOPATH_BIN := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2
# Unit and integration tests; root-only tests skip themselves with a reason.
GOTEST_FLAGS ?= -count=1
GOTEST_TIMEOUT ?= 20m

DEPS_PURPOSES := bench test kernel vm
NSDEPS = $(GO) run ./cmd/nsdeps
TEST_TARGETS :=
VM_TEST_TARGETS :=
BUILD_TARGETS :=

-include mk/*.mk

.PHONY: all build deps $(addprefix deps-,$(DEPS_PURPOSES) kernel-hosttc) vet staticcheck test test-host test-go test-race bench clean help

all: build

help:
	@echo "make deps       install the packages of every purpose (deps-bench, deps-test, deps-kernel, deps-vm)"
	@echo "make build      build every command into ./bin"
	@echo "make test-host  vet + staticcheck + unit and integration tests (+ $(TEST_TARGETS)), no VM"
	@echo "make test       test-host + $(VM_TEST_TARGETS)"
	@echo "make bench      run the quick benchmark matrix, write results/ (see README)"

# deps-<purpose> installs what that purpose needs on this host release
# (mk/packages.tsv) when run as root, after checking that apt has every one
# of them; otherwise it prints the exact apt-get line. A package the host
# release lacks stops it with what to do, before anything is installed.
deps:
	@$(NSDEPS) install $(DEPS_PURPOSES)

$(addprefix deps-,$(DEPS_PURPOSES) kernel-hosttc): deps-%:
	@$(NSDEPS) install $*

build: $(BUILD_TARGETS)
	$(GO) build -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet ./...

staticcheck:
	@command -v staticcheck >/dev/null || [ -x $(GOPATH_BIN)/staticcheck ] || \
	  $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$(GOPATH_BIN):$$PATH" staticcheck ./...

GOTEST_PKGS ?= ./...
test-go: build
	$(GO) test $(GOTEST_FLAGS) -timeout $(GOTEST_TIMEOUT) $(GOTEST_PKGS)

# The packages with concurrent code run again under the race detector.
test-race:
	$(GO) test $(GOTEST_FLAGS) -race -short -timeout $(GOTEST_TIMEOUT) $(foreach d,runtime internal perf,$(if $(wildcard $(d)),./$(d)/...))

# test-host is everything that runs on this host; test adds the VM cells.
# conformance-all runs the suite against every runtime (nsrun first) and
# checks the outcomes against conformance/expected, so the Go tests leave
# ./conformance to it instead of running the nsrun suite twice.
test-host: deps-test vet staticcheck test-go test-race $(TEST_TARGETS)
test-host: GOTEST_PKGS = $(if $(filter conformance-all,$(TEST_TARGETS)),$(shell $(GO) list ./... | grep -v '/conformance$$'),./...)

test: test-host $(VM_TEST_TARGETS)

# The main benchmark job. Today it measures what isolation costs at container
# start (run of /bin/true in nsrun, runc and crun); the CPU, fs and net
# workloads of perf/ join it as they land.
bench: bench-runtime

clean:
	rm -rf $(BIN)
