#!/usr/bin/env bash
# Benchmark the platform API server with cmd/loadgen.
#
# Run from the repository root (make bench). Starts the private PostgreSQL
# (scripts/pg.sh), recreates the platform_bench database, builds the server
# and the load generator, migrates and seeds, starts the server on loopback,
# runs the load and prints a markdown report on stdout (progress goes to
# stderr), ready to paste into a README.
#
# Tunables (environment):
#   BENCH_PORT         server port on 127.0.0.1      (default 18080)
#   BENCH_DURATION     measured time per run          (default 5s)
#   BENCH_WARMUP       warmup per run                 (default 1s)
#   BENCH_CONCURRENCY  client counts                  (default 1,16,64)
#   BENCH_SCENARIOS    scenarios                      (default healthz,me)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

port=${BENCH_PORT:-18080}
duration=${BENCH_DURATION:-5s}
warmup=${BENCH_WARMUP:-1s}
concurrency=${BENCH_CONCURRENCY:-1,16,64}
scenarios=${BENCH_SCENARIOS:-healthz,me,offer,plans}
db=platform_bench
admin_email=bench@example.com
admin_password=bench-password-not-secret-0123456789
base=http://127.0.0.1:${port}

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v go >/dev/null || die "go not found"
command -v psql >/dev/null || die "psql not found"
command -v curl >/dev/null || die "curl not found"

tmp=$(mktemp -d)
server_pid=

server_rc=0
stop_server() {
	[[ -n $server_pid ]] || return 0
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$server_pid" 2>/dev/null; then
			log "server did not stop within 10 s after SIGTERM, sending SIGKILL"
			kill -KILL "$server_pid" 2>/dev/null || true
		fi
	fi
	server_rc=0
	wait "$server_pid" 2>/dev/null || server_rc=$?
	server_pid=
}

