"""The production manifests: schema-valid, pinned, probed, resourced, least-privilege, applied in order.

No Kubernetes cluster exists on these machines: the kustomization is rendered offline (`kubectl kustomize`)
and its output validated against the API's own schemas (kubernetes-validate), the compose file against the
Compose Specification's schema (check-jsonschema's vendored copy) and by docker-compose itself, and the
rules below (pins, registries, ordering, Secret keys, healthchecks, limits, credentials) are checked on the
parsed files. The images themselves are built and run by the container smoke test (`make smoke`).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "infra" / "k8s"
K8S = [K8S_DIR / name for name in yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())["resources"]]
SECRETS_TEMPLATE = K8S_DIR / "secrets.template.yaml"
COMPOSE = ROOT / "infra" / "compose" / "docker-compose.yml"
COMPOSE_FILES = sorted((ROOT / "infra" / "compose").glob("*.yml"))
COMPOSE_ENV_EXAMPLE = ROOT / "infra" / "compose" / ".env.example"
DOCKERFILE = ROOT / "infra" / "images" / "worker.Dockerfile"
TRITON_DOCKERFILE = ROOT / "infra" / "images" / "triton.Dockerfile"
KUBECTL = shutil.which("kubectl")
K8S_VERSION = "1.31.0"
# A version tag names at least major.minor (15.10, 3.9.1-python3.11, 24.08-py3, RELEASE.2025-...), never
# `latest` or a bare major that moves under us (postgres:15, prefect:3-python3.11).
PINNED_TAG = re.compile(r"^(v?\d+\.\d+[\w.-]*|RELEASE\.\d{4}-\d\d-\d\dT[\w-]+)$")
ONE_SHOT = {"migrate", "deploy", "minio-setup"}


def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in K8S for d in yaml.safe_load_all(p.read_text()) if d]


@functools.cache
def _kustomize() -> str:
    done = subprocess.run([KUBECTL, "kustomize", str(K8S_DIR)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rendered() -> list[dict[str, Any]]:
    """`kubectl kustomize infra/k8s`: what `kubectl apply -k` sends, in its order."""
    if KUBECTL is None:
        pytest.skip("kubectl is not installed (it renders the kustomization offline)")
    return [d for d in yaml.safe_load_all(_kustomize()) if d]


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def pod_specs(docs: list[dict[str, Any]] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for doc in docs if docs is not None else [d for _, d in k8s_docs()]:
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
    images = [c["image"] for _, _, spec in pod_specs(rendered()) for c in spec["containers"]]
    images += [s["image"] for f in COMPOSE_FILES for s in yaml.safe_load(f.read_text())["services"].values()
               if "image" in s]
    names = {i.rsplit("/", 1)[-1] for i in images}
    ours = {n for n in names if n.startswith("emsync")}
    assert ours == {f"emsync-worker:{version}", f"emsync-triton:{version}"}
    prefect = {n for n in names if n.startswith("prefect:")}
    assert prefect == {f"prefect:{locked_version('prefect')}-python3.11"}


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


def _dockerfile_text(path: Path) -> str:
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    return " ".join(ln.rstrip("\\") for ln in lines if ln and not ln.startswith("#"))


@pytest.mark.parametrize("path, locks", [(DOCKERFILE, ["requirements.lock", "requirements-nodeps.lock"]),
                                          (TRITON_DOCKERFILE, ["requirements-triton.lock"])], ids=["worker", "triton"])
def test_the_dockerfiles_install_the_locks_run_as_non_root_and_have_a_healthcheck(path: Path, locks: list[str]):
    text = _dockerfile_text(path)
    # The base is a build argument (a registry's image in production, the local debootstrap base here),
    # pinned by default.
    assert re.search(r"\bFROM \$\{BASE_IMAGE\}", text)
    base = re.search(r"\bARG BASE_IMAGE=(\S+)", text).group(1)
    assert PINNED_TAG.match(image_tag(base)), base
    for lock in locks:
        assert re.search(rf"--require-hashes --no-deps \S* ?-r {re.escape(lock)}", text), lock
    user = re.findall(r"\bUSER (\S+)", text)
    assert user and user[-1] not in {"root", "0"}
    assert re.search(r"\bHEALTHCHECK\b.*\bCMD\b", text)
    # The project is installed into the image's Python (model.py imports it), not used from a path.
    assert re.search(r"pip install [^&]*--no-deps --no-build-isolation \.", text)
    workers = [s for s in compose()["services"].values() if "worker" in json.dumps(s.get("entrypoint", ""))]
    assert workers and all("--with-healthcheck" in s["entrypoint"] for s in workers)


def test_the_triton_image_carries_its_model_repository():
    text = _dockerfile_text(TRITON_DOCKERFILE)
    assert "cp -r serving/model_repository /models" in text and "EMSYNC_TRITON_REPOSITORY=/models" in text
    for model_py in (ROOT / "serving" / "model_repository").glob("*/*/model.py"):
        source = model_py.read_text()
        # Nothing above the repository: no parents[N] beyond the model's own folder, no sys.path edits.
        assert not re.search(r"parents\[[2-9]\]", source) and "sys.path" not in source, model_py


def test_prefect_yaml_runs_on_any_worker_and_needs_its_manifest():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    # No pull step into a fixed folder (/app): module-path entrypoints import the installed package.
    assert spec["pull"] == []
    import importlib

    for d in spec["deployments"]:
        module, func = d["entrypoint"].rsplit(".", 1)
        assert ":" not in d["entrypoint"] and "/" not in d["entrypoint"], d["entrypoint"]
        assert hasattr(getattr(importlib.import_module(module), func), "fn"), d["entrypoint"]
    nightly = next(d for d in spec["deployments"] if d.get("schedules"))
    steps = [s["prefect.deployments.steps.run_shell_script"] for s in nightly["build"]]
    assert [s["script"] for s in steps] == ["python -m flows.catalog.deploy check-manifest"]
    assert nightly["parameters"]["manifest"] == "{{ " + steps[0]["id"] + ".stdout }}"


def test_served_deployments_do_not_share_names_with_prefect_yaml(monkeypatch: pytest.MonkeyPatch):
    from flows.catalog import deploy
    from flows.settings import get_settings

    monkeypatch.setenv("EMSYNC_SCORE_MANIFEST", "/data/catalog.csv")
    get_settings.cache_clear()
    try:
        served = {d.name for d in deploy.deployments()}
    finally:
        get_settings.cache_clear()
    yaml_names = {d["name"] for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    assert served and yaml_names and not served & yaml_names


@pytest.mark.parametrize("value", [None, "", "  ", "catalog", "catalog.txt"])
def test_a_deployment_without_its_manifest_is_refused_naming_the_variable(value: str | None):
    env = {k: v for k, v in os.environ.items() if k != "EMSYNC_SCORE_MANIFEST"}
    if value is not None:
        env["EMSYNC_SCORE_MANIFEST"] = value
    done = subprocess.run([sys.executable, "-m", "flows.catalog.deploy", "check-manifest"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: EMSYNC_SCORE_MANIFEST: ") and len(done.stderr.splitlines()) == 1
    ok = subprocess.run([sys.executable, "-m", "flows.catalog.deploy", "check-manifest"], cwd=ROOT,
                        env={**env, "EMSYNC_SCORE_MANIFEST": "s3://emsync/inputs/catalog.csv"},
                        capture_output=True, text=True, timeout=120)
    assert (ok.returncode, ok.stdout) == (0, "s3://emsync/inputs/catalog.csv\n")


# --- Kubernetes: the kustomization, its order, its Secrets ---------------------------------------------------

def order_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Objects applied before what they need: the Namespace must come first."""
    out = []
    seen_namespaces: set[str] = set()
    for i, doc in enumerate(docs):
        if doc["kind"] == "Namespace":
            seen_namespaces.add(doc["metadata"]["name"])
            continue
        ns = doc["metadata"].get("namespace")
        if ns and ns not in seen_namespaces:
            out.append(f"#{i} {doc['kind']}/{doc['metadata']['name']} comes before its Namespace {ns}")
    return out


