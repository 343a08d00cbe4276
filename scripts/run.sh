#!/usr/bin/env bash
# make run: everything a fresh machine needs, then the API in the foreground.
# PostgreSQL (private cluster), migrations, a seeded admin, the server, and
# beside it the Acronis simulator and Mailpit (when ACRONIS_URL / SMTP_URL
# are unset). Ctrl-C stops the server, the simulator and Mailpit gracefully and ends with status 0
# (make prints no error); the database keeps running (make db-stop).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'run: %s\n' "$*" >&2; }
# Ctrl-C while starting: whatever was running stops with this group; not an error.
trap 'log "interrupted"; exit 0' INT
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
export METRICS_ADDR=${METRICS_ADDR:-127.0.0.1:9090}
export SEED_ADMIN_EMAIL=${SEED_ADMIN_EMAIL:-admin@example.com}
export SEED_ADMIN_PASSWORD=${SEED_ADMIN_PASSWORD:-demo-admin-password}

bin=${XDG_CACHE_HOME:-$HOME/.cache}/acronis-platform/bin
mkdir -p "$bin"
log "building"
go build -ldflags "-X main.buildVersion=$(git describe --always --dirty 2>/dev/null || echo dev)" -o "$bin/platform" ./cmd/platform

"$bin/platform" migrate

# Helpers started below (simulator, Mailpit) stop with the script; Ctrl-C
# stopped them already (same process group): the kill may find nothing.
helpers=()
tmpfiles=()
stop_helpers() {
	local p
	for p in "${helpers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${helpers[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -f "${tmpfiles[@]}"
}
trap stop_helpers EXIT

# Without a vendor URL, the Acronis simulator stands in for the datacenter.
# It stops with the server.
vendor_msg="  Vendor   ${ACRONIS_URL:-}"
if [[ -z ${ACRONIS_URL:-} ]]; then
	go build -o "$bin/acronis-sim" ./cmd/acronis-sim
	sim_addr=${ACRONIS_SIM_ADDR:-127.0.0.1:8090}
	sim_out=$(mktemp)
	# Its state survives restarts, like the platform's database.
	"$bin/acronis-sim" -addr "$sim_addr" -state "${ACRONIS_SIM_STATE:-$bin/../acronis-sim.json}" >"$sim_out" 2>&1 &
	sim_pid=$!
	helpers+=("$sim_pid")
	tmpfiles+=("$sim_out")
	for _ in $(seq 1 50); do grep -q '^admin_password=' "$sim_out" && break; sleep 0.1; done
	grep -q '^base_url=' "$sim_out" || { cat "$sim_out" >&2; log "the Acronis simulator did not start"; exit 1; }
	export ACRONIS_URL=$(sed -n 's/^base_url=//p' "$sim_out")
	export ACRONIS_CLIENT_ID=$(sed -n 's/^client_id=//p' "$sim_out")
	export ACRONIS_CLIENT_SECRET=$(sed -n 's/^client_secret=//p' "$sim_out")
	vendor_msg="  Vendor   Acronis simulator at $ACRONIS_URL
           $(grep -E '^(sp_tenant_id|client_id|client_secret)=' "$sim_out" | tr '\n' ' ')"
fi

# Without SMTP_URL, Mailpit catches every mail the platform sends; its web
# inbox shows them. Its mails survive restarts, like the simulator's state.
mail_msg="  Mail     SMTP_URL is set: mails go to that server (GET /v1/notifications lists them)"
if [[ -z ${SMTP_URL:-} ]]; then
	mailpit=$(scripts/mailpit.sh)
	mp_smtp=${MAILPIT_SMTP_ADDR:-127.0.0.1:1025}
	mp_http=${MAILPIT_HTTP_ADDR:-127.0.0.1:8025}
	mp_out=$(mktemp)
	tmpfiles+=("$mp_out")
	"$mailpit" --disable-version-check --quiet --smtp-disable-rdns --listen "$mp_http" --smtp "$mp_smtp" \
		--database "${MAILPIT_DB:-$bin/../mailpit.db}" >"$mp_out" 2>&1 &
	helpers+=("$!")
	for _ in $(seq 1 100); do curl -sf "http://$mp_http/api/v1/info" >/dev/null 2>&1 && break; sleep 0.1; done
	curl -sf "http://$mp_http/api/v1/info" >/dev/null 2>&1 || { cat "$mp_out" >&2; log "Mailpit did not start on $mp_http / $mp_smtp"; exit 1; }
	export SMTP_URL="smtp://$mp_smtp?starttls=none"
	export MAIL_FROM=${MAIL_FROM:-billing@demo.example}
	mail_msg="  Mail     Mailpit inbox http://$mp_http   (SMTP $mp_smtp; every mail the demo causes lands there)"
