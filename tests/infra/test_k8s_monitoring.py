"""Dashboards as code and the monitoring manifests: generated files are current, valid and pinned."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from db.session import make_engine
from flows.ops.metrics import build_registry
from flows.settings import get_settings
from tests.seed import seed

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def _generated(script: str) -> str:
    return subprocess.run(
        [sys.executable, str(INFRA / script)], capture_output=True, text=True, check=True, timeout=120, cwd=REPO
    ).stdout


def test_grafana_dashboard_json_is_current() -> None:
    committed = (INFRA / "grafana" / "dashboards" / "emsync.json").read_text()
    assert _generated("grafana/emsync_dashboard.py") == committed, "regenerate: see infra/grafana/emsync_dashboard.py"


def test_dashboard_and_rules_use_only_metrics_the_exporter_exposes() -> None:
    url = get_settings().store.resolved_database_url
    make_engine(url)
    seed(url)
    exposed = {
        sample.name
        for family in text_string_to_metric_families(generate_latest(build_registry(url)).decode())
        for sample in family.samples
    }
    dashboard = json.loads((INFRA / "grafana" / "dashboards" / "emsync.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    rules = (INFRA / "prometheus" / "rules" / "emsync.rules.yml").read_text()
    used = set(re.findall(r"\bemsync_[a-z_]+", " ".join(exprs) + rules))
    assert used and used <= exposed, f"not exposed: {sorted(used - exposed)}"
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {"Videos by state", "Work queue", "Seconds per stage (p50, p95)", "Model versions"} <= titles
    # Grafana's current schema: data sources by uid (the provisioned one), a panel for every alert.
    assert dashboard["schemaVersion"] >= 39
    refs = [p["datasource"] for p in dashboard["panels"]] + [t["datasource"] for p in dashboard["panels"]
                                                            for t in p.get("targets", [])]
    provisioned = yaml.safe_load((INFRA / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert {json.dumps(r, sort_keys=True) for r in refs} == {
        json.dumps({"type": "prometheus", "uid": provisioned["datasources"][0]["uid"]}, sort_keys=True)}
    shown = " ".join(f"{p['title']} {p.get('description') or ''}" for p in dashboard["panels"])
    for alert in re.findall(r"- alert: (\w+)", rules):
        assert alert in shown, f"no panel shows {alert}"
    assert "exported_job" not in json.dumps(dashboard)


def test_k8s_monitoring_manifest_is_current_and_valid() -> None:
    committed = (INFRA / "k8s" / "monitoring.yaml").read_text()
    assert _generated("k8s_monitoring.py") == committed, "regenerate: see infra/k8s_monitoring.py"
    import kubernetes_validate

    docs = list(yaml.safe_load_all(committed))
    for doc in docs:
        kubernetes_validate.validate(doc, "1.29", strict=True)
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"emsync-metrics", "prometheus", "alertmanager", "grafana"}
    for d in deployments:
        (container,) = d["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "emsync:latest" or re.search(r":v?\d+\.\d+\.\d+$", container["image"])
        assert container["readinessProbe"] and container["livenessProbe"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
    rules = next(d for d in docs if d["metadata"]["name"] == "prometheus-rules")
    assert rules["data"]["emsync.rules.yml"] == (INFRA / "prometheus" / "rules" / "emsync.rules.yml").read_text()


def test_compose_monitoring_services_are_pinned_checked_and_limited() -> None:
    compose = yaml.safe_load((INFRA / "compose" / "monitoring.yml").read_text())
    services = compose["services"]
    assert set(services) == {"emsync-metrics", "prometheus", "alertmanager", "grafana"}
    for name, service in services.items():
        assert service["image"] == "emsync:latest" or re.search(r":v?\d+\.\d+\.\d+$", service["image"]), name
        assert service["healthcheck"]["test"], name
        assert service["deploy"]["resources"]["limits"]["memory"], name
    mounts = " ".join(services["grafana"]["volumes"])
    assert "../grafana/provisioning" in mounts and "../grafana/dashboards" in mounts
    assert "../prometheus/rules" in " ".join(services["prometheus"]["volumes"])
