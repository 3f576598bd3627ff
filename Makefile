# Tessera — see README.md. Every target installs what it needs first.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
FUZZTIME ?= 30s
# Fuzzing inside `make test` is brief; `make fuzz` is the long run.
TEST_FUZZTIME ?= 4s
BIN := bin/tessera

.PHONY: all build ifd test unit race e2e fuzz-short fuzz lint vet fmt-check shellcheck cross dist bench run deps clean

all: build

# ensure-go: the Go toolchain and modules; deps.sh: the Debian packages
# (pcscd, vsmartcard-vpcd, libpcsclite-dev for cgo, the PC/SC clients).
deps:
	@bash scripts/ensure-go.sh
	@bash scripts/deps.sh

build: deps ifd
	$(GO) build -trimpath -o $(BIN) ./cmd/tessera

# The pcsc-lite reader driver of the IFD bridge (docs/ifd-bridge.md), in C
# against pcsc-lite's ifdhandler.h; only the IFDH* functions are exported.
IFD_LIB := bin/libifdtessera.so
IFD_SRC := ifd/frame.c ifd/frame.h ifd/ifdhandler.c ifd/exports.map
ifd: deps $(IFD_LIB)

$(IFD_LIB): $(IFD_SRC)
	@mkdir -p bin
	gcc -Wall -Wextra -Werror -O2 -fPIC -shared $$(pkg-config --cflags libpcsclite) \
	  -Wl,--version-script=ifd/exports.map -o $@ ifd/frame.c ifd/ifdhandler.c

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
# The whole e2e package runs in one test binary: go test's default 10-minute
# timeout would cover all of it, so the limit is set here, well inside CI's.
e2e: deps build
	@TESTLOG=.cache/e2e.log TESTLABEL=e2e bash scripts/gotest.sh -tags e2e -p 1 -timeout 45m ./e2e/...

# Windows and macOS builds stay green: for each platform `make dist` ships
# besides linux/amd64, vet every package (tests included) and link the CLI,
# without cgo (Windows needs none for PC/SC; linux/arm64 and darwin/arm64
# get hostdriver/pcsc's no-cgo stub), then run the tests of the stubs'
# "not supported" errors in a no-cgo build. About 6 s on two cores with a
# warm cache; about 4 minutes with an empty one (three more platforms).
CROSS := windows/amd64 linux/arm64 darwin/arm64
cross: deps
	@set -e; for p in $(CROSS); do \
	  echo "cross: $$p"; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./...; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -o /dev/null ./cmd/tessera; \
	done
	CGO_ENABLED=0 $(GO) test ./hostdriver/pcsc ./simulator/tpmstore

# Release binaries, dist/OS-ARCH/tessera[.exe] and dist/SHA256SUMS, made on
# a linux/amd64 Debian host: linux/amd64 and linux/arm64 with cgo (PC/SC
# through libpcsclite, the in-process TPM simulator on libcrypto; arm64
# through the aarch64 cross compiler `scripts/deps.sh cross` installs),
# windows/amd64 without cgo (PC/SC through winscard.dll), darwin/arm64
# without cgo and so without PC/SC: cgo for macOS needs a Mac's SDK.
# docs/diagnostics.md says what each binary can do.
dist: deps
	@bash scripts/deps.sh cross
	rm -rf dist
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -o dist/linux-amd64/tessera ./cmd/tessera
	CGO_ENABLED=1 GOOS=linux GOARCH=arm64 CC=aarch64-linux-gnu-gcc \
	  PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
	  $(GO) build -trimpath -o dist/linux-arm64/tessera ./cmd/tessera
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) build -trimpath -o dist/windows-amd64/tessera.exe ./cmd/tessera
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) build -trimpath -o dist/darwin-arm64/tessera ./cmd/tessera
	cd dist && sha256sum */tessera* > SHA256SUMS && cat SHA256SUMS

test: lint cross build unit race fuzz-short e2e

fuzz: deps
	@bash scripts/fuzz.sh $(FUZZTIME)

# Benchmarks; the e2e one measures APDU/s through pcscd against an echo card.
bench: deps
	@bash scripts/bench.sh

# One simulated card for every PC/SC program; ARGS go to `tessera sim`.
run: deps build
	@bash scripts/run.sh $(ARGS)

clean:
	rm -rf bin dist
