#!/usr/bin/env bash
# Prometheus and Alertmanager (Debian's `prometheus`, `prometheus-alertmanager`) on loopback, for local
# use and the tests, with EMSYNC's alert rules (infra/prometheus/rules/) and Alertmanager config.
#
#   infra/prometheus.sh start              # prints EMSYNC_TEST_PROMETHEUS_URL=..., EMSYNC_TEST_ALERTMANAGER_URL=...,
#                                          #        EMSYNC_PROMETHEUS_TARGETS=... (a folder of scrape targets),
#                                          #        EMSYNC_TEST_ALERT_WEBHOOK_URL=... (the example receiver)
#   infra/prometheus.sh target JOB HOST:PORT   # scrape HOST:PORT as job JOB (emsync, triton); picked up in seconds
#   infra/prometheus.sh urls
#   infra/prometheus.sh stop
#
# EMSYNC_PROMETHEUS_INTERVAL (default 15s) is both the scrape and the rule-evaluation interval; the test
# run sets 1s so an alert fires within seconds (and Alertmanager then groups for 1s instead of 30s).
# Alertmanager runs infra/alertmanager/alertmanager.yml with its webhook pointed at the example receiver
# (infra/alertmanager/webhook_receiver.py), which logs each alert to webhook.log and keeps them all.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PM_DIR="${EMSYNC_PROMETHEUS_DIR:-$STATE_ROOT/prometheus}"
INTERVAL="${EMSYNC_PROMETHEUS_INTERVAL:-15s}"
PROMETHEUS="${EMSYNC_PROMETHEUS_BIN:-$(command -v prometheus || true)}"
ALERTMANAGER="${EMSYNC_ALERTMANAGER_BIN:-$(command -v prometheus-alertmanager || command -v alertmanager || true)}"

urls() {
  [[ -f "$PM_DIR/prometheus.port" && -f "$PM_DIR/alertmanager.port" && -f "$PM_DIR/webhook.port" ]] \
    && all_alive || die "no Prometheus: run '$0 start' first"
  echo "EMSYNC_PROMETHEUS_TARGETS=$PM_DIR/targets"
  echo "EMSYNC_TEST_ALERTMANAGER_URL=http://127.0.0.1:$(cat "$PM_DIR/alertmanager.port")"
  echo "EMSYNC_TEST_ALERT_WEBHOOK_URL=http://127.0.0.1:$(cat "$PM_DIR/webhook.port")/alerts"
  echo "EMSYNC_TEST_PROMETHEUS_URL=http://127.0.0.1:$(cat "$PM_DIR/prometheus.port")"
}

all_alive() {
  pid_alive "$PM_DIR/prometheus.pid" && pid_alive "$PM_DIR/alertmanager.pid" && pid_alive "$PM_DIR/webhook.pid"
}

ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/-/ready" 2>/dev/null; }

