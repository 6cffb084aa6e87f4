# perf: what isolation costs (see README, "Performance").
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

# perf in VM guests, the kernel as a dimension (perf/vm, README "Kernels and VM tests"):
#   make bench-vm                                 stock + hardened, x86_64, perf/configs/quick-vm.json
#   make bench-vm BENCH_VM_KERNELS=stock,hardened,aufs AUFS_SRC=/path/to/aufs-standalone
#   make bench-vm BENCH_VM_ARCH=arm64 BENCH_VM_CONFIG=perf/configs/seed001.json
#   make bench-vm BENCH_FLAGS=-resume             continue after a crashed or killed guest
# The kernels are built on a cold cache (minutes each), then cached.
BENCH_VM_CONFIG  ?= perf/configs/quick-vm.json
BENCH_VM_KERNELS ?= stock,hardened
BENCH_VM_ARCH    ?= x86_64
BENCH_VM_NAME     = $(basename $(notdir $(BENCH_VM_CONFIG)))-$(BENCH_VM_ARCH)

.PHONY: bench-vm bench-vm-ci
bench-vm: deps-vm $(KERNEL_DEPS)
	$(GO) build -o $(BIN)/nsbench ./cmd/nsbench
	$(BIN)/nsbench run -config $(BENCH_VM_CONFIG) -kernels $(BENCH_VM_KERNELS) -arch $(BENCH_VM_ARCH) -aufs-src "$(AUFS_SRC)" \
	  -out $(BENCH_OUT)/$(BENCH_VM_NAME).json $(BENCH_FLAGS)
	$(BIN)/nsbench report -out $(BENCH_OUT)/$(BENCH_VM_NAME) $(BENCH_OUT)/$(BENCH_VM_NAME).json

# The slice of bench-vm that make test runs: nsbench in a stock guest, two
# boots, its samples back over the share into one results file and a report.
VM_TEST_TARGETS += bench-vm-ci
bench-vm-ci: deps-vm $(KERNEL_DEPS)
	$(MAKE) --no-print-directory bench-vm BENCH_VM_CONFIG=perf/configs/vm-ci.json BENCH_VM_KERNELS=stock BENCH_VM_ARCH=x86_64
