#!/usr/bin/env bash
# The container smoke test (`make smoke`): builds the worker and Triton images from the locks with podman,
# starts Triton's container and the worker image on the host network against PostgreSQL, S3 and the
# Prefect server on loopback (infra/*.sh), backfills a 5-video catalog with EMSYNC_MODEL_BACKEND=triton
# through them, and checks: every model in the repository READY in the container, 5 soundtracks stored,
# `emsync catalog verify` clean, and MIDI bit-identical to an in-process backfill of the same catalog on
# the host (same seeds). Exit 0 only when all hold. Not part of `make test` (it takes minutes and needs
# podman); see infra/README.md, "Images".
#
# Environment: EMSYNC_INFRA_DIR (servers' state, default /tmp/emsync-smoke), EMSYNC_PODMAN_DIR (podman's
# storage, default /var/tmp/emsync-podman, ~10 GB; the debootstrap base is kept there and a re-run rebuilds
# the two images from uv's cache), EMSYNC_SMOKE_VIDEOS (5), EMSYNC_SMOKE_KEEP=1 (leave the servers running),
# EMSYNC_SMOKE_BUILD=0 (test the images build.sh made before instead of building them).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=infra/images/podman.sh
source infra/images/podman.sh
export EMSYNC_INFRA_DIR="${EMSYNC_INFRA_DIR:-/tmp/emsync-smoke}"
mkdir -p "$EMSYNC_INFRA_DIR" && chmod 755 "$EMSYNC_INFRA_DIR"
PY="$REPO/.venv/bin/python"
videos="${EMSYNC_SMOKE_VIDEOS:-5}"
catalog=smoke
# The music model the smoke backfill uses (v2, the default: midi_generator_v2; EMSYNC_SMOKE_MUSIC_MODEL=v1 for v1).
music="${EMSYNC_SMOKE_MUSIC_MODEL:-v2}"
work="$EMSYNC_INFRA_DIR/smoke"
t0=$SECONDS
say() { echo "smoke: [$((SECONDS - t0)) s] $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
for tool in podman runc; do command -v "$tool" >/dev/null || fail "$tool missing: apt-get install podman runc debootstrap"; done
[[ -x "$PY" ]] || fail "no .venv: make install-dev"

triton_name="emsync-smoke-triton-$$"
cleanup() {
    pm rm -f "$triton_name" >/dev/null 2>&1 || true
    if [[ "${EMSYNC_SMOKE_KEEP:-0}" != 1 ]]; then
        infra/prefect.sh stop >/dev/null 2>&1 || true
        infra/s3.sh stop >/dev/null 2>&1 || true
        infra/postgres.sh stop >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT

if [[ "${EMSYNC_SMOKE_BUILD:-1}" == 0 ]]; then
    # Test images built earlier by infra/images/build.sh (say so in any report: they may be older than HEAD).
    version="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)"
    worker_image="localhost/emsync-worker:$version"; triton_image="localhost/emsync-triton:$version"
    say "EMSYNC_SMOKE_BUILD=0: using the images already built"
else
    say "building the images (podman storage $EMSYNC_PODMAN_DIR)"
    images="$(bash infra/images/build.sh worker triton)"
    worker_image="$(sed -n 1p <<<"$images")"; triton_image="$(sed -n 2p <<<"$images")"
fi
for image in "$worker_image" "$triton_image"; do
    say "$image: $(pm image inspect --format '{{.Size}}' "$image" | awk '{printf "%.2f GB", $1/1e9}')"
done

say "starting PostgreSQL, S3 and the Prefect server on loopback ($EMSYNC_INFRA_DIR)"
pg_url="$(infra/postgres.sh start | tail -n1)"
s3="$(infra/s3.sh start | tail -n1)"
prefect_url="$(infra/prefect.sh start | tail -n1)"
# A fresh database and bucket for every run, so the checks below see this run's work only.
db="smoke_$(date +%s)"
"$PY" - "$pg_url" "$db" <<'PYEOF'
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1], isolation_level="AUTOCOMMIT")
with engine.connect() as c:
    c.execute(text(f'CREATE DATABASE "{sys.argv[2]}"'))
PYEOF
pg_url="${pg_url%/*}/$db"
bucket="emsync-$db"
bucket="${bucket//_/-}"

read -r http_port grpc_port metrics_port < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks: s.close()')
say "starting $triton_image (http 127.0.0.1:$http_port)"
pm run -d --name "$triton_name" --network host --shm-size 1g \
    -e EMSYNC_TRITON_ADDRESS=127.0.0.1 -e EMSYNC_TRITON_HTTP_PORT="$http_port" \
    -e EMSYNC_TRITON_GRPC_PORT="$grpc_port" -e EMSYNC_TRITON_METRICS_PORT="$metrics_port" \
    "$triton_image" >/dev/null

