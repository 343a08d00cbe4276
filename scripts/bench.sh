#!/usr/bin/env bash
# Benchmark the platform API server with cmd/loadgen.
#
# Run from the repository root (make bench). Starts the private PostgreSQL
# (scripts/pg.sh), recreates the platform_bench database, builds the server,
# the Acronis simulator and the load generator, migrates and seeds, starts
# the simulator and the server on loopback, runs the load, approves a batch
# of the orders it placed to time their provisioning against the simulator,
# times order accept again without and with webhook endpoints subscribed
# to every event (a loopback receiver, `loadgen receive`), alternated,
# then runs the Go benchmarks (vendor client, provisioning, the
# 1st-of-month billing run, the usage sync, webhook delivery, a dunning run, a reconciliation, the margin report and a year's daily usage
# report in XLSX, each on a database of its own; a 5,000-row rate card import) and a year of the invariant simulation over several seeds, and prints a markdown report on stdout (progress goes to stderr),
# ready to paste into a README.
#
# Tunables (environment):
#   BENCH_PORT         server port on 127.0.0.1      (default 18080)
#   BENCH_SIM_PORT     simulator port on 127.0.0.1   (default 18090)
#   BENCH_DURATION     measured time per run          (default 5s)
#   BENCH_WARMUP       warmup per run                 (default 1s)
#   BENCH_CONCURRENCY  client counts                  (default 1,16,64)
#   BENCH_SCENARIOS    scenarios                      (default healthz,me,offer,plans,order)
#   BENCH_PLANS        plans in the catalog           (default 1000)
#   BENCH_PROVISION    orders approved and provisioned (default 200; 0 skips)
#   BENCH_JOB_WORKERS  server JOB_WORKERS             (default 10)
#   BENCH_HOOK_ENDPOINTS webhook endpoints in the order runs with webhooks (default 1; 0 skips them)
#   BENCH_HOOK_ROUNDS  order runs without and with them, alternated (default 2)
#   BENCH_RECEIVER_PORT  their receiver's port on 127.0.0.1 (default 18091)
#   BENCH_GO           Go benchmark groups to run     (default vendor,billing,mail,webhook,dunning,ureport,recon,ratecard,margin; none skips)
#   BENCH_GO_TIME      -benchtime of the Go benchmarks (default 2s)
#   BENCH_SERVICES     services in the billing run    (default 100000)
#   BENCH_TENANTS      tenants in the usage sync      (default 10000)
#   BENCH_MAILS        mails in the mail burst         (default 10000)
#   BENCH_WEBHOOKS     webhook deliveries in the burst (default 2000)
#   BENCH_DUNNING_SERVICES services in the dunning run, 10 % overdue (default 100000)
#   BENCH_RECON_TENANTS tenants in the reconciliation  (default 10000)
#   BENCH_MARGIN_SERVICES services in the margin report (default 100000)
#   BENCH_SIM_DAYS     days of the invariant simulation (default 365; 0 skips)
#   BENCH_SIM_SEEDS    its seeds, one run each          (default 1,2,3)
#   BENCH_FUZZ_REQUESTS spec fuzz requests per role     (default 10000; 0 skips)
#   BENCH_FUZZ_SEED    its seed                         (default 1)
#
# Only the order rows, without the long parts:
#   BENCH_SCENARIOS=order BENCH_PLANS=10 BENCH_PROVISION=0 BENCH_GO=none \
#   BENCH_SIM_DAYS=0 BENCH_FUZZ_REQUESTS=0 make bench
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

port=${BENCH_PORT:-18080}
duration=${BENCH_DURATION:-5s}
warmup=${BENCH_WARMUP:-1s}
concurrency=${BENCH_CONCURRENCY:-1,16,64}
scenarios=${BENCH_SCENARIOS:-healthz,me,offer,plans,order}
plans=${BENCH_PLANS:-1000}
provision=${BENCH_PROVISION:-200}
job_workers=${BENCH_JOB_WORKERS:-10}
sim_port=${BENCH_SIM_PORT:-18090}
hook_endpoints=${BENCH_HOOK_ENDPOINTS:-1}
hook_rounds=${BENCH_HOOK_ROUNDS:-2}
receiver_port=${BENCH_RECEIVER_PORT:-18091}
go_groups=,${BENCH_GO:-vendor,billing,mail,webhook,dunning,ureport,recon,ratecard,margin},
db=platform_bench
admin_email=bench@example.com
admin_password=bench-password-not-secret-0123456789
base=http://127.0.0.1:${port}
sim_url=http://127.0.0.1:${sim_port}
sim_client_id=bench-client
sim_client_secret=bench-secret-0123456789

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

