# codebox — build, serve, test, bench.
#
#   make serve   install Debian packages, build, start the server with embedded defaults
#   make test    install packages and the Python SDKs, lint, build the container image, run every
#                test and fuzz target
#   make build   build bin/codebox
#   make bench   run the benchmarks (Files API throughput and memory, sandbox latency)
#   make test-cluster   three nodes on one PostgreSQL and one S3 bucket (part of make test too)

SHELL     := /bin/bash
GO        ?= go
BIN       := bin/codebox
IMAGE_DIR ?= /var/cache/codebox/images
FUZZTIME  ?= 10s
export GOFLAGS ?= -buildvcs=false
export CODEBOX_TEST_IMAGE_DIR ?= $(IMAGE_DIR)
# Runtimes the sandbox tests run on; the first is the default one. gVisor's runsc is
# built once by scripts/install-runsc.sh (cached in /var/cache/codebox/bin).
export CODEBOX_TEST_RUNTIMES ?= runc,runsc
# A test whose real part (root, a runtime, the image, a command) is missing skips on a
# developer's machine and fails under CI=true or CODEBOX_TEST_STRICT=1 (.ci/run sets
# it): see internal/testenv.
# The image package's TestBuild builds a small image from Debian's mirrors (a minute
# or two) through every stage, with a cancelled build and a reuse: `make image` skips
# all of it when the image is cached, and never tests cancellation or reuse.
export CODEBOX_TEST_BUILD ?= 1

.PHONY: all build serve test deps image fuzz lint bench clean runsc seaweedfs bench-sandbox pyvenv nodedeps test-cluster bench-cluster

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

test: deps lint image runsc seaweedfs pyvenv nodedeps
	$(GO) test -race -count=1 -timeout 30m ./...
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# gofmt, go vet and a pinned staticcheck.
lint:
	@scripts/lint.sh

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./cmd/codebox

# The official Python SDKs the end-to-end tests drive the server with, pinned by hash in
# e2e/python/requirements*.txt, in virtual environments cached in /var/cache/codebox/pyvenv.
pyvenv:
	@scripts/pyvenv.sh >/dev/null

# playwright-core, which the web console's browser test drives Chromium with, pinned by
# web/e2e/package-lock.json and installed with npm ci under /var/cache/codebox/node.
nodedeps:
	@scripts/nodedeps.sh >/dev/null

# Several nodes (e2e/multinode, which `make test` runs with every other package): a
# PostgreSQL server (Debian's package, installed by deps), SeaweedFS's S3 server
# (seaweedfs) and three `codebox serve` on loopback sharing them, driven by the official
# SDKs through a node other than the one hosting the container; then one node is killed
# with SIGKILL under load. See docs/deploy.md.
test-cluster: deps image runsc seaweedfs pyvenv
	$(GO) test -race -count=1 -timeout 30m ./e2e/multinode

# gVisor: pinned, static, built from source once. Outside CI a failure only makes the
# runsc tests skip; in CI (see above) it fails the build.
runsc:
	@scripts/install-runsc.sh || { \
		case "$${CODEBOX_TEST_STRICT:-$${CI:-}}" in \
		1|t|T|true|TRUE|True) echo "runsc: not installed" >&2; exit 1;; \
		esac; \
		echo "runsc: not installed; the gVisor tests will skip"; }

# SeaweedFS's weed, the S3-compatible server the blobs/s3 tests and --blobs s3:// tests run
# against: pinned, built from source once into /var/cache/codebox/bin (a few minutes).
# Outside CI a failure only makes those tests skip; in CI it fails the build.
seaweedfs:
	@scripts/install-seaweedfs.sh || { \
		case "$${CODEBOX_TEST_STRICT:-$${CI:-}}" in \
		1|t|T|true|TRUE|True) echo "seaweedfs: not installed" >&2; exit 1;; \
		esac; \
		echo "seaweedfs: not installed; the S3 tests will skip"; }

# Sandbox latency and density against runc baselines, one table (codebox bench).
bench: bench-sandbox bench-cluster
bench-sandbox: build image
	./$(BIN) bench --image-dir $(IMAGE_DIR)

# The seed workflow through one node and through three sharing PostgreSQL and S3, and the
# extra latency of a request forwarded to the node hosting its container, one table.
bench-cluster: deps image seaweedfs
	$(GO) test -run '^$$' -bench Cluster -benchtime 1x -timeout 30m ./e2e/multinode

clean:
	rm -rf bin
