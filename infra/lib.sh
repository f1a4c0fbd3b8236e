# Shared helpers for the infra/ scripts (sourced, not run).
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$INFRA_DIR/.." && pwd)"
STATE_ROOT="${EMSYNC_INFRA_DIR:-${TMPDIR:-/tmp}/emsync-infra}"

log() { echo "[$(basename "$0")] $*" >&2; }
die() { log "error: $*"; exit 1; }

# The virtualenv's interpreter when there is one: the servers come from Python packages.
python_bin() {
  if [[ -x "$REPO_DIR/.venv/bin/python" ]]; then echo "$REPO_DIR/.venv/bin/python"; else command -v python3; fi
}

# A port nothing listens on right now (the kernel picks it; we release it just before the server binds).
free_port() {
  "$(python_bin)" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_is_free() {
  "$(python_bin)" -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(('127.0.0.1', int(sys.argv[1])))
except OSError: sys.exit(1)" "$1"
}

# The port a server used last time (kept in its state folder), so clients that were running reconnect
# after a stop/start; a new free port only the first time, or when another process took the old one.
sticky_port() {
  local file="$1" port
  if [[ -f "$file" ]]; then
    port="$(cat "$file")"
    if [[ "$port" =~ ^[0-9]+$ ]] && port_is_free "$port"; then echo "$port"; return 0; fi
    log "port $port (from $file) is taken by another process: choosing a new one"
  fi
  free_port
}

# Wait until a TCP port on loopback accepts connections.
wait_port() {
  local port="$1" seconds="${2:-60}" i
  for ((i = 0; i < seconds * 5; i++)); do
    if "$(python_bin)" -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1', $port)))" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stop the process whose id is in a pid file: TERM, then KILL after a grace period.
stop_pidfile() {
  local pidfile="$1" pid i
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}