command -v go >/dev/null || die "go not found"
command -v psql >/dev/null || die "psql not found"
command -v curl >/dev/null || die "curl not found"
# Mailpit catches the mail burst benchmark's mails (installed when missing).
scripts/mailpit.sh >/dev/null || die "Mailpit could not be installed"
[[ $provision =~ ^[0-9]+$ ]] || die "BENCH_PROVISION must be a whole number, got '$provision'"
[[ $hook_endpoints =~ ^[0-9]+$ ]] || die "BENCH_HOOK_ENDPOINTS must be a whole number, got '$hook_endpoints'"
[[ $hook_rounds =~ ^[0-9]+$ ]] || die "BENCH_HOOK_ROUNDS must be a whole number, got '$hook_rounds'"
for g in ${go_groups//,/ }; do
	[[ $g =~ ^(vendor|billing|mail|webhook|dunning|ureport|recon|ratecard|margin|none)$ ]] || die "BENCH_GO: unknown group '$g' (vendor, billing, mail, webhook, dunning, ureport, recon, ratecard, margin or none)"
done
go_group() { [[ $go_groups == *,$1,* ]]; }

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

sim_pid=
stop_sim() {
	[[ -n $sim_pid ]] || return 0
	kill -TERM "$sim_pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$sim_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$sim_pid" 2>/dev/null; then
		log "simulator did not stop within 10 s after SIGTERM, sending SIGKILL"
		kill -KILL "$sim_pid" 2>/dev/null || true
	fi
	wait "$sim_pid" 2>/dev/null || true
	sim_pid=
}

loadgen_pid=
receiver_pid=
stop_receiver() {
	[[ -n $receiver_pid ]] || return 0
	kill -TERM "$receiver_pid" 2>/dev/null || true
	wait "$receiver_pid" 2>/dev/null || true
	receiver_pid=
}
cleanup() {
	if [[ -n $loadgen_pid ]]; then
		kill -TERM "$loadgen_pid" 2>/dev/null || true
		wait "$loadgen_pid" 2>/dev/null || true
	fi
	stop_server
	stop_receiver # after the server: it may still be delivering
	stop_sim      # after the server: it may still be calling the vendor
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
log "building ./cmd/platform, ./cmd/acronis-sim and ./cmd/loadgen"
go build -o "$tmp/platform" ./cmd/platform
go build -o "$tmp/acronis-sim" ./cmd/acronis-sim
go build -o "$tmp/loadgen" ./cmd/loadgen

# --- vendor simulator -------------------------------------------------------
# Any HTTP answer means something listens there already.
if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$sim_url/api/2/idp/token" 2>/dev/null) != 000 ]]; then
	die "something already answers on $sim_url; stop it or set BENCH_SIM_PORT"
fi
sim_log=$tmp/sim.log
log "starting the Acronis simulator on 127.0.0.1:$sim_port"
"$tmp/acronis-sim" -addr "127.0.0.1:$sim_port" -client-id "$sim_client_id" -client-secret "$sim_client_secret" >"$sim_log" 2>&1 &
sim_pid=$!
# It prints its key=value lines once it listens.
for _ in $(seq 1 100); do
	grep -q '^admin_password=' "$sim_log" && break
	kill -0 "$sim_pid" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q '^admin_password=' "$sim_log"; then
	log "the simulator did not start; its output:"
	cat "$sim_log" >&2
	exit 1
fi

# --- server -----------------------------------------------------------------
export DATABASE_URL=$db_url
export LISTEN_ADDR=127.0.0.1:$port
export DEMO_SECRETS=true
export LOG_LEVEL=warn
export SEED_ADMIN_EMAIL=$admin_email
export SEED_ADMIN_PASSWORD=$admin_password
export AUTH_RATE_LIMIT_PER_MINUTE=100000
# The load comes from one address: anonymous limits would stop it.
export ANON_RATE_LIMIT_PER_MINUTE=100000000
export ANON_VENDOR_RATE_LIMIT_PER_MINUTE=100000000
export METRICS_ADDR=off
export ACRONIS_URL=$sim_url
export ACRONIS_CLIENT_ID=$sim_client_id
export ACRONIS_CLIENT_SECRET=$sim_client_secret
export JOB_WORKERS=$job_workers

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

# --- catalog: 1,000 plans, one priced offer, one Acronis plan to order ------
api() { # METHOD PATH [BODY]: prints the body; fails on a non-2xx answer
	curl -sS -f -X "$1" "$base$2" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
admin_login() {
	curl -sS -f -X POST "$base/v1/auth/token" -H 'Content-Type: application/json' \
		-d "{\"email\":\"$admin_email\",\"password\":\"$admin_password\"}" | field '["access_token"]'
}
token=$(admin_login)
venture=$(api POST /v1/ventures '{"name":"Bench","invoice_prefix":"BENCH"}' | field '["id"]')
ptype=$(api POST /v1/product-types '{"name":"Backup"}' | field '["id"]')
product=$(api POST /v1/products "{\"product_type_id\":\"$ptype\",\"name\":\"Cyber Protect\"}" | field '["id"]')
group=$(api POST /v1/product-groups "{\"product_id\":\"$product\",\"name\":\"Bench group\",\"module\":\"none\"}" | field '["id"]')
log "creating $plans plans"
plan_body() { echo "{\"venture_id\":\"$venture\",\"product_type_id\":\"$ptype\",\"product_id\":\"$product\",\"product_group_id\":\"$group\",\"name\":\"Plan $1\",\"partner_visible\":true}"; }
for i in $(seq 2 "$plans"); do
	api POST /v1/plans "$(plan_body "$i")" >/dev/null
done
plan=$(api POST /v1/plans "$(plan_body 1)" | field '["id"]')
api PUT "/v1/plans/$plan/pricing" '{"billing_model":"prepaid","cycles":[{"frequency":"monthly","price":{"amount":"10.00","currency":"USD"}}]}' >/dev/null
offer_token=$(api GET "/v1/plans/$plan/order-urls" | field '["data"][0]["token"]')

# Post-paid without auto-approval: placed orders stay pending, so the
# provisioning run below approves a batch of them at once.
log "creating the Acronis plan to order"
acronis_group=$(api POST /v1/product-groups "{\"product_id\":\"$product\",\"name\":\"Bench Acronis group\",\"module\":\"acronis\"}" | field '["id"]')
order_plan=$(api POST /v1/plans "{\"venture_id\":\"$venture\",\"product_type_id\":\"$ptype\",\"product_id\":\"$product\",\"product_group_id\":\"$acronis_group\",\"name\":\"Bench Acronis plan\",\"partner_visible\":false,\"auto_approve\":false}" | field '["id"]')
location=$(api GET /v1/vendor/locations | field '["data"][0]["id"]')
api PUT "/v1/plans/$order_plan/module-settings" "{\"datacenter_url\":\"$sim_url\",\"client_id\":\"$sim_client_id\",\"client_secret\":\"$sim_client_secret\",\"free_trial\":false,\"storage_quota_gb\":100,\"overage_quota_gb\":10,\"edition\":\"pck_per_workload\",\"backup_location\":\"$location\",\"offering_items\":{\"common\":{\"pw_base_workstations\":5}}}" >/dev/null
api PUT "/v1/plans/$order_plan/pricing" '{"billing_model":"postpaid_fixed","cycles":[{"frequency":"monthly","price":{"amount":"10.00","currency":"USD"}}]}' >/dev/null
order_token=$(api GET "/v1/plans/$order_plan/order-urls" | field '["data"][0]["token"]')

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
  \`offer\` = public \`GET /v1/storefront/offers/{token}\`; \`plans\` = \`GET /v1/plans?limit=200\` as admin over $((plans + 1)) plans;
  \`order\` = anonymous \`POST /v1/storefront/orders\` (new customer, unique username, fresh Idempotency-Key; each checks
  the username on the platform and at the simulator and the plan's items against the SP tenant), success = 202.
  req/s and p50/p99 count successful (200; 202 for \`order\`) requests only; server RSS is VmRSS after the row.
  The vendor is \`cmd/acronis-sim\` on the same machine; JOB_WORKERS=${job_workers}.

EOF

loadgen_rc=0
"$tmp/loadgen" \
	-base "$base" \
	-duration "$duration" \
	-warmup "$warmup" \
	-concurrency "$concurrency" \
	-scenarios "$scenarios" \
	-offer-token "$offer_token" \
	-order-token "$order_token" \
	-email "$admin_email" \
	-password "$admin_password" \
	-pid "$server_pid" \
	-format markdown &
loadgen_pid=$!
# wait (unlike a foreground command) returns at once when a trapped signal
# arrives, so SIGTERM/SIGINT to this script stop everything promptly.
wait "$loadgen_pid" || loadgen_rc=$?
loadgen_pid=

# --- provisioning throughput ------------------------------------------------
# Approves pending orders placed by the order scenario at once and times
# until every one is completed, i.e. the background jobs ran the full vendor
# flow against the simulator. Needs the server, so it runs before it stops.
provision_fail() {
	log "$*"
	log "server log (LOG_LEVEL=warn):"
	sed 's/^/  /' "$server_log" >&2
	exit 1
}
if ((loadgen_rc != 0)); then
	log "skipping the provisioning run: loadgen failed"
elif ((provision == 0)); then
	log "skipping the provisioning run: BENCH_PROVISION=0"
elif [[ ,$scenarios, != *,order,* ]]; then
	log "skipping the provisioning run: scenario order did not run to place orders"
else
	pending=$(psql "$db_url" -X -A -t -v ON_ERROR_STOP=1 \
		-c "SELECT id FROM orders WHERE status='pending' ORDER BY created_at LIMIT $provision")
	mapfile -t order_ids < <(printf '%s' "$pending" | grep .)
	n=${#order_ids[@]}
	((n > 0)) || provision_fail "no pending orders to approve"
	short=
	if ((n < provision)); then
		log "only $n pending orders (BENCH_PROVISION=$provision): approving those"
		short=" (of ${provision} asked for; only ${n} were pending)"
	fi
	ids_sql="'{$(IFS=,; echo "${order_ids[*]}")}'::uuid[]"
	token=$(admin_login) # the first one may have expired during a long run
	log "approving $n orders and waiting for their provisioning (JOB_WORKERS=$job_workers)"
	t0=$(date +%s.%N)
	printf '%s\n' "${order_ids[@]}" |
		xargs -P 8 -I{} curl -sS -f -o /dev/null -X POST "$base/v1/orders/{}/approve" -H "Authorization: Bearer $token" ||
		provision_fail "approving the orders failed"
	deadline=$((SECONDS + 300))
	while :; do
		counts=$(psql "$db_url" -X -A -t -F ' ' -v ON_ERROR_STOP=1 \
			-c "SELECT count(*) FILTER (WHERE status='completed'), count(*) FILTER (WHERE status='failed') FROM orders WHERE id = ANY($ids_sql)")
		read -r done_n failed_n <<<"$counts"
		if ((failed_n > 0)); then
			psql "$db_url" -X -c "SELECT failure_reason, count(*) FROM orders WHERE id = ANY($ids_sql) AND status='failed' GROUP BY 1" >&2 || true
			provision_fail "$failed_n of $n orders failed to provision"
		fi
		((done_n < n)) || break
		((SECONDS < deadline)) || provision_fail "only $done_n of $n orders completed after 300 s"
		sleep 0.2
	done
	t1=$(date +%s.%N)
	echo
	awk -v n="$n" -v t0="$t0" -v t1="$t1" -v w="$job_workers" -v short="$short" 'BEGIN {
		d = t1 - t0
		printf "Provisioning: %d orders%s approved and provisioned against the simulator in %.1f s = %.0f services/min", n, short, d, n * 60 / d
		printf " (JOB_WORKERS=%d; each is the full vendor flow: tenant, pricing mode, offering items and quotas, user, password, access policy).\n", w
	}'
fi

# --- order accept with webhooks ---------------------------------------------
# The order scenario on the same server without and with webhook endpoints
# (BENCH_HOOK_ENDPOINTS admin endpoints subscribed to every event, on a
# loopback receiver, loadgen receive, that answers 204 and verifies each
# signature), alternated BENCH_HOOK_ROUNDS times so that drift (a growing
# database, other load on the machine) weighs on both alike; the endpoints
# are disabled for the runs without. Every run writes the event log
# (order.created in each order's transaction); with the endpoints enabled
# that transaction also writes a delivery and its River job per endpoint,
# and the server's webhook workers deliver them while the load runs. The
# counts after the runs show it all happened.
sql() { psql "$db_url" -X -A -t -F ' ' -v ON_ERROR_STOP=1 -c "$1"; }
counts() { sql "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM events)"; }
order_run() { # OUT: the order scenario's rows as TSV
	"$tmp/loadgen" -base "$base" -duration "$duration" -warmup "$warmup" -concurrency "$concurrency" \
		-scenarios order -order-token "$order_token" -pid "$server_pid" -format tsv >"$1" &
	loadgen_pid=$!
	local rc=0
	wait "$loadgen_pid" || rc=$?
	loadgen_pid=
	return "$rc"
}
set_endpoints() { # true|false
	local id
	for id in "${endpoint_ids[@]}"; do
		api PATCH "/v1/webhook-endpoints/$id" "{\"enabled\":$1}" >/dev/null || die "could not set endpoint $id enabled=$1"
	done
}
if ((loadgen_rc != 0)); then
	log "skipping the order runs with webhooks: loadgen failed"
elif ((hook_endpoints == 0 || hook_rounds == 0)); then
	log "skipping the order runs with webhooks: BENCH_HOOK_ENDPOINTS or BENCH_HOOK_ROUNDS is 0"
else
	receiver_url=http://127.0.0.1:$receiver_port
	if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$receiver_url/stats" 2>/dev/null) != 000 ]]; then
		die "something already answers on $receiver_url; stop it or set BENCH_RECEIVER_PORT"
	fi
	token=$(admin_login)
	log "creating $hook_endpoints webhook endpoint(s) on $receiver_url and starting the receiver"
	: >"$tmp/secrets"
	endpoint_ids=()
	for i in $(seq 1 "$hook_endpoints"); do
		created=$(api POST /v1/webhook-endpoints "{\"url\":\"$receiver_url/hooks/$i\",\"description\":\"Bench $i\",\"enabled\":false}")
		endpoint_ids+=("$(field '["id"]' <<<"$created")")
		field '["secret"]' <<<"$created" >>"$tmp/secrets"
	done
	eps_sql="'{$(IFS=,; echo "${endpoint_ids[*]}")}'::uuid[]"
	"$tmp/loadgen" receive -addr "127.0.0.1:$receiver_port" -secrets-file "$tmp/secrets" >"$tmp/receiver.log" 2>&1 &
	receiver_pid=$!
	for _ in $(seq 1 100); do
		grep -q '^listening on' "$tmp/receiver.log" && break
		kill -0 "$receiver_pid" 2>/dev/null || break
		sleep 0.1
	done
	grep -q '^listening on' "$tmp/receiver.log" || { cat "$tmp/receiver.log" >&2; die "the webhook receiver did not start"; }

	plain_orders=0 plain_events=0 hooked_orders=0 hooked_events=0 drain_max=0
	for round in $(seq 1 "$hook_rounds"); do
		log "order run $round/$hook_rounds without webhook endpoints"
		read -r o0 e0 <<<"$(counts)"
		order_run "$tmp/order-plain-$round.tsv" || die "loadgen failed in an order run without webhooks"
		read -r o1 e1 <<<"$(counts)"
		((e1 > e0)) || die "an order run wrote no events"
		plain_orders=$((plain_orders + o1 - o0)) plain_events=$((plain_events + e1 - e0))

		log "order run $round/$hook_rounds with $hook_endpoints webhook endpoint(s) subscribed to every event"
		token=$(admin_login) # one may have expired during a long run
		set_endpoints true
		order_run "$tmp/order-hooked-$round.tsv" || die "loadgen failed in an order run with webhooks"
		t_end=$(date +%s.%N)
		read -r o2 e2 <<<"$(counts)"
		((e2 > e1)) || die "an order run with webhooks wrote no events"
		hooked_orders=$((hooked_orders + o2 - o1)) hooked_events=$((hooked_events + e2 - e1))
		# Deliveries left over are worked off before the next run without
		# (and before the endpoints are disabled, which would fail them).
		deadline=$((SECONDS + 300))
		while :; do
			pending=$(sql "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = ANY($eps_sql) AND status = 'pending'")
			((pending > 0)) || break
			((SECONDS < deadline)) || { log "$pending deliveries still pending after 300 s"; break; }
			sleep 0.2
		done
		drain_max=$(awk -v a="$drain_max" -v t0="$t_end" -v t1="$(date +%s.%N)" 'BEGIN { d = t1 - t0; print (d > a ? d : a) }')
		set_endpoints false
	done
	read -r deliveries succeeded failed pending <<<"$(sql "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'),
		count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'pending')
		FROM webhook_deliveries WHERE endpoint_id = ANY($eps_sql)")"
	((deliveries > 0)) || die "the order runs with webhooks wrote no deliveries"
	rstats=$(curl -sS -f --max-time 5 "$receiver_url/stats") || die "the webhook receiver did not answer"
	received=$(field '["received"]' <<<"$rstats")
	verified=$(field '["verified"]' <<<"$rstats")
	stop_receiver

	cat <<EOF5

Order accept with webhooks: the \`order\` scenario on the same server without and with ${hook_endpoints} webhook
endpoint(s) subscribed to every event (http on loopback, answered 204 by \`loadgen receive\`, which checks each
signature with the Standard Webhooks library), alternated ${hook_rounds} time(s), each row the mean over the rounds.
Both write the event log (\`order.created\` in each order's transaction); with the endpoint(s), that transaction
also writes a delivery row per endpoint (no job: the dispatcher queues the jobs in batches), and the server's
webhook workers (WEBHOOK_WORKERS, default 50) deliver them while the load runs, on the same two cores. Slower = req/s lost with the endpoint(s).

| clients | req/s without | req/s with | slower | p50 ms without | p50 ms with | p99 ms without | p99 ms with | errors without / with |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF5
	awk -F'\t' -v rounds="$hook_rounds" 'FNR == 1 { next }
		{
			k = (FILENAME ~ /hooked/) ? "with" : "without"
			if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
			rps[k, $2] += $3 / rounds; p50[k, $2] += $4 / rounds; p99[k, $2] += $5 / rounds; errs[k, $2] += $6
		}
		END {
			for (i = 1; i <= n; i++) {
				c = order[i]; a = rps["without", c]; b = rps["with", c]
				slower = a > 0 ? sprintf("%.1f %%", (a - b) * 100 / a) : "-"
				printf "| %s | %.0f | %.0f | %s | %.2f | %.2f | %.2f | %.2f | %d / %d |\n", c, a, b, slower,
					p50["without", c], p50["with", c], p99["without", c], p99["with", c], errs["without", c], errs["with", c]
			}
		}' "$tmp"/order-plain-*.tsv "$tmp"/order-hooked-*.tsv
	echo
	echo "Written (warmups included): without endpoints $plain_orders orders and $plain_events events;" \
		"with $hook_endpoints endpoint(s) $hooked_orders orders, $hooked_events events and $deliveries deliveries" \
		"($succeeded succeeded, $failed failed, $pending pending; each run's last one done at most $(printf '%.1f' "$drain_max") s after its load ended);" \
		"the receiver got $received, $verified with a valid signature."
fi

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
if ! go_group vendor; then
	log "skipping the vendor Go benchmarks: not in BENCH_GO"
else
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
fi

# --- billing run and usage sync ---------------------------------------------
# Each makes a database of its own on the cluster (pgtest needs the admin
# URL); one op is one whole run, so -benchtime 1x. -v shows their summaries.
if ! go_group billing; then
	log "skipping the billing Go benchmarks: not in BENCH_GO"
else
	bench_services=${BENCH_SERVICES:-100000}
	bench_tenants=${BENCH_TENANTS:-10000}
	log "running the billing run ($bench_services services) and usage sync ($bench_tenants tenants) benchmarks"
	cat <<EOF3

Billing and usage (Go benchmarks, one op = one whole run, \`-benchtime 1x\`):
\`BenchmarkPostpaidRun\` is the 1st-of-month run over ${bench_services} post-paid services
(one customer each, seeded with bulk SQL), timed beside a plain \`INSERT ... SELECT\` of the same
invoice, line, tax and billed-period rows (rolled back) as the floor; peak heap is the Go heap in
use, sampled every 50 ms. \`BenchmarkUsageSync\` reads the usage of ${bench_tenants} customer
tenants at the simulator (three enabled items each) and stores it.

\`\`\`
EOF3
	go_out=$tmp/go-bench.txt
	if ! DATABASE_URL=$admin_url BENCH_SERVICES=$bench_services BENCH_TENANTS=$bench_tenants \
		go test -run '^$' -bench 'BenchmarkPostpaidRun|BenchmarkUsageSync' -benchtime 1x -timeout 30m -v \
		./internal/billing/ ./internal/usage/ >"$go_out" 2>&1; then
		cat "$go_out" >&2
		die "billing and usage benchmarks failed"
	fi
	grep -E '^(Benchmark.*[0-9] |    bench_test\.go:[0-9]+: (postpaid run|usage sync):)' "$go_out" |
		sed 's/^    bench_test\.go:[0-9]*: /    /' || die "no billing or usage benchmark results"
	echo '```'
fi

# --- mail burst -------------------------------------------------------------
# A database of its own and a private Mailpit; one op is one whole burst.
if ! go_group mail; then
	log "skipping the mail Go benchmarks: not in BENCH_GO"
else
	bench_mails=${BENCH_MAILS:-10000}
	log "running the mail burst benchmark ($bench_mails mails into Mailpit)"
	cat <<EOF4

Mail (Go benchmark, one op = one burst, \`-benchtime 1x\`): \`BenchmarkMailBurst\` queues
${bench_mails} invoice mails in one transaction (rows and send jobs in the outbox) and times
them until every one is marked sent, delivered over SMTP into a local Mailpit by the send jobs
(MAIL_WORKERS' default, 10, on the mail queue); mails/s counts from the commit to the last one sent.

\`\`\`
EOF4
	mail_out=$tmp/mail-bench.txt
	if ! DATABASE_URL=$admin_url MAIL_BURST=$bench_mails \
		go test -run '^$' -bench '^BenchmarkMailBurst$' -benchtime 1x -timeout 30m ./internal/mail/ >"$mail_out" 2>&1; then
		cat "$mail_out" >&2
		die "mail burst benchmark failed"
	fi
	grep -E '^Benchmark.*[0-9] ' "$mail_out" || die "no mail burst benchmark result"
	echo '```'
fi

# --- webhook delivery -------------------------------------------------------
# A database of its own too; one op is the whole burst, so -benchtime 1x.
if ! go_group webhook; then
	log "skipping the webhook Go benchmarks: not in BENCH_GO"
else
	bench_webhooks=${BENCH_WEBHOOKS:-2000}
	log "running the webhook delivery benchmark ($bench_webhooks deliveries)"
	cat <<EOF4

Webhooks (Go benchmark, one op = one whole burst, \`-benchtime 1x\`): \`BenchmarkWebhookDelivery\`
commits ${bench_webhooks} events for one endpoint while no worker runs, then times the webhook queue's
River workers (\`WEBHOOK_WORKERS\`' default, 50) delivering them, signed, to a loopback receiver that verifies every
signature with the Standard Webhooks library.

\`\`\`
EOF4
	webhook_out=$tmp/webhook-bench.txt
	if ! DATABASE_URL=$admin_url BENCH_WEBHOOKS=$bench_webhooks \
		go test -run '^$' -bench 'BenchmarkWebhookDelivery' -benchtime 1x -timeout 30m -v \
		./internal/webhook/ >"$webhook_out" 2>&1; then
		cat "$webhook_out" >&2
		die "webhook benchmark failed"
	fi
	grep -E '^(Benchmark.*[0-9] |    bench_test\.go:[0-9]+: webhook delivery:)' "$webhook_out" |
		sed 's/^    bench_test\.go:[0-9]*: /    /' || die "no webhook benchmark results"
	echo '```'
fi

# --- dunning run ------------------------------------------------------------
# A database of its own and an in-process simulator; one op is one whole run.
if ! go_group dunning; then
	log "skipping the dunning Go benchmark: not in BENCH_GO"
else
	bench_dunning=${BENCH_DUNNING_SERVICES:-100000}
	log "running the dunning run benchmark ($bench_dunning services, 10 % overdue)"
	cat <<EOF6

Dunning (Go benchmark, one op = one whole run, \`-benchtime 1x\`): \`BenchmarkDunningRun\` is the day's
dunning run over ${bench_dunning} services of an Acronis plan (one customer and one invoice each, seeded
with bulk SQL; reminders 3 days before the due date and 1, 3 and 5 after it, suspension at 7 days past
due, termination at 30), 10 % of them overdue, each with a customer tenant at the simulator (in-process)
and acted on once: 70 % of those suspended (tenant disabled first, then the service, with its mail and
event), 10 % terminated (tenant deleted first, then the service), 20 % reminded (mail and event); the
other 90 % are checked and left. checked/s and actions/s are over the run's time, with \`DUNNING_WORKERS\`' default (8);
the run's counts are checked against the seed and tenants spot-checked at the simulator. Peak heap is
the Go heap in use, sampled every 50 ms (base: before the run, the simulator's tenants included);
rerun_s is the same day run again, which checks every service and acts on nothing.

\`\`\`
EOF6
	dunning_out=$tmp/dunning-bench.txt
	if ! DATABASE_URL=$admin_url BENCH_DUNNING_SERVICES=$bench_dunning \
		go test -run '^$' -bench '^BenchmarkDunningRun$' -benchtime 1x -timeout 60m -v \
		./internal/dunning/ >"$dunning_out" 2>&1; then
		cat "$dunning_out" >&2
		die "dunning benchmark failed"
	fi
	grep -E '^(Benchmark.*[0-9] |    bench_test\.go:[0-9]+: dunning run:)' "$dunning_out" |
		sed 's/^    bench_test\.go:[0-9]*: /    /' || die "no dunning benchmark results"
	echo '```'
fi

# --- usage report -----------------------------------------------------------
# A database of its own; one op is one report through the API on loopback.
if ! go_group ureport; then
	log "skipping the usage report Go benchmark: not in BENCH_GO"
else
	log "running the usage report benchmark (a year's daily report in XLSX)"
	cat <<EOF7

Usage report (Go benchmark, one op = one report, \`-benchtime 20x\`): \`BenchmarkDailyReportXLSX\` is
\`GET /v1/services/{id}/usage-report?kind=daily&format=xlsx\` over 366 days for a service with four
items reported every day and two quantity changes (1,464 rows, typed cells and the storage chart),
through the API on loopback; xlsx_KiB is the file's size.

\`\`\`
EOF7
	ureport_out=$tmp/ureport-bench.txt
	if ! DATABASE_URL=$admin_url go test -run '^$' -bench '^BenchmarkDailyReportXLSX$' -benchtime 20x -timeout 30m -v \
		./internal/usagereport/ >"$ureport_out" 2>&1; then
		cat "$ureport_out" >&2
		die "usage report benchmark failed"
	fi
	grep -E '^(Benchmark.*[0-9] |    bench_test\.go:[0-9]+: daily usage report:)' "$ureport_out" |
		sed 's/^    bench_test\.go:[0-9]*: /    /' || die "no usage report benchmark results"
	echo '```'
fi

# --- reconciliation -----------------------------------------------------------
# A database of its own and an in-process simulator; one op is one whole report.
if ! go_group recon; then
	log "skipping the reconciliation Go benchmark: not in BENCH_GO"
else
	bench_recon=${BENCH_RECON_TENANTS:-10000}
	log "running the reconciliation benchmark ($bench_recon tenants)"
	cat <<EOF7

Reconciliation (Go benchmark, one op = one whole report, \`-benchtime 1x\`): \`BenchmarkReconciliation\` is a
report over the last 30 days of ${bench_recon} customer tenants at the simulator (in-process), each with a
service of an Acronis plan (storage and workstations with quotas, seeded with bulk SQL) and its usage stored by
a daily sync, 1 % of them disabled at the vendor: the vendor's usage report (created, polled, downloaded,
parsed; the simulator makes it ready 2 s after it is asked for), the tenants in batches of 100, every tenant's
offering items (8 at a time), compared and written as rows. rows/s is rows compared and written over the
report's time; the counts are checked against the seed. Peak heap is the Go heap in use, sampled every 50 ms
(base: before the report, the simulator's tenants included).

\`\`\`
EOF7
	recon_out=$tmp/recon-bench.txt
	if ! DATABASE_URL=$admin_url BENCH_RECON_TENANTS=$bench_recon \
		go test -run '^$' -bench '^BenchmarkReconciliation$' -benchtime 1x -timeout 60m -v \
		./internal/reconcile/ >"$recon_out" 2>&1; then
		cat "$recon_out" >&2
		die "reconciliation benchmark failed"
	fi
	grep -E '^(Benchmark.*[0-9] |    bench_test\.go:[0-9]+: reconciliation:)' "$recon_out" |
		sed 's/^    bench_test\.go:[0-9]*: /    /' || die "no reconciliation benchmark results"
	echo '```'
fi

# --- rate card import ----------------------------------------------------------
# A database of its own; one op is one import through the API on loopback.
if ! go_group ratecard; then
	log "skipping the rate card import Go benchmark: not in BENCH_GO"
else
	log "running the rate card import benchmark (5,000 rows)"
	cat <<EOF8

Rate card import (Go benchmark, one op = one import, \`-benchtime 5x\`): \`BenchmarkImport5000\` is
\`POST /v1/product-groups/{id}/rate-cards\` with a 5,000-row workbook through the API on loopback (multipart
upload, checks, the file, card and rows stored; each op re-imports the month, replacing the card before).
Peak heap is the Go heap in use, sampled every 10 ms (heap_over_base: above the heap before the run).

\`\`\`
EOF8
	ratecard_out=$tmp/ratecard-bench.txt
	if ! DATABASE_URL=$admin_url go test -run '^$' -bench '^BenchmarkImport5000$' -benchtime 5x -timeout 30m -v \
		./internal/ratecard/ >"$ratecard_out" 2>&1; then
		cat "$ratecard_out" >&2
		die "rate card import benchmark failed"
	fi
	grep -E '^(Benchmark.*[0-9] |    bench_test\.go:[0-9]+: rate card import:)' "$ratecard_out" |
		sed 's/^    bench_test\.go:[0-9]*: /    /' || die "no rate card import benchmark results"
	echo '```'
fi

# --- margin report --------------------------------------------------------------
# A database of its own; one op is two reports through the API on loopback.
if ! go_group margin; then
	log "skipping the margin report Go benchmark: not in BENCH_GO"
else
	bench_margin=${BENCH_MARGIN_SERVICES:-100000}
	log "running the margin report benchmark ($bench_margin services)"
	cat <<EOF8

Margin report (Go benchmark, one op = two reports, \`-benchtime 1x\`): \`BenchmarkMarginReport\` is
\`GET /v1/reports/margin\` for a month, by product group and then by partner, over ${bench_margin} services
(seeded with bulk SQL: two Acronis product groups with their cards, a November invoice line per service, a
tenth of them a quarter's prepaid line, a tenth partner sales at cost, and usage of three items on every third
day), through the API on loopback; the report is one SQL statement. Peak heap is the Go heap in use, sampled
every 50 ms.

\`\`\`
EOF8
	margin_out=$tmp/margin-bench.txt
	if ! DATABASE_URL=$admin_url BENCH_MARGIN_SERVICES=$bench_margin \
		go test -run '^$' -bench '^BenchmarkMarginReport$' -benchtime 1x -timeout 30m -v \
		./internal/margin/ >"$margin_out" 2>&1; then
		cat "$margin_out" >&2
		die "margin report benchmark failed"
	fi
	grep -E '^(Benchmark.*[0-9] |    bench_test\.go:[0-9]+: margin report:)' "$margin_out" |
		sed 's/^    bench_test\.go:[0-9]*: /    /' || die "no margin report benchmark results"
	echo '```'
fi

# --- invariant simulation ---------------------------------------------------
# A year of the shop on the sandbox clock per seed (internal/simulation),
# run to the end whatever breaks (SIM_KEEP_GOING=1): the row is its speed,
# and the breaks it saw are listed under it.
sim_days=${BENCH_SIM_DAYS:-365}
if [[ $sim_days == 0 ]]; then
	log "skipping the invariant simulation: BENCH_SIM_DAYS=0"
else
	sim_seeds=${BENCH_SIM_SEEDS:-1,2,3}
	log "running the invariant simulation: $sim_days days, seeds $sim_seeds"
	sim_out=$tmp/simulation.txt
	sim_rc=0
	DATABASE_URL=$admin_url SIM_DAYS=$sim_days SIM_SEEDS=$sim_seeds SIM_KEEP_GOING=1 \
		go test -count=1 -run '^TestSimulation$' -timeout 60m -v ./internal/simulation/ >"$sim_out" 2>&1 || sim_rc=$?
	line=$(grep -E 'simulated [0-9]+ days over' "$sim_out" | tail -1 | sed 's/^ *simulation_test\.go:[0-9]*: //')
	if [[ -z $line ]]; then
		cat "$sim_out" >&2
		die "the invariant simulation did not finish"
	fi
	breaks=$(grep -cE '^ +simulation_test\.go:[0-9]+: day [0-9]+ \(' "$sim_out" || true)
	echo
	echo "Invariant simulation (\`SIM_DAYS=$sim_days SIM_SEEDS=$sim_seeds SIM_KEEP_GOING=1\`, one shop per seed, one day per \`POST /v1/sandbox/clock\`): $line; $breaks invariant breaks."
	if ((sim_rc != 0)); then
		echo
		echo '```'
		grep -E '^ +(simulation_test\.go:[0-9]+: seed [0-9]+: [0-9]+ invariant breaks|[a-z_0-9]+: [0-9]+ breaks, first on day)' "$sim_out" |
			sed 's/^ *simulation_test\.go:[0-9]*: //; s/^ *//' | cut -c1-300
		echo '```'
	fi
fi

# --- spec fuzz ----------------------------------------------------------------
# TestSpecFuzz (internal/httpapi) with a large budget: requests made from
# api/openapi.yaml, mostly broken, as admin, partner, customer, API key and
# anonymous. A failing run still prints its row; the failures go to stderr.
fuzz_requests=${BENCH_FUZZ_REQUESTS:-10000}
if ((fuzz_requests > 0)); then
	fuzz_seed=${BENCH_FUZZ_SEED:-1}
	log "running the spec fuzz: $fuzz_requests requests per role, seed $fuzz_seed"
	fuzz_out=$tmp/fuzz.txt
	fuzz_rc=0
	DATABASE_URL=$admin_url FUZZ_REQUESTS=$fuzz_requests FUZZ_SEED=$fuzz_seed \
		go test -count=1 -run '^TestSpecFuzz$' -timeout 60m -v ./internal/httpapi/ >"$fuzz_out" 2>&1 || fuzz_rc=$?
	line=$(grep -oE 'fuzz: seed=.*' "$fuzz_out" | tail -1)
	if [[ -z $line ]]; then
		cat "$fuzz_out" >&2
		die "the spec fuzz did not finish"
	fi
	((fuzz_rc == 0)) || grep -E '^ +fuzz_test\.go:[0-9]+: (5xx|off-spec|transport)' "$fuzz_out" | cut -c1-300 >&2 || true
	echo
	echo "Spec fuzz (\`FUZZ_REQUESTS=$fuzz_requests FUZZ_SEED=$fuzz_seed go test -run TestSpecFuzz ./internal/httpapi/\`):"
	echo
	echo '| roles | requests | 5xx | off-spec | vendor 502/503 | requests/s |'
	echo '|---|---|---|---|---|---|'
	awk '{for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }}
		END { printf "| %s | %s | %s | %s | %s | %s |\n", v["roles"], v["requests"], v["5xx"], v["off_spec"], v["vendor"], v["rps"] }' <<<"$line"
fi
