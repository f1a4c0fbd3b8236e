#!/usr/bin/env bash
# Start / stop NVIDIA Triton Inference Server from the nvidia-pytriton wheel, without containers.
#
#   infra/triton.sh start    build our backend folder, pick free loopback ports, start, wait until ready
#   infra/triton.sh stop     stop the server started by `start` (PID file), then its python stubs
#   infra/triton.sh status   exit 0 when the server answers /v2/health/ready
#   infra/triton.sh env      print the KEY=VALUE lines written by `start` (source with `set -a`)
#   infra/triton.sh run      run the server in the foreground (the Triton image's command); ports default
#                            to Triton's own 8000 (HTTP), 8001 (gRPC), 8002 (metrics)
#
# Needs `make install-triton` (or `infra/install.sh --triton`): the runtime lock plus nvidia-pytriton, whose
# wheel ships the tritonserver binary and the python backend.
#
# Environment (all optional):
#   EMSYNC_TRITON_DIR        state folder (PID, log, env file, backend folder); default
#                            $EMSYNC_INFRA_DIR/triton, or <repo>/.emsync/triton without EMSYNC_INFRA_DIR
#   EMSYNC_TRITON_REPOSITORY model repository; default <repo>/serving/model_repository
#   EMSYNC_TRITON_HTTP_PORT, EMSYNC_TRITON_GRPC_PORT, EMSYNC_TRITON_METRICS_PORT
#                            fixed ports; default free ones (`start`) or 8000/8001/8002 (`run`)
#   EMSYNC_TRITON_ADDRESS    address to bind; default 127.0.0.1 (`start`) or 0.0.0.0 (`run`)
#   EMSYNC_TRITONSERVER      the server binary; default the one in the nvidia-pytriton wheel
#   EMSYNC_TRITON_READY_TIMEOUT_S  how long `start` waits for readiness; default 300 (torch loads slowly)
#   PYTHON                   interpreter whose site-packages hold pytriton, torch and our deps;
#                            default <repo>/.venv/bin/python
#
# `start` writes $EMSYNC_TRITON_DIR/triton.env with EMSYNC_TRITON_URL, EMSYNC_TRITON_METRICS_URL and
# EMSYNC_TEST_TRITON_URL (what tests/serving reads), and prints the same lines on stdout.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Like the other infra/ scripts: under $EMSYNC_INFRA_DIR when it is set.
STATE_DIR="${EMSYNC_TRITON_DIR:-${EMSYNC_INFRA_DIR:-$REPO/.emsync}/triton}"
MODEL_REPO="${EMSYNC_TRITON_REPOSITORY:-$REPO/serving/model_repository}"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
READY_TIMEOUT_S="${EMSYNC_TRITON_READY_TIMEOUT_S:-300}"
PID_FILE="$STATE_DIR/triton.pid"
ENV_FILE="$STATE_DIR/triton.env"
LOG_FILE="$STATE_DIR/triton.log"

log() { echo "triton.sh: $*" >&2; }
die() { log "$*"; exit 1; }

