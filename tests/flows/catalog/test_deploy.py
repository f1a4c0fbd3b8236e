"""prefect.yaml's scheduled scoring, deployed as an operator would, fires on a plain local worker
(`infra/prefect.sh worker`, no container, no /app) and completes; without its manifest it is refused."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = REPO / ".venv" / "bin"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def deploy_env(tmp_path: Path, manifest: str | None, allowed: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMSYNC_")}
    env.update({"PATH": f"{BIN}:{env.get('PATH', '')}", "EMSYNC_DATA_DIR": str(tmp_path / "data"),
                "EMSYNC_ALLOWED_ROOTS": json.dumps([str(allowed)]), "EMSYNC_PREFECT_DIR": str(tmp_path / "prefect"),
                "EMSYNC_THREADS": "1"})
    if manifest is not None:
        env["EMSYNC_SCORE_MANIFEST"] = manifest
    return env


def every_minute_copy(folder: Path, pool: str) -> Path:
    """prefect.yaml with only the nightly scoring, its cron set to every minute, on a pool of this test's own."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    nightly = next(d for d in spec["deployments"] if d["name"] == "score-catalog-nightly")
    nightly["schedules"] = [{"cron": "* * * * *", "timezone": "UTC"}]
    nightly["work_pool"] = {"name": pool, "work_queue_name": "catalog"}
    spec["deployments"] = [nightly]
    path = folder / "prefect.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def prefect_deploy(folder: Path, env: dict[str, str], pool: str) -> subprocess.CompletedProcess[str]:
    subprocess.run([str(BIN / "prefect"), "work-pool", "create", pool, "--type", "process"], env=env, check=True,
                   capture_output=True, timeout=120)
    every_minute_copy(folder, pool)
    # From a folder that is not the checkout: the module-path entrypoints need only the installed package.
    return subprocess.run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_deploy_without_manifest_is_refused_naming_the_variable(prefect_api: str, tmp_path: Path) -> None:
    folder = tmp_path / "deploy"
    folder.mkdir()
    env = {**deploy_env(tmp_path, None, tmp_path), "PREFECT_API_URL": prefect_api}
    done = prefect_deploy(folder, env, f"refused-{uuid.uuid4().hex[:8]}")
    assert done.returncode != 0
    assert "EMSYNC_SCORE_MANIFEST: unset" in done.stdout + done.stderr


def test_scheduled_scoring_fires_on_a_local_worker_and_completes(
    prefect_api: str, tiny_clips: list[Path], tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    pool = f"schedule-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "deploy"
    folder.mkdir()
    manifest = tmp_path / "nightly.csv"
    manifest.write_text(f"uri\n{tiny_clips[0]}\n")
    env = deploy_env(tmp_path, str(manifest), tiny_clips[0].parent)
    env["PREFECT_API_URL"] = prefect_api
    deployed = prefect_deploy(folder, env, pool)
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-2000:]

    worker_cwd = tmp_path / "worker"
    worker_cwd.mkdir()
    subprocess.run(["bash", str(REPO / "infra" / "prefect.sh"), "worker", pool], cwd=worker_cwd, env=env, check=True,
                   capture_output=True, timeout=60)
    try:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name("score-catalog/score-catalog-nightly")
            assert deployment.work_pool_name == pool and deployment.pull_steps == []
            assert deployment.parameters == {"manifest": str(manifest)}
            # The next minute's run, then the run itself (minutes on a busy two-core machine).
            state, started, paused, deadline = None, None, False, time.monotonic() + 600
            while time.monotonic() < deadline:
                runs = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])))
                picked = [r for r in runs if r.state is not None and not r.state.is_scheduled()]
                if picked and not paused:
                    # One fired run is the proof; pausing drops the runs scheduled for the minutes after.
                    client.pause_deployment(deployment.id)
                    paused, started = True, picked[0].id
                done = [r.state for r in runs if r.id == started and r.state is not None and r.state.is_final()]
                if done:
                    state = done[0]
                    break
                time.sleep(3)
            client.delete_deployment(deployment.id)
    finally:
        subprocess.run(["bash", str(REPO / "infra" / "prefect.sh"), "stop"], env=env, capture_output=True, timeout=60)
    log = "".join(p.read_text()[-3000:] for p in (tmp_path / "prefect").glob("worker-*.log"))
    assert state is not None, f"no scheduled run finished within 10 minutes; worker log:\n{log}"
    assert state.is_completed(), f"{state.type}: {state.message}\n{log}"
    status = subprocess.run([str(BIN / "emsync"), "status", "--json"], env=env, capture_output=True, text=True,
                            timeout=120, check=True)
    catalogs = {c["name"]: c for c in json.loads(status.stdout)["catalogs"]}
    assert catalogs["nightly"]["scored"] == 1, catalogs
