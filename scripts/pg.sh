#!/usr/bin/env bash
# Private PostgreSQL cluster for development and tests.
# Usage: scripts/pg.sh start|stop|status|url [DB]|psql [args]
# Env: PG_DIR (data dir), PG_PORT, PG_DB, PG_FAST=1 (no durability, for tests).
set -euo pipefail

PG_DIR=${PG_DIR:-/var/tmp/acronis-platform-pg}
PG_DIR=${PG_DIR%/}
PG_PORT=${PG_PORT:-55432}
PG_DB=${PG_DB:-platform}
RUN_DIR=$PG_DIR.run # sibling of the data dir: socket, log, lock
LOG=$RUN_DIR/postgres.log

export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres

log() { echo "pg.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }
# The server refuses to run as root, so as root we act as the postgres user.
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

find_bindir() {
  local d=""
  if command -v pg_config >/dev/null 2>&1; then d=$(pg_config --bindir 2>/dev/null || true); fi
  # pg_config may come from libpq-dev alone, without the server.
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  fi
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

ensure_bindir() {
  BIN=$(find_bindir) && return 0
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL server binaries not found and apt-get is unavailable; install PostgreSQL (initdb, pg_ctl, postgres) and retry"
  local sudo=""
  is_root || sudo="sudo -n"
  log "installing postgresql with apt-get"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
  BIN=$(find_bindir) || die "postgresql installed but server binaries still not found"
}

# The lock file ($1) names a live postgres process. Zombies count as dead: PID 1
# here may be slow to reap a killed postmaster, and kill -0 still succeeds on it.
pid_alive() {
  local pid
  pid=$(head -n1 "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -qxE 'postgres|postmaster' "/proc/$pid/comm" 2>/dev/null &&
    ! grep -qE '^State:\s+Z' "/proc/$pid/status" 2>/dev/null
}

server_up() { as_pg "$BIN/pg_ctl" status -D "$PG_DIR" >/dev/null 2>&1; }
answers() { "$BIN/pg_isready" -q -t 2 >/dev/null 2>&1; }

cmd_start() {
  ensure_bindir
  mkdir -p "$PG_DIR" "$RUN_DIR"
  if is_root; then chown postgres:postgres "$PG_DIR" "$RUN_DIR"; fi
  chmod 700 "$PG_DIR"
  # Serialise concurrent starts (e.g. parallel test packages).
  exec 9>>"$RUN_DIR/start.lock"
  flock -w 300 9 || die "timed out waiting for $RUN_DIR/start.lock"

  if [ ! -s "$PG_DIR/PG_VERSION" ]; then
    log "initdb in $PG_DIR"
    local fast=()
    [ "${PG_FAST:-}" = 1 ] && fast=(--no-sync)
    as_pg "$BIN/initdb" -D "$PG_DIR" -U postgres --auth=trust -E UTF8 --no-locale "${fast[@]}" >&2
    {
      echo "max_connections = 300"
      echo "shared_buffers = 128MB"
      if [ "${PG_FAST:-}" = 1 ]; then
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
      fi
    } | as_pg tee -a "$PG_DIR/postgresql.conf" >/dev/null
  fi

  local f
  for f in "$PG_DIR/postmaster.pid" "$RUN_DIR/.s.PGSQL.$PG_PORT.lock"; do
    if [ -f "$f" ] && ! pid_alive "$f"; then
      log "removing stale $f"
      rm -f "$f"
    fi
  done

  if ! server_up; then
    log "starting on 127.0.0.1:$PG_PORT (log: $LOG)"
    # Port, address and socket are passed on every start so PG_PORT changes take effect.
    local opts="-p $PG_PORT -c listen_addresses=127.0.0.1 -k '$RUN_DIR'"
    # 9>&-: the server must not inherit the lock, or it would hold it forever.
    if ! as_pg "$BIN/pg_ctl" start -w -t 60 -D "$PG_DIR" -l "$LOG" -o "$opts" >&2 9>&-; then
      tail -n 20 "$LOG" >&2 || true
      die "server failed to start"
    fi
  fi

  local i
  for i in $(seq 30); do answers && break; sleep 1; done
  answers || die "server in $PG_DIR is running but does not answer on 127.0.0.1:$PG_PORT (started with another PG_PORT?)"

  local exists
  exists=$("$BIN/psql" -XqtA -d postgres -v db="$PG_DB" <<<"select 1 from pg_database where datname = :'db'")
  if [ "$exists" != 1 ]; then
    log "creating database $PG_DB"
    "$BIN/createdb" "$PG_DB"
  fi
}

cmd_stop() {
  BIN=$(find_bindir) || return 0
  [ -s "$PG_DIR/PG_VERSION" ] || return 0
  if server_up; then
    log "stopping"
    as_pg "$BIN/pg_ctl" stop -w -m fast -D "$PG_DIR" >&2
  fi
}

cmd_status() {
  if BIN=$(find_bindir) && server_up && answers; then
    echo "running on 127.0.0.1:$PG_PORT"
  else
    echo "stopped"
    exit 3
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) echo "postgres://postgres@127.0.0.1:$PG_PORT/${2:-$PG_DB}?sslmode=disable" ;;
  psql)
    shift
    BIN=$(find_bindir) || die "PostgreSQL binaries not found; run: $0 start"
    PGDATABASE=$PG_DB exec "$BIN/psql" "$@"
    ;;
  *) echo "usage: $0 start|stop|status|url [DBNAME]|psql [args]" >&2; exit 2 ;;
esac
