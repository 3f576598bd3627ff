# Tessera — see README.md. Every target installs what it needs first.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
FUZZTIME ?= 30s
# Fuzzing inside `make test` is brief; `make fuzz` is the long run.
TEST_FUZZTIME ?= 4s
BIN := bin/tessera

.PHONY: all build test unit fuzz-short fuzz lint vet fmt-check bench run deps clean

all: build

deps:
	@bash scripts/ensure-go.sh

build: deps
	$(GO) build -trimpath -o $(BIN) ./cmd/tessera

lint: deps fmt-check vet

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit: deps
	@bash scripts/gotest.sh ./...

fuzz-short: deps
	@bash scripts/fuzz.sh $(TEST_FUZZTIME)

test: lint build unit fuzz-short

fuzz: deps
	@bash scripts/fuzz.sh $(FUZZTIME)

bench: deps
	$(GO) test -run='^$$' -bench=. -benchmem ./...

run: build
	@bash scripts/run.sh

clean:
	rm -rf bin
