# dsar: the two commands a newcomer needs are `make dev` and `make test`.

GO      ?= go
BIN     := bin/dsar
PKGS    := ./...

.PHONY: dev test build lint bench fmt clean

## dev: run everything in one process with embedded defaults (http://127.0.0.1:8080)
dev:
	$(GO) run ./cmd/dsar dev

## test: vet, then every test with the race detector (PostgreSQL at DSAR_TEST_DATABASE_URL)
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

## build: the dsar binary in bin/
build:
	$(GO) build -trimpath -o $(BIN) ./cmd/dsar

## lint: formatting and vet
lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)

## bench: every benchmark at full size against baselines measured in the same run (docs/benchmarks.md)
bench:
	$(GO) run ./cmd/dsar-bench -size full -out test-output/bench

fmt:
	gofmt -w .

clean:
	rm -rf bin .dsar
