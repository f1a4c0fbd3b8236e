#!/usr/bin/env bash
# A private PostgreSQL cluster on loopback for local use and tests.
#
#   infra/postgres.sh start   # initdb (first time) + pg_ctl start on a free port; prints the URL
#   infra/postgres.sh url     # prints the URL of the running cluster
#   infra/postgres.sh stop    # pg_ctl stop
#   infra/postgres.sh destroy # stop and delete the data dir
#
# Data lives in $EMSYNC_PG_DIR (default: $EMSYNC_INFRA_DIR/postgres, i.e. /tmp/emsync-infra/postgres).
# PostgreSQL refuses to run as root, so as root the cluster runs as the system user $EMSYNC_PG_USER
# (default emsync-pg, created when missing). Authentication is `trust` on 127.0.0.1 only: this is a
# throw-away cluster; production uses the managed/compose PostgreSQL with passwords (infra/README.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_DIR="${EMSYNC_PG_DIR:-$STATE_ROOT/postgres}"
PG_USER="${EMSYNC_PG_USER:-emsync-pg}"
DB_NAME="${EMSYNC_PG_DB:-emsync}"
DATA="$PG_DIR/data"

pg_bin() {
  local name="$1" found
  found="$(command -v "$name" 2>/dev/null || true)"
  [[ -z "$found" ]] && found="$(ls /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n1 || true)"
  [[ -x "$found" ]] || die "$name not found: install Debian's 'postgresql' package"
  echo "$found"
}

as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

ensure_user() {
  [[ "$(id -u)" == 0 ]] || return 0
  id "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
}

url() {
  [[ -f "$PG_DIR/port" ]] || die "no cluster: run '$0 start' first"
  echo "postgresql+psycopg://postgres@127.0.0.1:$(cat "$PG_DIR/port")/$DB_NAME"
}

running() { [[ -f "$DATA/postmaster.pid" ]] && as_owner "$(pg_bin pg_ctl)" -D "$DATA" status >/dev/null 2>&1; }

start() {
  ensure_user
  mkdir -p "$PG_DIR"
  # The cluster user must be able to reach its folder even when the parents are root's.
  chmod 755 "$PG_DIR"
  if [[ "$(id -u)" == 0 ]]; then
    chown "$PG_USER" "$PG_DIR"
    as_owner test -w "$PG_DIR" \
      || die "$PG_USER cannot reach $PG_DIR: make its parent folders traversable (chmod 755) or set EMSYNC_PG_DIR"
  fi
  if running; then url; return 0; fi
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb in $DATA"
    as_owner "$(pg_bin initdb)" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-sync >/dev/null
  fi
  local port
  port="$(sticky_port "$PG_DIR/port")"
  echo "$port" >"$PG_DIR/port"
  log "starting on 127.0.0.1:$port"
  as_owner "$(pg_bin pg_ctl)" -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c max_connections=100" >/dev/null \
    || { tail -n 20 "$PG_DIR/server.log" >&2; die "PostgreSQL did not start"; }
  if ! as_owner "$(pg_bin psql)" -h 127.0.0.1 -p "$port" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" postgres | grep -q 1; then
    as_owner "$(pg_bin createdb)" -h 127.0.0.1 -p "$port" -U postgres "$DB_NAME"
  fi
  url
}

stop() {
  if running; then
    as_owner "$(pg_bin pg_ctl)" -D "$DATA" -m fast -w stop >/dev/null
    log "stopped"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  destroy) stop; rm -rf "$PG_DIR" ;;
  *) echo "usage: $0 start|stop|url|destroy" >&2; exit 2 ;;
esac