# What the programs that take a whole Secret as environment (envFrom) read from it: EMSYNC's settings
# (flows/settings.py) and MinIO's root user.
ENV_FROM_READS = {
    "emsync-secrets": {"EMSYNC_DATABASE_URL", "EMSYNC_S3_ACCESS_KEY", "EMSYNC_S3_SECRET_KEY"},
    "minio-root-secrets": {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"},
}


def secret_problems(docs: list[dict[str, Any]], template: list[dict[str, Any]]) -> list[str]:
    """Every Secret (and key) a pod reads, missing from the template."""
    keys = {d["metadata"]["name"]: set(d.get("stringData", {})) | set(d.get("data", {})) for d in template}
    out = []
    for kind, name, spec in pod_specs(docs):
        for c in spec.get("initContainers", []) + spec["containers"]:
            for ref in c.get("envFrom", []):
                secret = ref.get("secretRef", {}).get("name")
                if secret and secret not in keys:
                    out.append(f"{kind}/{name} reads Secret {secret}, which the template lacks")
                elif secret:
                    assert secret in ENV_FROM_READS, f"{kind}/{name}: say what it reads from {secret}"
                    out += [f"{kind}/{name} reads {secret}/{key}, which the template lacks"
                            for key in sorted(ENV_FROM_READS[secret] - keys[secret])]
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["key"] not in keys.get(ref["name"], set()):
                    out.append(f"{kind}/{name} reads {ref['name']}/{ref['key']}, which the template lacks")
    return out


def test_the_kustomization_renders_namespace_first_with_registries():
    docs = rendered()
    assert docs[0]["kind"] == "Namespace" and order_problems(docs) == []
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    images = [c["image"] for _, _, spec in pod_specs(docs) for c in spec["containers"]]
    # A registry host (a dot or a port in the first path element), never Docker Hub by default.
    assert images and [i for i in images if "/" not in i or not re.search(r"[.:]", i.split("/", 1)[0])] == []


def test_a_bad_order_is_caught():
    docs = rendered()
    assert order_problems(docs[1:] + docs[:1])


def test_every_secret_key_a_pod_reads_is_in_the_template():
    template = [d for d in yaml.safe_load_all(SECRETS_TEMPLATE.read_text()) if d]
    assert {d["kind"] for d in template} == {"Secret"}
    docs = rendered()
    assert secret_problems(docs, template) == []
    assert all(v == "CHANGE-ME" or "CHANGE-ME" in v for d in template for v in d["stringData"].values())
    # The check has teeth: drop any one key and it is named.
    for i, secret in enumerate(template):
        for key in secret["stringData"]:
            broken = json.loads(json.dumps(template))
            del broken[i]["stringData"][key]
            assert any(f"{secret['metadata']['name']}/{key}" in p for p in secret_problems(docs, broken)), key


def test_triton_carries_its_models_and_the_prefect_database_is_created():
    docs = rendered()
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    triton = next(spec for kind, name, spec in pod_specs(docs) if name == "triton")
    assert [v for v in triton.get("volumes", []) if "emptyDir" not in v] == []
    assert triton["containers"][0]["image"].rsplit("/", 1)[-1].startswith("emsync-triton:")
    job = next(spec for kind, name, spec in pod_specs(docs) if kind == "Job" and name == "prefect-db")
    script = " ".join(job["containers"][0]["command"])
    assert "CREATE ROLE prefect" in script and "CREATE DATABASE prefect OWNER prefect" in script
    server = next(spec for kind, name, spec in pod_specs(docs) if name == "prefect-server")["containers"][0]
    env = {e["name"]: e.get("value") for e in server["env"]}
    assert env["PREFECT_SERVER_DATABASE_NAME"] == "prefect" and env["PREFECT_SERVER_DATABASE_USER"] == "prefect"


def test_the_migrate_job_is_named_after_its_release():
    docs = rendered()
    jobs = [(name, spec) for kind, name, spec in pod_specs(docs) if kind == "Job" and name.startswith("emsync-migrate")]
    assert len(jobs) == 1
    name, spec = jobs[0]
    tag = spec["containers"][0]["image"].rsplit(":", 1)[1]
    assert name == f"emsync-migrate-{tag}"


def test_liveness_probes_are_not_metrics_scrapes():
    for kind, name, spec in pod_specs(rendered()):
        for c in spec["containers"]:
            for probe in ("livenessProbe", "readinessProbe"):
                path = c.get(probe, {}).get("httpGet", {}).get("path", "")
                assert path != "/metrics", f"{kind}/{name} {probe} scrapes /metrics"


# --- compose, checked by docker-compose itself -----------------------------------------------------------------

def test_docker_compose_accepts_the_files():
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    env = {**os.environ, **dict(ln.split("=", 1) for ln in COMPOSE_ENV_EXAMPLE.read_text().splitlines()
                                 if ln and not ln.startswith("#"))}
    files = [a for f in (COMPOSE, ROOT / "infra" / "compose" / "monitoring.yml") for a in ("-f", str(f))]
    done = subprocess.run([tool, *files, "config", "-q"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    config = subprocess.run([tool, *files, "config"], env=env, capture_output=True, text=True, timeout=120)
    services = yaml.safe_load(config.stdout)["services"]
    assert services["triton"]["image"].endswith("/emsync-triton:0.1.0") and not services["triton"].get("volumes")
    # Without the manifest the file refuses to load, naming the variable.
    env.pop("EMSYNC_SCORE_MANIFEST")
    refused = subprocess.run([tool, *files, "config", "-q"], env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "EMSYNC_SCORE_MANIFEST" in refused.stderr
