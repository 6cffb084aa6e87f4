# Compatibility with runc (compat/): the same bundles through runc and
# nsrun, and docker's and podman's everyday flows with each as the runtime.
#   make compat     results/compat/{bundles,engines}.json and their tables
# make test runs the same tests through go test ./... (without the JSON).

.PHONY: compat nscompat

nscompat:
	@$(GO) build -o $(BIN)/nscompat ./cmd/nscompat

# go test fails when nsrun fails where runc passes (or a case's documented
# difference no longer holds); the tables are printed either way.
compat: deps-test nscompat
	@mkdir -p results/compat
	@rm -f results/compat/bundles.json results/compat/engines.json
	@code=0; NSBENCH_COMPAT_OUT=$(CURDIR)/results/compat $(GO) test -count=1 -timeout 30m ./compat/ || code=1; \
	echo "== bundles: runc and nsrun"; \
	[ ! -f results/compat/bundles.json ] || $(BIN)/nscompat bundles testdata/compat/bundles results/compat/bundles.json; \
	echo "== engines: flows with runc and nsrun"; \
	[ ! -f results/compat/engines.json ] || $(BIN)/nscompat engines results/compat/engines.json; \
	exit $$code