say "making $videos clips while Triton loads"
mkdir -p "$work"
# The manifest sits beside the clips: manifests may read their own folder by default.
manifest="$work/clips/manifest.csv"
"$PY" - "$work/clips" "$videos" "$manifest" <<'PYEOF'
import csv, sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.clips import make_clips
paths = make_clips(Path(sys.argv[1]), int(sys.argv[2]))
with open(sys.argv[3], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["uri", "external_id"])
    for p in paths:
        w.writerow([str(p.resolve()), p.stem])
PYEOF
chmod -R a+rX "$work/clips"

ready=0
for _ in $(seq 1 600); do
    if curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$http_port/v2/health/ready" 2>/dev/null; then ready=1; break; fi
    pm container exists "$triton_name" && [[ "$(pm inspect --format '{{.State.Running}}' "$triton_name")" == true ]] \
        || { pm logs "$triton_name" 2>&1 | tail -n 30 >&2; fail "the Triton container exited"; }
    sleep 1
done
(( ready )) || { pm logs "$triton_name" 2>&1 | tail -n 30 >&2; fail "Triton not ready in 600 s"; }
# Every model (and version) in the repository must be READY, not only those the backfill calls.
"$PY" - "127.0.0.1:$http_port" serving/model_repository <<'PYEOF' || fail "models not READY"
import json, sys, urllib.request
from pathlib import Path
url, repo = sys.argv[1], Path(sys.argv[2])
want = {(m.name, v.name) for m in repo.iterdir() if (m / "config.pbtxt").is_file()
        for v in m.iterdir() if v.is_dir() and v.name.isdigit()}
req = urllib.request.Request(f"http://{url}/v2/repository/index", data=b"{}", method="POST")
index = json.load(urllib.request.urlopen(req, timeout=10))
ready = {(m["name"], m.get("version", "")) for m in index if m.get("state") == "READY"}
missing = sorted(want - ready)
for name, version in missing:
    print(f"smoke: model {name} version {version} is not READY: {index}", file=sys.stderr)
print("smoke: READY in the container: " + ", ".join(f"{n}/{v}" for n, v in sorted(ready)), file=sys.stderr)
sys.exit(1 if missing or not want else 0)
PYEOF

container_env=(
    -e EMSYNC_DATABASE_URL="$pg_url"
    -e EMSYNC_OBJECT_STORE=s3 -e EMSYNC_S3_ENDPOINT="$s3" -e EMSYNC_S3_BUCKET="$bucket"
    -e EMSYNC_S3_ACCESS_KEY=testing -e EMSYNC_S3_SECRET_KEY=testing -e EMSYNC_S3_SECURE=false
    -e EMSYNC_MODEL_BACKEND=triton -e EMSYNC_TRITON_URL="127.0.0.1:$http_port" -e EMSYNC_MUSIC_MODEL="$music"
    -e PREFECT_API_URL="$prefect_url"
)
worker() {
    pm run --rm --network host -v "$work/clips:$work/clips:ro" \
        "${container_env[@]}" "$worker_image" "$@"
}
say "worker container: emsync db upgrade"
worker db upgrade >&2
say "worker container: emsync catalog backfill ($videos videos, EMSYNC_MODEL_BACKEND=triton)"
start=$SECONDS
worker catalog backfill "$manifest" --catalog "$catalog" >&2 || fail "the backfill in the container failed"
backfill_s=$((SECONDS - start))
say "worker container: emsync catalog verify"
verify="$(worker catalog verify "$catalog")" || fail "catalog verify: $verify"
echo "$verify" >&2
grep -q "^checked [1-9][0-9]* objects: 0 missing or changed" <<<"$verify" || fail "catalog verify is not clean"
requests="$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" | awk '/^nv_inference_request_success/ {s += $2} END {print s + 0}')"
(( ${requests%.*} > 0 )) || fail "Triton served no requests: the backfill did not use it"

say "the same catalog in-process on the host (SQLite + a local folder), for parity"
inproc="$work/inprocess"
rm -rf "$inproc" && mkdir -p "$inproc"
EMSYNC_DATA_DIR="$inproc" EMSYNC_DATABASE_URL="sqlite:///$inproc/emsync.db" EMSYNC_OBJECT_STORE=local \
    EMSYNC_MODEL_BACKEND=inprocess EMSYNC_MUSIC_MODEL="$music" PREFECT_API_URL="$prefect_url" \
    .venv/bin/emsync catalog backfill "$manifest" --catalog "$catalog" >&2 \
    || fail "the in-process backfill failed"
"$PY" infra/images/compare_runs.py "$catalog" "$pg_url" "sqlite:///$inproc/emsync.db" --kinds midi \
    --expect "$videos" >&2 || fail "Triton in the container and in-process disagree"
say "PASSED: $videos videos backfilled through the containers in $backfill_s s ($requests Triton requests)," \
    "verify clean, MIDI identical to in-process"
