#!/usr/bin/env bash
# The Prefect server on loopback, with its own PREFECT_HOME (SQLite), for local use and tests.
#
#   infra/prefect.sh start   # prints the API URL; export it as PREFECT_API_URL
#   infra/prefect.sh url
#   infra/prefect.sh ui      # prints the UI address: open it in a browser (flow runs, states, artifacts, tags)
#   infra/prefect.sh stop
#   infra/prefect.sh worker POOL [N]   # start N process workers on a work pool (default 1)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PF_DIR="${EMSYNC_PREFECT_DIR:-$STATE_ROOT/prefect}"
PIDFILE="$PF_DIR/server.pid"
PREFECT="$(dirname "$(python_bin)")/prefect"
export PREFECT_HOME="$PF_DIR/home"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
# The UI is on by default (EMSYNC_PREFECT_UI=false turns it off). It calls the API from the browser at
# PREFECT_UI_API_URL: without it the UI shows "Can't connect to Server API" and an empty dashboard.
export PREFECT_SERVER_UI_ENABLED="${EMSYNC_PREFECT_UI:-true}"

url() {
  [[ -f "$PF_DIR/port" ]] && pid_alive "$PIDFILE" || die "no Prefect server: run '$0 start' first"
  echo "http://127.0.0.1:$(cat "$PF_DIR/port")/api"
}

ui() {
  url >/dev/null
  echo "http://127.0.0.1:$(cat "$PF_DIR/port")"
}

healthy() {
  "$(python_bin)" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/health", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
}

start() {
  mkdir -p "$PF_DIR" "$PREFECT_HOME"
  if pid_alive "$PIDFILE"; then url; return 0; fi
  [[ -x "$PREFECT" ]] || PREFECT="$(command -v prefect || true)"
  [[ -x "$PREFECT" ]] || die "prefect not found: pip install 'prefect>=3,<4'"
  local port i
  port="$(free_port)"
  echo "$port" >"$PF_DIR/port"
  log "starting the Prefect server on 127.0.0.1:$port (PREFECT_HOME=$PREFECT_HOME)"
  [[ "$PREFECT_SERVER_UI_ENABLED" == true ]] && log "the Prefect UI will be at http://127.0.0.1:$port"
  PREFECT_UI_API_URL="http://127.0.0.1:$port/api" PREFECT_SERVER_UI_API_URL="http://127.0.0.1:$port/api" \
    nohup "$PREFECT" server start --host 127.0.0.1 --port "$port" >"$PF_DIR/server.log" 2>&1 &
  echo $! >"$PIDFILE"
  # First start migrates its database: allow a slow, shared machine a few minutes.
  for ((i = 0; i < 900; i++)); do
    healthy "$port" && { url; return 0; }
    pid_alive "$PIDFILE" || break
    sleep 0.2
  done
  tail -n 30 "$PF_DIR/server.log" >&2
  die "the Prefect server did not become healthy"
}

worker() {
  local pool="${1:?usage: $0 worker POOL [N]}" n="${2:-1}" i
  export PREFECT_API_URL="${PREFECT_API_URL:-$(url)}"
  mkdir -p "$PF_DIR" "$PREFECT_HOME"  # a worker for a server started elsewhere keeps its logs here
  "$PREFECT" work-pool inspect "$pool" >/dev/null 2>&1 || "$PREFECT" work-pool create "$pool" --type process >/dev/null
  # Thread budget: the N workers share this machine's cores (flows read it at start; EMSYNC_THREADS overrides).
  export EMSYNC_HOST_WORKERS="${EMSYNC_HOST_WORKERS:-$n}"
  for ((i = 1; i <= n; i++)); do
    nohup "$PREFECT" worker start --pool "$pool" --name "$pool-$i" >"$PF_DIR/worker-$pool-$i.log" 2>&1 &
    echo $! >"$PF_DIR/worker-$pool-$i.pid"
    log "worker $pool-$i started (pid $!)"
  done
}

stop() {
  local f
  for f in "$PF_DIR"/worker-*.pid; do [[ -e "$f" ]] && stop_pidfile "$f"; done
  stop_pidfile "$PIDFILE"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  ui) ui ;;
  worker) shift; worker "$@" ;;
  *) echo "usage: $0 start|stop|url|ui|worker POOL [N]" >&2; exit 2 ;;
esac
