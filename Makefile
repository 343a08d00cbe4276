# The two commands: `make run` and `make test`. Everything else helps them.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

GEN := api/oapi/api.gen.go

.PHONY: help run test generate check-generated lint-spec check-ts ci bench build db-start db-stop db-url

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

run: ## install what is missing, start PostgreSQL, migrate, seed, serve
	@scripts/run.sh

test: ## every test, against a private PostgreSQL and Mailpit
	@PG_FAST=1 scripts/pg.sh start
	@scripts/mailpit.sh >/dev/null
	DATABASE_URL="$$(scripts/pg.sh url postgres)" go test -count=1 -race -timeout 20m ./...

generate: ## regenerate the server, models and client from api/openapi.yaml
	go tool oapi-codegen -config oapi-codegen.yaml api/openapi.yaml

check-generated: ## fail when generated code, go.mod or formatting is stale
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	sed "s#^output: .*#output: $$tmp/api.gen.go#" oapi-codegen.yaml > $$tmp/config.yaml && \
	go tool oapi-codegen -config $$tmp/config.yaml api/openapi.yaml && \
	if ! diff -q $$tmp/api.gen.go $(GEN) >/dev/null; then \
		echo "$(GEN) is stale: run make generate and commit it"; exit 1; fi
	@go mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	@unformatted=$$(gofmt -l cmd internal api db); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	@echo "generated code is current"

lint-spec: ## Spectral (spectral:oas) on the spec; warnings fail
	@scripts/spectral.sh

check-ts: ## openapi-typescript types from the spec compile under tsc --strict with scripts/ts
	@scripts/tscheck.sh

ci: check-generated lint-spec check-ts test ## what .ci/run runs

bench: ## build, seed and load the server over loopback; prints the table
	@scripts/bench.sh

build: ## build bin to the cache dir
	go build -o $${XDG_CACHE_HOME:-$$HOME/.cache}/acronis-platform/bin/platform ./cmd/platform

db-start: ## start the private PostgreSQL
	@scripts/pg.sh start
db-stop: ## stop the private PostgreSQL
	@scripts/pg.sh stop
db-url: ## print its URL
	@scripts/pg.sh url
