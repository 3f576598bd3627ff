# Tessera — see README.md. Every target installs what it needs first.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
FUZZTIME ?= 30s
# Fuzzing inside `make test` is brief; `make fuzz` is the long run.
TEST_FUZZTIME ?= 4s
BIN := bin/tessera

.PHONY: all build test unit race e2e fuzz-short fuzz lint vet fmt-check shellcheck bench run deps clean

all: build

# ensure-go: the Go toolchain and modules; deps.sh: the Debian packages
# (pcscd, vsmartcard-vpcd, libpcsclite-dev for cgo, the PC/SC clients).
deps:
	@bash scripts/ensure-go.sh
	@bash scripts/deps.sh

build: deps
	$(GO) build -trimpath -o $(BIN) ./cmd/tessera

lint: deps fmt-check vet shellcheck

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# The shell scripts (shellcheck is a Debian package deps.sh installs).
shellcheck:
	shellcheck scripts/*.sh .ci/run

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...

unit: deps
	@bash scripts/gotest.sh ./...

# The race detector over the packages that run goroutines: the simulator
# (readers, vpcd links, control API, traces, the cgo TPM simulator in
# simulator/tpmstore), the firmware and the host driver. -race needs cgo and
# gcc (deps installs them). About a minute on two cores once built.
race: deps
	@TESTLOG=.cache/race.log TESTLABEL=race bash scripts/gotest.sh -race ./simulator/... ./firmware/... ./hostdriver/...

fuzz-short: deps
	@bash scripts/fuzz.sh $(TEST_FUZZTIME)

# End-to-end: the simulator binary through pcscd and vpcd to a PC/SC client;
# starts pcscd through scripts/pcscd.sh (and stops it if it started it).
e2e: deps build
	@TESTLOG=.cache/e2e.log TESTLABEL=e2e bash scripts/gotest.sh -tags e2e -p 1 ./e2e/...

test: lint build unit race fuzz-short e2e

fuzz: deps
	@bash scripts/fuzz.sh $(FUZZTIME)

# Benchmarks; the e2e one measures APDU/s through pcscd against an echo card.
bench: deps
	@bash scripts/bench.sh

# One simulated card for every PC/SC program; ARGS go to `tessera sim`.
run: deps build
	@bash scripts/run.sh $(ARGS)

clean:
	rm -rf bin
