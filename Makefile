# codebox — build, serve, test, bench.
#
#   make serve   install Debian packages, build, start the server with embedded defaults
#   make test    install packages, lint, build the container image, run every test and fuzz target
#   make build   build bin/codebox
#   make bench   run the benchmarks (Files API throughput and memory, sandbox latency)

SHELL     := /bin/bash
GO        ?= go
BIN       := bin/codebox
IMAGE_DIR ?= /var/cache/codebox/images
FUZZTIME  ?= 10s
export GOFLAGS ?= -buildvcs=false
export CODEBOX_TEST_IMAGE_DIR ?= $(IMAGE_DIR)
# Runtimes the sandbox tests run on; the first is the default one. gVisor's runsc is
# built once by scripts/install-runsc.sh (cached in /var/cache/codebox/bin), and its
# tests skip when it could not be installed.
export CODEBOX_TEST_RUNTIMES ?= runc,runsc

.PHONY: all build serve test deps image fuzz lint bench clean runsc bench-sandbox

all: build

deps:
	@scripts/deps.sh

build:
	$(GO) build -o $(BIN) ./cmd/codebox

serve: deps build
	./$(BIN) serve

# The container image, built once per recipe and reused from IMAGE_DIR after that.
image: build
	./$(BIN) image build --image-dir $(IMAGE_DIR)

test: deps lint image runsc
	$(GO) test -race -count=1 ./...
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# gofmt, go vet and a pinned staticcheck.
lint:
	@scripts/lint.sh

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./cmd/codebox

# gVisor: pinned, static, built from source once; a failure only skips the runsc tests.
runsc:
	@scripts/install-runsc.sh || echo "runsc: not installed; the gVisor tests will skip"


# Sandbox latency and density against runc baselines, one table (codebox bench).
bench: bench-sandbox
bench-sandbox: build image
	./$(BIN) bench --image-dir $(IMAGE_DIR)

clean:
	rm -rf bin
