# Kernels for the VM tests (kernels/). `make kernel KERNEL=hardened ARCH=arm64`
# builds one variant into the cache (NSBENCH_CACHE, default /var/cache/nsbench).
KERNEL ?= stock
ARCH ?= x86_64
# The compiler is still the host's (deps-kernel-hosttc); the packages are
# in mk/packages.tsv.
KERNEL_DEPS := deps-kernel deps-kernel-hosttc

.PHONY: kernel
kernel: $(KERNEL_DEPS)
	$(GO) build -o $(BIN)/nskernel ./cmd/nskernel
	KERNEL=$(KERNEL) ARCH=$(ARCH) AUFS_SRC="$(AUFS_SRC)" KERNEL_SRC="$(KERNEL_SRC)" KERNEL_SRC_SHA256="$(KERNEL_SRC_SHA256)" $(BIN)/nskernel build -v
