#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it: lint, then pytest with the real servers
# (PostgreSQL, an S3-compatible server, Triton, the Prefect server, Prometheus + Alertmanager) started
# on loopback for the integration tests and stopped again however the run ends. Screenshots the tests
# take are kept in $EMSYNC_INFRA_DIR/screenshots.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export EMSYNC_INFRA_DIR="${EMSYNC_INFRA_DIR:-$(mktemp -d /tmp/emsync-test-XXXXXX)}"
chmod 755 "$EMSYNC_INFRA_DIR"

stop_all() {
  infra/prometheus.sh stop >/dev/null 2>&1
  infra/prefect.sh stop >/dev/null 2>&1
  infra/triton.sh stop >/dev/null 2>&1
  infra/s3.sh stop >/dev/null 2>&1
  infra/postgres.sh stop >/dev/null 2>&1
}
trap stop_all EXIT

echo "== lock"
python infra/lock_check.py || exit 1

echo "== ruff"
ruff check . || exit 1

echo "== starting PostgreSQL, S3, Triton and the Prefect server on loopback"
EMSYNC_TEST_POSTGRES_URL="$(infra/postgres.sh start | tail -n1)" || { echo "PostgreSQL did not start"; exit 1; }
EMSYNC_TEST_S3_ENDPOINT="$(infra/s3.sh start | tail -n1)" || { echo "S3 server did not start"; exit 1; }
triton_env="$(infra/triton.sh start)" || { echo "Triton did not start"; exit 1; }
# Only the test addresses: the EMSYNC_TRITON_URL it also prints would reconfigure every other test.
eval "$(grep '^EMSYNC_TEST_TRITON' <<<"$triton_env" | sed 's/^/export /')"
PREFECT_API_URL="$(infra/prefect.sh start | tail -n1)" || { echo "Prefect server did not start"; exit 1; }
# Scrape and evaluate every second, so the alert integration test sees an alert fire within seconds.
prometheus_env="$(EMSYNC_PROMETHEUS_INTERVAL=1s infra/prometheus.sh start)" || { echo "Prometheus did not start"; exit 1; }
eval "$(grep -E '^(EMSYNC_TEST_PROMETHEUS_URL|EMSYNC_TEST_ALERTMANAGER_URL|EMSYNC_TEST_ALERT_WEBHOOK_URL|EMSYNC_PROMETHEUS_TARGETS)=' <<<"$prometheus_env" | sed 's/^/export /')"
# Triton's own /metrics beside the exporter's, as in production.
[[ -n "${EMSYNC_TEST_TRITON_METRICS_URL:-}" ]] && infra/prometheus.sh target triton "$EMSYNC_TEST_TRITON_METRICS_URL"
export EMSYNC_TEST_POSTGRES_URL EMSYNC_TEST_S3_ENDPOINT PREFECT_API_URL
echo "postgres=$EMSYNC_TEST_POSTGRES_URL s3=$EMSYNC_TEST_S3_ENDPOINT triton=$EMSYNC_TEST_TRITON_URL prefect=$PREFECT_API_URL"
echo "prometheus=$EMSYNC_TEST_PROMETHEUS_URL alertmanager=$EMSYNC_TEST_ALERTMANAGER_URL screenshots=$EMSYNC_INFRA_DIR/screenshots"

echo "== pytest"
pytest -q --durations=15 "$@"
rc=$?
# pytest's 5 means "collected no tests": for this suite that is a broken collection, not a pass.
[[ $rc -eq 5 ]] && { echo "pytest collected no tests"; rc=1; }
exit $rc
