#!/usr/bin/env bash
# make run: everything a fresh machine needs, then the API in the foreground.
# PostgreSQL (private cluster), migrations, a seeded admin, the server.
# Ctrl-C stops the server gracefully; the database keeps running (make db-stop).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'run: %s\n' "$*" >&2; }
command -v go >/dev/null || { log "Go is required (https://go.dev/dl); this machine has none on PATH"; exit 1; }

log "downloading Go modules (first run only)"
go mod download

if [[ -z ${DATABASE_URL:-} ]]; then
	scripts/pg.sh start
	export DATABASE_URL=$(scripts/pg.sh url platform)
fi
# Demo secrets only outside production; production must set its own.
if [[ ${ENV:-development} != production ]]; then
	export DEMO_SECRETS=${DEMO_SECRETS:-true}
fi
export LISTEN_ADDR=${LISTEN_ADDR:-127.0.0.1:8080}
export SEED_ADMIN_EMAIL=${SEED_ADMIN_EMAIL:-admin@example.com}
export SEED_ADMIN_PASSWORD=${SEED_ADMIN_PASSWORD:-demo-admin-password}

bin=${XDG_CACHE_HOME:-$HOME/.cache}/acronis-platform/bin
mkdir -p "$bin"
log "building"
go build -ldflags "-X main.buildVersion=$(git describe --always --dirty 2>/dev/null || echo dev)" -o "$bin/platform" ./cmd/platform

"$bin/platform" migrate
"$bin/platform" seed

cat >&2 <<MSG

  API      http://$LISTEN_ADDR   (docs: http://$LISTEN_ADDR/docs)
  Admin    $SEED_ADMIN_EMAIL / $SEED_ADMIN_PASSWORD
  Token    curl -s -X POST http://$LISTEN_ADDR/v1/auth/token -H 'Content-Type: application/json' \\
             -d '{"email":"$SEED_ADMIN_EMAIL","password":"$SEED_ADMIN_PASSWORD"}'
  Stop     Ctrl-C

MSG
exec "$bin/platform" serve
