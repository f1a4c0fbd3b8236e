#!/usr/bin/env bash
# The catalog benchmark as benchmarks/results/catalog.txt records it: 16 clips of ~26 s at 640x360@25fps,
# PostgreSQL, objects in S3, a Prefect server, 1 and 2 workers. Starts those servers on loopback (state
# under $EMSYNC_INFRA_DIR, a fresh temp folder by default), stops them however the run ends.
#   bash benchmarks/catalog_servers.sh [extra benchmarks.catalog options, e.g. --workers 1]
# BENCH_TREE=<checkout> runs that tree's benchmarks/catalog.py and code (an older commit, for a
# before/after on the same machine) with this checkout's servers and virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
export PATH="$REPO/.venv/bin:$PATH"
export EMSYNC_INFRA_DIR="${EMSYNC_INFRA_DIR:-$(mktemp -d /tmp/emsync-bench-XXXXXX)}"

stop_all() {
  infra/prefect.sh stop >/dev/null 2>&1 || true
  infra/s3.sh stop >/dev/null 2>&1 || true
  infra/postgres.sh stop >/dev/null 2>&1 || true
}
trap stop_all EXIT

pg="$(infra/postgres.sh start | tail -n1)"
s3="$(infra/s3.sh start | tail -n1)"
export PREFECT_API_URL="$(infra/prefect.sh start | tail -n1)"
export EMSYNC_OBJECT_STORE=s3 EMSYNC_S3_ENDPOINT="$s3" EMSYNC_S3_ACCESS_KEY=testing EMSYNC_S3_SECRET_KEY=testing

cd "${BENCH_TREE:-$REPO}"
echo "tree: $(git rev-parse --short HEAD) ($PWD)"
uptime
python -m benchmarks.catalog --videos 16 --size 640x360 --fps 25 --stretch 8 --database-url "$pg" "$@"
uptime