running_pid() {
    # The PID file can outlive a crashed server; only a live tritonserver counts.
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    grep -q tritonserver "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

ready() {
    local url="$1"
    curl -fsS -m 2 -o /dev/null "http://$url/v2/health/ready" 2>/dev/null
}

show_errors() {
    # Triton's error lines start with E<MMDD>; a failed model load is otherwise buried under shutdown noise.
    grep -E '^E[0-9]{4} ' "$LOG_FILE" | tail -n 20 >&2 || true
    tail -n 3 "$LOG_FILE" >&2 || true
}

build_backend_dir() {
    # The wheel keeps the python backend and its stubs apart; Triton wants the stub beside
    # libtriton_python.so. We assemble that in our own folder instead of writing into site-packages.
    local pkg="$1" pyver="$2" dst="$STATE_DIR/backends/python"
    local src="$pkg/tritonserver/backends/python" stub="$pkg/tritonserver/python_backend_stubs/$pyver"
    [[ -f "$src/libtriton_python.so" ]] || die "no python backend in $src"
    [[ -x "$stub/triton_python_backend_stub" ]] || die "no backend stub for Python $pyver in $stub"
    mkdir -p "$dst"
    cp -f "$src/libtriton_python.so" "$src/triton_python_backend_utils.py" "$dst/"
    cp -f "$stub/triton_python_backend_stub" "$dst/"
    chmod +x "$dst/triton_python_backend_stub"
}

# Sets SERVER_CMD (the server and its arguments), SERVER_ENV (what the python stubs need), HTTP_PORT and
# METRICS_PORT for `start` and `run`. $1: "start" (free loopback ports) or "run" (Triton's own ports).
prepare() {
    local mode="$1"
    [[ -x "$PYTHON" ]] || die "python interpreter not found: $PYTHON"
    [[ -d "$MODEL_REPO" ]] || die "model repository not found: $MODEL_REPO"
    mkdir -p "$STATE_DIR"

    # One interpreter call answers everything we need to know about the installed wheel.
    local info
    info="$("$PYTHON" - <<'EOF'
import importlib.util, pathlib, socket, sys
spec = importlib.util.find_spec("pytriton")
if spec is None or not spec.submodule_search_locations:
    sys.exit("pytriton is not installed in this interpreter: make install-triton (infra/install.sh --triton)")
pkg = pathlib.Path(list(spec.submodule_search_locations)[0])
libs = pkg.parent / "nvidia_pytriton.libs"
ports = []
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    ports.append(s.getsockname()[1])
for s in socks:
    s.close()
print(pkg)
print(libs)
print(f"{sys.version_info.major}.{sys.version_info.minor}")
print(pathlib.Path(sys.base_prefix) / "lib")
print(" ".join(map(str, ports)))
EOF
)" || die "could not inspect $PYTHON"
    local pkg libs pyver pylib ports
    { read -r pkg; read -r libs; read -r pyver; read -r pylib; read -r ports; } <<<"$info"
    local http_port grpc_port metrics_port address=127.0.0.1
    read -r http_port grpc_port metrics_port <<<"$ports"
    [[ "$mode" == run ]] && { http_port=8000; grpc_port=8001; metrics_port=8002; address=0.0.0.0; }
    HTTP_PORT="${EMSYNC_TRITON_HTTP_PORT:-$http_port}"
    METRICS_PORT="${EMSYNC_TRITON_METRICS_PORT:-$metrics_port}"
    grpc_port="${EMSYNC_TRITON_GRPC_PORT:-$grpc_port}"
    address="${EMSYNC_TRITON_ADDRESS:-$address}"

    build_backend_dir "$pkg" "$pyver"
    local server="${EMSYNC_TRITONSERVER:-$pkg/tritonserver/bin/tritonserver}"
    [[ -x "$server" ]] || die "no tritonserver binary at $server"

    # The stub embeds libpython in isolated mode, so PYTHONPATH/PYTHONHOME are ignored. Two things
    # steer it instead: LD_LIBRARY_PATH picks the venv interpreter's own libpython (not the distro's),
    # and the embedded interpreter finds its "executable" by looking up `python3` on PATH, so the venv's
    # bin/ first makes it read pyvenv.cfg and use the venv's site-packages. model.py imports
    # emsync_models and serving from there (the project is installed into that interpreter).
    # Torch threads per model are set by each config.pbtxt (torch_threads).
    local ld="$pylib:$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    local venv_bin
    venv_bin="$(dirname "$PYTHON")"
    SERVER_ENV=("LD_LIBRARY_PATH=$ld" "PATH=$venv_bin:$PATH")
    SERVER_CMD=("$server"
        --model-repository="$MODEL_REPO"
        --backend-directory="$STATE_DIR/backends"
        --http-address="$address" --http-port="$HTTP_PORT"
        --grpc-address="$address" --grpc-port="$grpc_port" --allow-grpc=false
        --allow-metrics=true --allow-gpu-metrics=false --allow-cpu-metrics=true
        --metrics-address="$address" --metrics-port="$METRICS_PORT"
        --strict-readiness=true --exit-on-error=true --exit-timeout-secs=10
        --log-verbose=0)
}

