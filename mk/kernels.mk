# Kernels for the VM tests (kernels/). `make kernel KERNEL=hardened ARCH=arm64`
# builds one variant into the cache (NSBENCH_CACHE, default /var/cache/nsbench).
KERNEL ?= stock
ARCH ?= x86_64
APT_PKGS += linux-source-6.1 build-essential bc flex bison libelf-dev libssl-dev cpio gcc-12-plugin-dev
ifeq ($(ARCH),arm64)
APT_PKGS += gcc-aarch64-linux-gnu gcc-12-plugin-dev-aarch64-linux-gnu
endif

.PHONY: kernel
kernel: deps
	$(GO) build -o $(BIN)/nskernel ./cmd/nskernel
	KERNEL=$(KERNEL) ARCH=$(ARCH) AUFS_SRC="$(AUFS_SRC)" KERNEL_SRC="$(KERNEL_SRC)" $(BIN)/nskernel build -v
