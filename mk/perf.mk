# perf: what isolation costs (see README, section perf).
#   make bench                     quick matrix (every workload and environment), tables + results/
#   make bench BENCH_CONFIG=perf/configs/seed000.json   seed 000's CPU experiment
#   make bench BENCH_CONFIG=perf/configs/seed001.json   seed 001's fio/iperf3 experiment
# docker and podman are benchmark environments: the adapters run their own
# engine (see perf/env/engine.go), so the packages' services are never used.

BENCH_CONFIG ?= perf/configs/quick.json
BENCH_OUT    ?= results
BENCH_NAME    = $(basename $(notdir $(BENCH_CONFIG)))

.PHONY: bench bench-report
bench: deps-bench
	$(GO) build -o $(BIN)/nsbench ./cmd/nsbench
	$(BIN)/nsbench run -config $(BENCH_CONFIG) -out $(BENCH_OUT)/$(BENCH_NAME).json $(BENCH_FLAGS)
	$(BIN)/nsbench report -out $(BENCH_OUT) $(BENCH_OUT)/$(BENCH_NAME).json

bench-report:
	$(GO) run ./cmd/nsbench report -out $(BENCH_OUT) $(BENCH_OUT)/$(BENCH_NAME).json