loadgen_pid=
cleanup() {
	if [[ -n $loadgen_pid ]]; then
		kill -TERM "$loadgen_pid" 2>/dev/null || true
		wait "$loadgen_pid" 2>/dev/null || true
	fi
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

healthy() {
	[[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/healthz" 2>/dev/null) == 200 ]]
}

# --- database ---------------------------------------------------------------
log "starting PostgreSQL"
scripts/pg.sh start >&2
admin_url=$(scripts/pg.sh url postgres)
db_url=$(scripts/pg.sh url "$db")
log "recreating database $db"
psql "$admin_url" -X -q -v ON_ERROR_STOP=1 \
	-c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
	-c "CREATE DATABASE $db" >&2
pg_version=$(psql "$admin_url" -X -A -t -c 'SHOW server_version' 2>/dev/null || echo unknown)

# --- build ------------------------------------------------------------------
log "building ./cmd/platform and ./cmd/loadgen"
go build -o "$tmp/platform" ./cmd/platform
go build -o "$tmp/loadgen" ./cmd/loadgen

# --- server -----------------------------------------------------------------
export DATABASE_URL=$db_url
export LISTEN_ADDR=127.0.0.1:$port
export DEMO_SECRETS=true
export LOG_LEVEL=warn
export SEED_ADMIN_EMAIL=$admin_email
export SEED_ADMIN_PASSWORD=$admin_password
export AUTH_RATE_LIMIT_PER_MINUTE=100000

log "migrating and seeding"
"$tmp/platform" migrate >&2
"$tmp/platform" seed >&2

if healthy; then
	die "something already answers on $base/healthz; stop it or set BENCH_PORT"
fi

server_log=$tmp/server.log
log "starting server on $LISTEN_ADDR"
"$tmp/platform" serve >"$server_log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + 30))
until healthy; do
	if ! kill -0 "$server_pid" 2>/dev/null; then
		log "server exited before becoming healthy; log:"
		cat "$server_log" >&2
		exit 1
	fi
	if ((SECONDS >= deadline)); then
		log "server not healthy after 30 s; log:"
		cat "$server_log" >&2
		exit 1
	fi
	sleep 0.2
done
log "server is up (pid $server_pid)"

# --- catalog: 1,000 plans and one priced offer ---------------------------------
api() { # METHOD PATH [BODY]: prints the body; fails on a non-2xx answer
	curl -sS -f -X "$1" "$base$2" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
token=$(curl -sS -f -X POST "$base/v1/auth/token" -H 'Content-Type: application/json' \
	-d "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}" | field '["access_token"]')
venture=$(api POST /v1/ventures '{"name":"Bench","invoice_prefix":"BENCH"}' | field '["id"]')
ptype=$(api POST /v1/product-types '{"name":"Backup"}' | field '["id"]')
product=$(api POST /v1/products "{\"product_type_id\":\"$ptype\",\"name\":\"Cyber Protect\"}" | field '["id"]')
group=$(api POST /v1/product-groups "{\"product_id\":\"$product\",\"name\":\"Bench group\",\"module\":\"none\"}" | field '["id"]')
log "creating ${BENCH_PLANS:-1000} plans"
plan_body() { echo "{\"venture_id\":\"$venture\",\"product_type_id\":\"$ptype\",\"product_id\":\"$product\",\"product_group_id\":\"$group\",\"name\":\"Plan $1\",\"partner_visible\":true}"; }
for i in $(seq 2 "${BENCH_PLANS:-1000}"); do
	api POST /v1/plans "$(plan_body "$i")" >/dev/null
done
plan=$(api POST /v1/plans "$(plan_body 1)" | field '["id"]')
api PUT "/v1/plans/$plan/pricing" '{"billing_model":"prepaid","cycles":[{"frequency":"monthly","price":{"amount":"10.00","currency":"USD"}}]}' >/dev/null
offer_token=$(api GET "/v1/plans/$plan/order-urls" | field '["data"][0]["token"]')

# --- report -----------------------------------------------------------------
cpu_model=$(awk -F': *' '/^(model name|Hardware|cpu model|Processor)[[:space:]]*:/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
mem_total=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || true)

cat <<EOF
### Benchmark

- Date: $(date -u '+%Y-%m-%d %H:%M UTC')
- CPU: ${cpu_model:-unknown} ($(nproc) logical CPUs)
- Memory: ${mem_total:-unknown}
- OS: $(uname -sr)
- Go: $(go version | sed 's/^go version //')
- PostgreSQL: ${pg_version}
- Load: \`cmd/loadgen\`, closed loop on the same machine over loopback, ${warmup} warmup + ${duration} measured per row.
  \`healthz\` = \`GET /healthz\`; \`me\` = \`GET /v1/me\` with a Bearer token (one login before the runs);
  \`offer\` = public \`GET /v1/storefront/offers/{token}\`; \`plans\` = \`GET /v1/plans?limit=200\` as admin over ${BENCH_PLANS:-1000} plans.
  req/s and p50/p99 count successful (200) requests only; server RSS is VmRSS after the row.

EOF

loadgen_rc=0
"$tmp/loadgen" \
	-base "$base" \
	-duration "$duration" \
	-warmup "$warmup" \
	-concurrency "$concurrency" \
	-scenarios "$scenarios" \
	-offer-token "$offer_token" \
	-email "$admin_email" \
	-password "$admin_password" \
	-pid "$server_pid" \
	-format markdown &
loadgen_pid=$!
# wait (unlike a foreground command) returns at once when a trapped signal
# arrives, so SIGTERM/SIGINT to this script stop everything promptly.
wait "$loadgen_pid" || loadgen_rc=$?
loadgen_pid=

log "stopping server"
stop_server
if ((server_rc != 0)); then
	log "warning: server exited with status $server_rc after SIGTERM"
fi
if [[ -s $server_log ]]; then
	log "server log (LOG_LEVEL=warn):"
	sed 's/^/  /' "$server_log" >&2
fi
if ((loadgen_rc != 0)); then
	die "loadgen failed with status $loadgen_rc"
fi

# --- vendor client and provisioning -----------------------------------------
log "running Go benchmarks of the vendor client and provisioning"
cat <<EOF2

Vendor side (Go benchmarks, \`go test -bench\`): \`BenchmarkClientCall\` is one
\`GET /tenants/{id}\` through the client against a no-op loopback server (the
client's own overhead); \`BenchmarkCreateAccount\` is one full provisioning flow
against the simulator over loopback.

\`\`\`
EOF2
go test -run '^$' -bench . -benchmem -benchtime "${BENCH_GO_TIME:-2s}" ./internal/acronis/ ./internal/provisioning/ |
	grep -E '^(Benchmark|goos|goarch|cpu)' || die "Go benchmarks failed"
echo '```'