fi

# The admin, and a demo plan on the vendor account with its order URL.
seed_out=$(SEED_DEMO=${SEED_DEMO:-true} "$bin/platform" seed)
echo "$seed_out" >&2
demo_token=$(sed -n 's/^demo order token: //p' <<<"$seed_out")
# The order line makes a fresh key, username and email each time it is
# pasted (any Linux has /proc/sys/kernel/random/uuid; uuidgen is not always there).
demo_msg="  Demo     not seeded: see the warning above (SEED_DEMO=false skips it)"
if [[ -n $demo_token ]]; then
	demo_msg="  Offer    curl -s http://$LISTEN_ADDR/v1/storefront/offers/$demo_token
  Order    k=\$(cat /proc/sys/kernel/random/uuid); curl -s -X POST http://$LISTEN_ADDR/v1/storefront/orders \\
             -H 'Content-Type: application/json' -H \"Idempotency-Key: \$k\" \\
             -d '{\"token\":\"$demo_token\",\"username\":\"demo-'\${k%%-*}'\",\"customer\":{\"name\":\"Demo\",\"email\":\"demo-'\${k%%-*}'@example.com\"}}'"
	card=$(sed -n 's/^demo rate card: //p' <<<"$seed_out")
	if [[ $card =~ ^([0-9]{4})-([0-9]{2}) ]]; then
		demo_msg+="
  Margin   curl -s 'http://$LISTEN_ADDR/v1/reports/margin?year=${BASH_REMATCH[1]}&month=$((10#${BASH_REMATCH[2]}))' -H \"Authorization: Bearer \$TOKEN\"
             (the demo group's rate card $card)"
	fi
fi
[[ ${SEED_DEMO:-true} == true ]] || demo_msg=""

cat >&2 <<MSG

  API      http://$LISTEN_ADDR   (docs: http://$LISTEN_ADDR/docs)
  Metrics  http://$METRICS_ADDR/metrics
  Admin    $SEED_ADMIN_EMAIL / $SEED_ADMIN_PASSWORD
  Token    TOKEN=\$(curl -s -X POST http://$LISTEN_ADDR/v1/auth/token -H 'Content-Type: application/json' \\
             -d '{"email":"$SEED_ADMIN_EMAIL","password":"$SEED_ADMIN_PASSWORD"}' | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
$vendor_msg
$mail_msg
$demo_msg
  Stop     Ctrl-C

MSG
# In the background so that this script can wait for it and pass a TERM on.
# Ctrl-C reaches the server and the simulator directly (one process group);
# they shut down gracefully and the script ends with the server's status, 0
# after a clean shutdown, so make prints no error line.
"$bin/platform" serve &
serve_pid=$!
signals=0
trap 'signals=$((signals + 1)); kill -TERM "$serve_pid" 2>/dev/null || true' INT TERM
while :; do
	seen=$signals
	status=0
	wait "$serve_pid" || status=$?
	# A trapped signal ends wait early (status > 128): wait for the shutdown itself.
	((signals > seen && status > 128)) || break
done
# Stopped by a signal before it could catch one: still a stop that was asked for.
if ((signals > 0 && (status == 130 || status == 143))); then
	status=0
fi
if ((signals > 0)); then
	log "stopped; PostgreSQL keeps running (make db-stop stops it)"
fi
exit "$status"