write_config() {
  local prom_port="$1" am_port="$2"
  cat >"$PM_DIR/prometheus.yml" <<YML
# Written by infra/prometheus.sh: infra/prometheus/prometheus.yml on loopback, targets from files.
global:
  scrape_interval: $INTERVAL
  evaluation_interval: $INTERVAL
rule_files:
  - $REPO_DIR/infra/prometheus/rules/*.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:$am_port"]
scrape_configs:
  - job_name: emsync
    file_sd_configs: [{files: ["$PM_DIR/targets/emsync-*.json"], refresh_interval: 5s}]
  - job_name: triton
    file_sd_configs: [{files: ["$PM_DIR/targets/triton-*.json"], refresh_interval: 5s}]
  - job_name: prometheus
    static_configs: [{targets: ["127.0.0.1:$prom_port"]}]
YML
  promtool check config "$PM_DIR/prometheus.yml" >/dev/null || die "generated Prometheus config is invalid"
}

# The repository's Alertmanager config with its webhook aimed at the local receiver; with a short
# interval (the tests), notifications go out after 1s of grouping instead of 30s.
write_am_config() {
  local webhook_port="$1" wait="30s"
  [[ "$INTERVAL" =~ ^[0-9]s$ ]] && wait="1s"
  sed -e "s#url: http://emsync-alert-webhook:9095/alerts#url: http://127.0.0.1:$webhook_port/alerts#" \
      -e "s#group_wait: 30s#group_wait: $wait#" -e "s#group_interval: 5m#group_interval: ${wait/30s/5m}#" \
    "$REPO_DIR/infra/alertmanager/alertmanager.yml" >"$PM_DIR/alertmanager.yml"
  grep -q "127.0.0.1:$webhook_port" "$PM_DIR/alertmanager.yml" || die "alertmanager.yml has no webhook URL to rewrite"
}

target() {
  local job="${1:?usage: $0 target JOB HOST:PORT}" address="${2:?usage: $0 target JOB HOST:PORT}"
  [[ "$job" =~ ^[a-z]+$ ]] || die "job names are lowercase letters: $job"
  mkdir -p "$PM_DIR/targets"
  local tmp="$PM_DIR/targets/.$job-$$.tmp"
  printf '[{"targets": ["%s"]}]\n' "$address" >"$tmp"
  mv "$tmp" "$PM_DIR/targets/$job-${address//[^0-9A-Za-z]/_}.json"  # atomic: Prometheus never reads half a file
}

start() {
  mkdir -p "$PM_DIR/data" "$PM_DIR/am-data" "$PM_DIR/targets"
  if all_alive; then urls; return 0; fi
  [[ -x "$PROMETHEUS" ]] || die "prometheus not found: apt-get install prometheus"
  [[ -x "$ALERTMANAGER" ]] || die "alertmanager not found: apt-get install prometheus-alertmanager"
  local prom_port am_port webhook_port i
  prom_port="$(free_port)"; am_port="$(free_port)"; webhook_port="$(free_port)"
  echo "$prom_port" >"$PM_DIR/prometheus.port"; echo "$am_port" >"$PM_DIR/alertmanager.port"
  echo "$webhook_port" >"$PM_DIR/webhook.port"
  write_config "$prom_port" "$am_port"
  write_am_config "$webhook_port"
  log "starting the example webhook receiver on 127.0.0.1:$webhook_port"
  : >"$PM_DIR/webhook.jsonl"
  nohup python3 "$REPO_DIR/infra/alertmanager/webhook_receiver.py" --port "$webhook_port" \
    --out "$PM_DIR/webhook.jsonl" >"$PM_DIR/webhook.log" 2>&1 &
  echo $! >"$PM_DIR/webhook.pid"
  log "starting Alertmanager on 127.0.0.1:$am_port"
  # An empty cluster address turns off gossip (a single instance; nothing listens beyond loopback).
  nohup "$ALERTMANAGER" --config.file="$PM_DIR/alertmanager.yml" \
    --storage.path="$PM_DIR/am-data" --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
    >"$PM_DIR/alertmanager.log" 2>&1 &
  echo $! >"$PM_DIR/alertmanager.pid"
  log "starting Prometheus on 127.0.0.1:$prom_port (interval $INTERVAL)"
  nohup "$PROMETHEUS" --config.file="$PM_DIR/prometheus.yml" --storage.tsdb.path="$PM_DIR/data" \
    --web.listen-address="127.0.0.1:$prom_port" --storage.tsdb.retention.time=2d \
    >"$PM_DIR/prometheus.log" 2>&1 &
  echo $! >"$PM_DIR/prometheus.pid"
  for ((i = 0; i < 300; i++)); do
    if ready "$prom_port" && ready "$am_port" && ready "$webhook_port"; then urls; return 0; fi
    all_alive || break
    sleep 0.2
  done
  tail -n 20 "$PM_DIR/prometheus.log" "$PM_DIR/alertmanager.log" "$PM_DIR/webhook.log" >&2
  die "Prometheus or Alertmanager did not become ready"
}

stop() {
  stop_pidfile "$PM_DIR/prometheus.pid"
  stop_pidfile "$PM_DIR/alertmanager.pid"
  stop_pidfile "$PM_DIR/webhook.pid"
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  urls) urls ;;
  target) shift; target "$@" ;;
  *) echo "usage: $0 start|stop|urls|target JOB HOST:PORT" >&2; exit 2 ;;
esac
