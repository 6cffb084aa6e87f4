# nsnet: the OCI network hook (runtime/network, cmd/nsnet).
.PHONY: nsnet

nsnet:
	$(GO) build -o $(BIN)/nsnet ./cmd/nsnet
