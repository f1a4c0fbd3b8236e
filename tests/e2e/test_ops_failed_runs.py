"""A backfill in which some videos fail: the Prefect run ends Failed after finishing the rest, each failed
video is logged at WARNING, the run carries its catalog's tag, and the CLI's exit codes say what happened."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
    LogFilterLevel,
)
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from db.models import GenerationRun
from db.session import session_scope
from emsync_models.music import registry
from flows.catalog.flows import backfill
from flows.cli import catalog as cli_catalog
from flows.cli.app import app
from flows.settings import get_settings
from tests.clips import make_clips

pytestmark = [pytest.mark.integration, pytest.mark.slow]
runner = CliRunner()


def _setup(tmp_path: Path, clip_dir: Path, monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]) -> list[Path]:
    videos = tmp_path / "videos"
    videos.mkdir()
    paths = [Path(shutil.copyfile(c, videos / n)) for c, n in zip(make_clips(clip_dir, len(names)), names, strict=True)]
    pinned = tmp_path / "music.pt"  # a training run elsewhere must not change the job's identity mid-test
    models = get_settings().models
    shutil.copyfile(models.music_checkpoint or registry.spec(models.music_model).checkpoint, pinned)
    monkeypatch.setenv("EMSYNC_MUSIC_CHECKPOINT", str(pinned))
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(videos), str(tmp_path)]))
    monkeypatch.setenv("EMSYNC_CONCURRENCY", "1")
    monkeypatch.setattr(cli_catalog, "out", Console(width=250))
    get_settings.cache_clear()
    return paths


def _latest_run(
    flow_name: str, expect: str | tuple[str, ...] = "", count: int = 1, wait_s: float = 30.0
) -> tuple[object, list[str]]:
    """The newest flow run of `flow_name` on the Prefect server, and its WARNING-or-worse log lines.

    Prefect ships logs to its API in batches from a background worker, so lines starting with `expect`
    may arrive a little after the flow returned: wait for them (bounded)."""
    deadline = time.monotonic() + wait_s
    while True:
        run, lines = _read_run(flow_name)
        if not expect or sum(line.startswith(expect) for line in lines) >= count or time.monotonic() > deadline:
            return run, lines
        time.sleep(0.5)


def _read_run(flow_name: str) -> tuple[object, list[str]]:
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])), sort="START_TIME_DESC", limit=1
        )
        logs = client.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]), level=LogFilterLevel(ge_=30))
        )
        run = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))[0]
    return run, [log.message for log in logs]


def test_backfill_with_failures_fails_in_prefect_and_exits_3(
    prefect_api: str, clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad, worse = _setup(tmp_path, clip_dir, monkeypatch, ("good.mp4", "bad.mp4", "worse.mp4"))
    manifest = tmp_path / "mixed.csv"
    manifest.write_text("uri\n" + "".join(f"{p}\n" for p in (good, bad, worse)))
    ingested = runner.invoke(app, ["catalog", "ingest", str(manifest)])
    assert ingested.exit_code == 0, ingested.output
    bad.write_bytes(b"")
    worse.write_bytes(b"not a video any more")

    result = runner.invoke(app, ["catalog", "backfill", "mixed", "--json"])
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert (summary["processed"], summary["succeeded"], summary["failed"]) == (3, 1, 2)
    url = get_settings().store.resolved_database_url
    with session_scope(url) as session:
        runs = dict(session.execute(select(GenerationRun.video_id, GenerationRun.status)).all())
    assert sorted(runs.values()) == ["failed", "failed", "succeeded"], "the good video was finished regardless"
    # Failures name a video as the operator knows it (external id, else file name), not by database id.
    failed_names = sorted(p.name for p in (bad, worse))
    assert sorted(f["where"] for f in summary["failures"]) == failed_names
    assert sorted(f["subject"] for f in summary["failures"]) == sorted(str(p) for p in (bad, worse))
    # Plain progress lines (no live bar off a terminal), throttled to one a second, the end always shown.
    assert "backfill mixed: 3 of 3 (2 failed)" in result.stderr and "\r" not in result.stderr, result.stderr

    run, warnings = _latest_run("backfill", expect=tuple(f"{n} (" for n in failed_names), count=len(failed_names))
    assert run.state.is_failed() and run.state.message == "backfill mixed: 2 of 3 videos failed"
    assert "catalog:mixed" in run.tags
    for name in failed_names:
        line = next(w for w in warnings if w.startswith(f"{name} ("))
        assert "content changed since it was registered" in line, line

    # Nothing left to do: the re-run completes, exits 0, and the catalog's keyed summary artifact keeps
    # the last run's failures instead of an empty "processed 0".
    rerun = runner.invoke(app, ["catalog", "backfill", "mixed"])
    assert rerun.exit_code == 0, rerun.output
    with get_client(sync_client=True) as client:
        artifact = client.read_latest_artifacts(limit=50)
    latest = {a.key: a for a in artifact if a.key}
    assert "| failed | 2 |" in latest["backfill-mixed"].data
    assert "models |" in latest["backfill-mixed"].data


def test_threshold_setting_and_the_other_exit_codes(
    prefect_api: str, clip_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (only,) = _setup(tmp_path, clip_dir, monkeypatch, ("only.mp4",))
    manifest = tmp_path / "one.csv"
    manifest.write_text(f"uri\n{only}\nhttps://example.com/x.mp4\n")
    ingested = runner.invoke(app, ["catalog", "ingest", str(manifest), "--json"])
    assert ingested.exit_code == 3, ingested.output  # a rejected row
    assert json.loads(ingested.stdout)["failures"][0]["where"] == "row 3"
    only.write_bytes(b"")

    # A threshold of 100%: a run is never over it, so Prefect says Completed; the failure is still named
    # and the CLI still exits 3.
    monkeypatch.setenv("EMSYNC_FAILURE_THRESHOLD", "1.0")
    get_settings.cache_clear()
    state = backfill("one", return_state=True)
    assert state.is_completed() and state.result()["failed"] == 1

    assert runner.invoke(app, ["catalog", "backfill", "no-such-catalog"]).exit_code == 2  # bad input
    monkeypatch.setenv("EMSYNC_DATABASE_URL", "postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    get_settings.cache_clear()
    down = runner.invoke(app, ["catalog", "backfill", "one"])
    assert down.exit_code == 1, down.output  # the database is unreachable: infrastructure
    assert "Traceback" not in down.output
