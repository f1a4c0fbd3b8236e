#!/usr/bin/env bash
# An S3-compatible server on loopback (moto's server mode) for local use and tests.
#
#   infra/s3.sh start     # prints the endpoint (host:port); buckets are created by our code
#   infra/s3.sh endpoint  # prints the endpoint of the running server
#   infra/s3.sh stop
#
# moto keeps objects in memory: a restart empties it. It accepts any access/secret key; the scripts
# and tests use "testing"/"testing". To use a real MinIO instead, start it (infra/compose) and set
#   EMSYNC_OBJECT_STORE=s3 EMSYNC_S3_ENDPOINT=127.0.0.1:9000 EMSYNC_S3_ACCESS_KEY=... EMSYNC_S3_SECRET_KEY=...
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

S3_DIR="${EMSYNC_S3_DIR:-$STATE_ROOT/s3}"
PIDFILE="$S3_DIR/moto.pid"

endpoint() {
  [[ -f "$S3_DIR/port" ]] && pid_alive "$PIDFILE" || die "no S3 server: run '$0 start' first"
  echo "127.0.0.1:$(cat "$S3_DIR/port")"
}

start() {
  mkdir -p "$S3_DIR"
  if pid_alive "$PIDFILE"; then endpoint; return 0; fi
  local moto port
  moto="$(dirname "$(python_bin)")/moto_server"
  [[ -x "$moto" ]] || moto="$(command -v moto_server || true)"
  [[ -x "$moto" ]] || die "moto_server not found: pip install 'moto[server]'"
  port="$(sticky_port "$S3_DIR/port")"
  echo "$port" >"$S3_DIR/port"
  log "starting moto on 127.0.0.1:$port"
  nohup "$moto" -H 127.0.0.1 -p "$port" >"$S3_DIR/server.log" 2>&1 &
  echo $! >"$PIDFILE"
  wait_port "$port" 60 || { tail -n 20 "$S3_DIR/server.log" >&2; die "moto did not start"; }
  endpoint
}

case "${1:-}" in
  start) start ;;
  stop) stop_pidfile "$PIDFILE"; log "stopped" ;;
  endpoint) endpoint ;;
  *) echo "usage: $0 start|stop|endpoint" >&2; exit 2 ;;
esac
