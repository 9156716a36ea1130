# dsar: the two commands a newcomer needs are `make dev` and `make test`.

GO      ?= go
BIN     := bin/dsar
PKGS    := ./...

.PHONY: dev test build lint bench chaos fmt clean

## dev: run everything in one process with embedded defaults (http://127.0.0.1:8080)
dev:
	$(GO) run ./cmd/dsar dev

## test: lint, then every test with the race detector (PostgreSQL at DSAR_TEST_DATABASE_URL); fuzz targets run their seed corpora
test: lint
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

## build: the dsar binary in bin/
build:
	$(GO) build -trimpath -o $(BIN) ./cmd/dsar

STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
WORKFLOWCHECK ?= go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0
REDOCLY       ?= @redocly/cli@2.77.0

## lint: formatting, vet, staticcheck, Temporal's workflowcheck on workflows/ (determinism), and the OpenAPI document under Redocly's recommended rules (redocly.yaml)
lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)
	$(GO) run $(WORKFLOWCHECK) ./workflows/
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true npx --yes $(REDOCLY) lint --config redocly.yaml web/openapi.json

## bench: every benchmark at full size against baselines measured in the same run (docs/benchmarks.md)
bench:
	$(GO) run ./cmd/dsar-bench -size full -out test-output/bench

## chaos: the production topology as separate processes (Temporal on PostgreSQL, migrate, two workers, two web servers, a failing SendGrid) under load and 20 faults of each kind, then checked: nothing lost, no email twice, no one else's rows touched (docs/reliability.md)
chaos: build
	$(GO) run ./cmd/dsar-chaos -dsar $(BIN) -faults 20 -out test-output/chaos/full

fmt:
	gofmt -w .

clean:
	rm -rf bin .dsar