cmd_run() {
    prepare run
    log "running ${SERVER_CMD[0]} (http :$HTTP_PORT, metrics :$METRICS_PORT)"
    exec env "${SERVER_ENV[@]}" "${SERVER_CMD[@]}"
}

cmd_start() {
    local pid
    if pid="$(running_pid)"; then
        log "already running (pid $pid)"
        cat "$ENV_FILE"
        return 0
    fi
    prepare start
    log "starting ${SERVER_CMD[0]} (http 127.0.0.1:$HTTP_PORT, metrics 127.0.0.1:$METRICS_PORT), log $LOG_FILE"
    (
        cd "$REPO"
        exec env "${SERVER_ENV[@]}" setsid "${SERVER_CMD[@]}"
    ) >"$LOG_FILE" 2>&1 </dev/null &
    local server_pid=$!
    echo "$server_pid" >"$PID_FILE"

    local url="127.0.0.1:$HTTP_PORT" waited=0
    until ready "$url"; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            log "server exited before it was ready; its errors (full log: $LOG_FILE):"
            show_errors
            rm -f "$PID_FILE"
            exit 1
        fi
        if (( waited >= READY_TIMEOUT_S )); then
            log "not ready after ${READY_TIMEOUT_S}s; stopping it. Its errors (full log: $LOG_FILE):"
            show_errors
            cmd_stop
            exit 1
        fi
        sleep 1
        waited=$((waited + 1))
    done
    cat >"$ENV_FILE" <<EOF
EMSYNC_TRITON_URL=$url
EMSYNC_TRITON_METRICS_URL=127.0.0.1:$METRICS_PORT
EMSYNC_TEST_TRITON_URL=$url
EMSYNC_TEST_TRITON_METRICS_URL=127.0.0.1:$METRICS_PORT
EOF
    log "ready after ~${waited}s (pid $server_pid)"
    cat "$ENV_FILE"
}

kill_orphan_stubs() {
    # A crashed server leaves its python stubs running (they ignore SIGTERM without a parent to talk
    # to). They share the server's process group (setsid made its PID the group ID).
    local group="$1" stubs
    stubs="$(pgrep -g "$group" -f triton_python_backend_stub || true)"
    [[ -n "$stubs" ]] || return 0
    log "killing stubs left by a dead server: $(echo $stubs)"
    # shellcheck disable=SC2086 - one PID per word
    kill -KILL $stubs 2>/dev/null || true
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        [[ -f "$PID_FILE" ]] && kill_orphan_stubs "$(cat "$PID_FILE")"
        log "not running"
        rm -f "$PID_FILE" "$ENV_FILE"
        return 0
    fi
    # SIGTERM lets Triton unload models, which ends their stub processes cleanly.
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && (( waited < 30 )); do
        sleep 1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still alive after 30s; killing its process group"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    kill_orphan_stubs "$pid"
    rm -f "$PID_FILE" "$ENV_FILE"
    log "stopped (pid $pid)"
}

cmd_status() {
    local pid url
    pid="$(running_pid)" || { log "not running"; return 1; }
    url="$(sed -n 's/^EMSYNC_TRITON_URL=//p' "$ENV_FILE" 2>/dev/null)"
    [[ -n "$url" ]] && ready "$url" || { log "pid $pid alive but not ready"; return 1; }
    log "ready at $url (pid $pid)"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    run) cmd_run ;;
    env) [[ -f "$ENV_FILE" ]] && cat "$ENV_FILE" || die "not started (no $ENV_FILE)" ;;
    *) echo "usage: $0 start|stop|status|env|run" >&2; exit 2 ;;
esac
