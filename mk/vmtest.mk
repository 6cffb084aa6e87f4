# VM tests (images/, vmtest/): boot a kernel variant in QEMU and run the
# conformance suite (and a few seconds of fio and iperf3) inside.
#   make vmtest KERNEL=stock ARCH=x86_64 [VMTEST_RUNTIME=runc|crun] [VMTEST_PERF=false] [VMTEST_SELFTEST=false]
#   make vmtest KERNEL=aufs AUFS_SRC=/path/to/aufs-standalone   (branch aufs6.1)
#   make vmtest-all                    every variant x arch in VM_KERNELS x VM_ARCHES
VMTEST_RUNTIME ?= nsrun
VMTEST_PERF ?= true
VMTEST_SELFTEST ?= true
VM_KERNELS ?= stock hardened distro
VM_ARCHES ?= x86_64 arm64
VM_TEST_TARGETS += vmtest-ci

.PHONY: vmtest vmtest-all vmtest-ci

vmtest: deps-vm $(KERNEL_DEPS)
	$(GO) build -o $(BIN)/nsvm ./cmd/nsvm
	$(BIN)/nsvm run --kernel $(KERNEL) --arch $(ARCH) --runtime $(VMTEST_RUNTIME) --perf-smoke=$(VMTEST_PERF) --self-test=$(VMTEST_SELFTEST) --aufs-src "$(AUFS_SRC)"

vmtest-all: deps-vm $(KERNEL_DEPS)
	@fail=0; for k in $(VM_KERNELS); do for a in $(VM_ARCHES); do \
	  echo "== $$k/$$a"; $(MAKE) --no-print-directory vmtest KERNEL=$$k ARCH=$$a || fail=1; done; done; exit $$fail

# One real VM test per CI run: stock x86_64 (a kernel build on a cold cache
# takes ~8 minutes here, a hit seconds), the invariants without the
# self-test, which conformance-all runs on the host (in a TCG guest it
# took longer than the 20-minute guest timeout on a loaded machine).
vmtest-ci:
	$(MAKE) --no-print-directory vmtest KERNEL=stock ARCH=x86_64 VMTEST_SELFTEST=false
