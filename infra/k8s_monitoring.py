"""Render infra/k8s/monitoring.yaml from the monitoring sources, so the manifest's ConfigMaps never
drift from infra/prometheus/, infra/alertmanager/ and infra/grafana/:

    .venv/bin/python infra/k8s_monitoring.py > infra/k8s/monitoring.yaml

(tests/infra/test_k8s_monitoring.py fails when the committed manifest is stale or invalid).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

INFRA = Path(__file__).resolve().parent
NAMESPACE = "emsync"
IMAGES = {
    "prometheus": "prom/prometheus:v2.54.1",
    "alertmanager": "prom/alertmanager:v0.27.0",
    "grafana": "grafana/grafana:11.2.2",
}


def _meta(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": {"app": name, "part-of": "emsync-monitoring"}}


def _config_map(name: str, files: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(name), "data": files}


def _service(name: str, port: int, headless: bool = False, selector: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"app": selector or name}, "ports": [{"name": "http", "port": port}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name), "spec": spec}


def _deployment(
    name: str,
    image: str,
    port: int,
    args: list[str],
    mounts: list[tuple[str, str, str]],
    probe_path: str,
    resources: dict[str, Any],
    env: list[dict[str, Any]] | None = None,
    env_from: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """mounts: (volume name, mount path, configMap name or "" for an emptyDir)."""
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "ports": [{"containerPort": port, "name": "http"}],
        "readinessProbe": {"httpGet": {"path": probe_path, "port": port}, "periodSeconds": 10},
        "livenessProbe": {
            "httpGet": {"path": probe_path, "port": port}, "initialDelaySeconds": 30, "periodSeconds": 30
        },
        "resources": resources,
        "volumeMounts": [{"name": v, "mountPath": p} for v, p, _ in mounts],
    }
    if args:
        container["args"] = args
    if env:
        container["env"] = env
    if env_from:
        container["envFrom"] = env_from
    volumes = [{"name": v, "configMap": {"name": cm}} if cm else {"name": v, "emptyDir": {}} for v, _, cm in mounts]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container], "volumes": volumes},
            },
        },
    }


def prometheus_config() -> str:
    """infra/prometheus/prometheus.yml, with Triton scraped per replica through a headless Service."""
    config = yaml.safe_load((INFRA / "prometheus" / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        if job["job_name"] == "triton":
            job.pop("static_configs")
            job["dns_sd_configs"] = [{"names": [f"triton-metrics.{NAMESPACE}.svc"], "type": "A", "port": 8002}]
    return yaml.safe_dump(config, sort_keys=False)


def documents() -> list[dict[str, Any]]:
    rules = {p.name: p.read_text() for p in sorted((INFRA / "prometheus" / "rules").glob("*.yml"))}
    dashboards = {p.name: p.read_text() for p in sorted((INFRA / "grafana" / "dashboards").glob("*.json"))}
    small = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "250m", "memory": "256Mi"}}
    return [
        _config_map("prometheus-config", {"prometheus.yml": prometheus_config()}),
        _config_map("prometheus-rules", rules),
        _config_map(
            "alertmanager-config", {"alertmanager.yml": (INFRA / "alertmanager" / "alertmanager.yml").read_text()}
        ),
        _config_map(
            "grafana-datasources",
            {"prometheus.yml": (INFRA / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()},
        ),
        _config_map(
            "grafana-dashboard-provider",
            {"emsync.yml": (INFRA / "grafana" / "provisioning" / "dashboards" / "emsync.yml").read_text()},
        ),
        _config_map("grafana-dashboards", dashboards),
        _deployment(
            "emsync-metrics",
            "emsync-worker:0.1.0",  # the registry is set once, in infra/k8s/kustomization.yaml
            9464,
            ["metrics", "serve", "--host", "0.0.0.0", "--port", "9464"],
            [],
            "/healthz",  # answers without a database scrape (/metrics is Prometheus's)
            {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
            env_from=[{"configMapRef": {"name": "emsync-config"}}, {"secretRef": {"name": "emsync-secrets"}}],
        ),
        _service("emsync-metrics", 9464),
        _service("triton-metrics", 8002, headless=True, selector="triton"),
        _deployment(
            "prometheus",
            IMAGES["prometheus"],
            9090,
            [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=30d",
            ],
            [
                ("config", "/etc/prometheus", "prometheus-config"),
                ("rules", "/etc/prometheus/rules", "prometheus-rules"),
                ("data", "/prometheus", ""),
            ],
            "/-/ready",
            {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        ),
        _service("prometheus", 9090),
        _deployment(
            "alertmanager",
            IMAGES["alertmanager"],
            9093,
            ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
            [("config", "/etc/alertmanager", "alertmanager-config"), ("data", "/alertmanager", "")],
            "/-/ready",
            small,
        ),
        _service("alertmanager", 9093),
        _deployment(
            "grafana",
            IMAGES["grafana"],
            3000,
            [],
            [
                ("datasources", "/etc/grafana/provisioning/datasources", "grafana-datasources"),
                ("dashboard-provider", "/etc/grafana/provisioning/dashboards", "grafana-dashboard-provider"),
                ("dashboards", "/var/lib/grafana/dashboards", "grafana-dashboards"),
                ("data", "/var/lib/grafana", ""),
            ],
            "/api/health",
            {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
            env=[
                {"name": "GF_USERS_ALLOW_SIGN_UP", "value": "false"},
                {"name": "GF_ANALYTICS_REPORTING_ENABLED", "value": "false"},
                {
                    "name": "GF_SECURITY_ADMIN_PASSWORD",
                    "valueFrom": {"secretKeyRef": {"name": "emsync-secrets", "key": "GRAFANA_ADMIN_PASSWORD"}},
                },
            ],
        ),
        _service("grafana", 3000),
    ]


HEADER = """\
# Monitoring for EMSYNC on Kubernetes: the exporter, Prometheus (EMSYNC's alert rules), Alertmanager and
# Grafana (dashboards provisioned). GENERATED by infra/k8s_monitoring.py from infra/prometheus/,
# infra/alertmanager/ and infra/grafana/: edit those, then regenerate. Needs GRAFANA_ADMIN_PASSWORD in the
# emsync-secrets Secret. kubectl apply -f infra/k8s/monitoring.yaml
"""


def render() -> str:
    return HEADER + yaml.safe_dump_all(documents(), sort_keys=False, width=120)


if __name__ == "__main__":
    sys.stdout.write(render())
