# Kernels for the VM tests (kernels/). `make kernel KERNEL=hardened ARCH=arm64`
# builds one variant into the cache (NSBENCH_CACHE, default /var/cache/nsbench).
KERNEL ?= stock
ARCH ?= x86_64
# Kernels are compiled in a pinned Debian 12 build root (kernels/toolchain.go),
# from Debian 12's linux-source-6.1 pinned by checksum, on any host;
# KERNEL_TOOLCHAIN=host compiles with this host's gcc instead (Debian 12's
# packages: deps-kernel-hosttc). KERNEL_SRC (+ KERNEL_SRC_SHA256) picks
# another source; NSBENCH_DEBIAN_MIRROR another Debian mirror.
KERNEL_TOOLCHAIN ?=
KERNEL_DEPS := deps-kernel $(if $(filter host,$(KERNEL_TOOLCHAIN)),deps-kernel-hosttc)

.PHONY: kernel
kernel: $(KERNEL_DEPS)
	$(GO) build -o $(BIN)/nskernel ./cmd/nskernel
	KERNEL=$(KERNEL) ARCH=$(ARCH) AUFS_SRC="$(AUFS_SRC)" KERNEL_SRC="$(KERNEL_SRC)" KERNEL_SRC_SHA256="$(KERNEL_SRC_SHA256)" \
	  KERNEL_TOOLCHAIN="$(KERNEL_TOOLCHAIN)" $(BIN)/nskernel build -v
