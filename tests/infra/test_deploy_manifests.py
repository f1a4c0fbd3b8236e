"""The production manifests: schema-valid, pinned, probed, resourced, least-privilege.

No Docker engine or Kubernetes cluster exists on these machines, so the images are not built or run here:
the Kubernetes manifests are validated against the API's own schemas (kubernetes-validate, offline), the
compose file against the Compose Specification's schema (check-jsonschema's vendored copy), and the rules
below (pins, healthchecks, limits, credentials) are checked on the parsed files.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = sorted((ROOT / "infra" / "k8s").glob("*.yaml"))
COMPOSE = ROOT / "infra" / "compose" / "docker-compose.yml"
COMPOSE_FILES = sorted((ROOT / "infra" / "compose").glob("*.yml"))
DOCKERFILE = ROOT / "infra" / "compose" / "Dockerfile"
K8S_VERSION = "1.31.0"
# A version tag names at least major.minor (15.10, 3.9.1-python3.11, 24.08-py3, RELEASE.2025-...), never
# `latest` or a bare major that moves under us (postgres:15, prefect:3-python3.11).
PINNED_TAG = re.compile(r"^(v?\d+\.\d+[\w.-]*|RELEASE\.\d{4}-\d\d-\d\dT[\w-]+)$")
ONE_SHOT = {"migrate", "deploy", "minio-setup"}


def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in K8S for d in yaml.safe_load_all(p.read_text()) if d]


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def pod_specs() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for _, doc in k8s_docs():
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            out.append((doc["kind"], doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
    return out


def image_tag(image: str) -> str:
    name = image.rsplit("/", 1)[-1]
    return name.split(":", 1)[1] if ":" in name else ""


def locked_version(package: str) -> str:
    found = re.search(rf"^{package}==([^ \\]+)", (ROOT / "requirements.lock").read_text(), flags=re.M)
    assert found, package
    return found.group(1)


@pytest.mark.parametrize("path", K8S, ids=lambda p: p.name)
def test_kubernetes_manifests_validate_against_the_api_schema(path: Path):
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_kubernetes_validator_rejects_a_misspelled_field():
    doc = next(d for _, d in k8s_docs() if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(doc))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def _check_compose(path: Path) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(tool), "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_compose_file_validates_against_the_compose_spec(tmp_path: Path):
    ok = _check_compose(COMPOSE)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = compose()
    broken["services"]["worker"]["depends_on"]["migrate"]["condition"] = "service_finished"
    bad = tmp_path / "compose.yml"
    bad.write_text(yaml.safe_dump(broken))
    assert _check_compose(bad).returncode != 0


def test_every_image_is_pinned_to_a_version():
    images = [c["image"] for _, _, spec in pod_specs() for c in spec["containers"]]
    images += [s["image"] for f in COMPOSE_FILES for s in yaml.safe_load(f.read_text())["services"].values()
               if "image" in s]
    assert images
    loose = [i for i in images if not PINNED_TAG.match(image_tag(i))]
    assert loose == []


def test_our_images_carry_the_package_and_prefect_versions():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = [c["image"] for _, _, spec in pod_specs() for c in spec["containers"]]
    images += [s["image"] for f in COMPOSE_FILES for s in yaml.safe_load(f.read_text())["services"].values()
               if "image" in s]
    ours = {i for i in images if i.startswith("emsync:")}
    assert ours == {f"emsync:{version}"}
    prefect = {i for i in images if i.startswith("prefecthq/prefect:")}
    assert prefect == {f"prefecthq/prefect:{locked_version('prefect')}-python3.11"}


def test_every_kubernetes_container_has_requests_limits_and_probes():
    for kind, name, spec in pod_specs():
        for c in spec["containers"]:
            res = c.get("resources", {})
            assert res.get("requests") and res.get("limits"), f"{kind}/{name}: resources"
            assert {"cpu", "memory"} <= set(res["limits"]), f"{kind}/{name}: limits"
            if kind != "Job":
                assert "readinessProbe" in c and "livenessProbe" in c, f"{kind}/{name}: probes"


def test_every_compose_service_is_healthchecked_limited_and_waited_for():
    services = compose()["services"]
    for name, svc in services.items():
        assert svc.get("deploy", {}).get("resources", {}).get("limits"), f"{name}: resource limits"
        if name not in ONE_SHOT:
            assert "healthcheck" in svc, f"{name}: healthcheck"
        for dep, cond in (svc.get("depends_on") or {}).items():
            want = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert isinstance(svc["depends_on"], dict) and cond == {"condition": want}, f"{name} -> {dep}"


def test_triton_exposes_its_metrics_port():
    svc = next(d for _, d in k8s_docs() if d["kind"] == "Service" and d["metadata"]["name"] == "triton")
    assert 8002 in {p["port"] for p in svc["spec"]["ports"]}


def test_the_application_uses_its_own_minio_user_not_root():
    env = compose()["x-emsync-env"]
    assert "MINIO_ROOT" not in env["EMSYNC_S3_ACCESS_KEY"] + env["EMSYNC_S3_SECRET_KEY"]
    for kind, name, spec in pod_specs():
        for c in spec["containers"]:
            refs = json.dumps(c.get("envFrom", [])) + json.dumps(c.get("env", []))
            if name in {"minio", "minio-setup"}:
                continue
            assert "minio-root-secrets" not in refs, f"{kind}/{name} sees MinIO's root credentials"
    minio = next(spec for kind, name, spec in pod_specs() if name == "minio")
    assert "emsync-secrets" not in json.dumps(minio), "MinIO's root user must not be the application's keys"
    policy = json.loads((ROOT / "infra" / "minio" / "emsync-app-policy.json").read_text())
    resources = {r for st in policy["Statement"] for r in st["Resource"]}
    assert resources == {"arn:aws:s3:::emsync", "arn:aws:s3:::emsync/*"}
    actions = {a for st in policy["Statement"] for a in st["Action"]}
    assert not any(a.startswith("admin:") or a == "s3:*" for a in actions)


def test_the_lifecycle_rule_aborts_incomplete_multipart_uploads():
    rules = json.loads((ROOT / "infra" / "minio" / "lifecycle.json").read_text())["Rules"]
    enabled = [r for r in rules if r["Status"] == "Enabled"]
    assert [r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] for r in enabled] == [1]
    minio = next(spec for kind, name, spec in pod_specs() if name == "minio")
    env = {e["name"]: e["value"] for e in minio["containers"][0]["env"]}
    assert env["MINIO_API_STALE_UPLOADS_EXPIRY"] == "24h"


def test_the_k8s_setup_configmap_is_the_files_of_infra_minio():
    cm = next(d for _, d in k8s_docs() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "minio-setup")
    for key, text in cm["data"].items():
        assert text == (ROOT / "infra" / "minio" / key).read_text(), key


def test_the_dockerfile_installs_the_locks_runs_as_non_root_and_has_a_healthcheck():
    lines = [ln.strip() for ln in DOCKERFILE.read_text().splitlines()]
    text = " ".join(ln.rstrip("\\") for ln in lines if ln and not ln.startswith("#"))
    base = re.search(r"\bFROM (\S+)", text).group(1)
    assert PINNED_TAG.match(image_tag(base)) and re.match(r"\d+\.\d+\.\d+", image_tag(base)), base
    assert re.search(r"--require-hashes --no-deps .*-r requirements\.lock", text)
    assert re.search(r"--require-hashes --no-deps -r requirements-nodeps\.lock", text)
    user = re.findall(r"\bUSER (\S+)", text)
    assert user and user[-1] not in {"root", "0"}
    assert re.search(r"\bHEALTHCHECK\b.*\bCMD\b", text)
    workers = [s for s in compose()["services"].values() if "worker" in json.dumps(s.get("entrypoint", ""))]
    assert workers and all("--with-healthcheck" in s["entrypoint"] for s in workers)


def test_prefect_yaml_entrypoints_name_real_flows():
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    import importlib

    for d in deployments:
        path, func = d["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert hasattr(getattr(module, func), "fn"), d["entrypoint"]
