"""`emsync catalog ingest|score s3://bucket/manifest.jsonl`: the form the nightly deployment uses, against
the real S3 server and PostgreSQL the test run starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.app import app
from flows.ops.queries import catalog_status
from flows.settings import get_settings
from flows.storage.store import s3_store_from_settings

runner = CliRunner()
pytestmark = pytest.mark.integration


def _upload_manifest(tmp_path: Path, clips: list[Path], name: str) -> str:
    settings = get_settings()
    store = s3_store_from_settings(settings)
    store.ensure_bucket()
    for clip in clips:
        store.put_file(f"inputs/{clip.name}", clip, "video/mp4")
    manifest = tmp_path / name
    rows = [{"uri": clips[0].name, "external_id": "beside-the-manifest"},
            {"uri": f"s3://{settings.store.s3_bucket}/inputs/{clips[1].name}", "external_id": "absolute"}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store.put_file(f"inputs/{name}", manifest, "application/jsonl")
    return f"s3://{settings.store.s3_bucket}/inputs/{name}"


def test_ingest_and_score_read_a_manifest_from_the_bucket(
    production_env: dict[str, str], prefect_api: str, tiny_clips: list[Path], tmp_path: Path
) -> None:
    uri = _upload_manifest(tmp_path, tiny_clips[:2], "nightly.jsonl")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["catalog", "ingest", uri])
    assert result.exit_code == 0, result.output
    assert "no such manifest" not in result.output
    rows = {r.name: r for r in catalog_status(get_settings().store.resolved_database_url)}
    assert rows["nightly"].videos == 2 and rows["nightly"].rejected == 0, (rows, result.output)
    scored = runner.invoke(app, ["catalog", "score", uri])
    assert scored.exit_code == 0, scored.output
    rows = {r.name: r for r in catalog_status(get_settings().store.resolved_database_url)}
    assert rows["nightly"].videos == 2 and rows["nightly"].scored == 2, rows


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("s3://", "s3 URIs must name a bucket and an object"),
        ("s3://bucket-only/", "s3 URIs must name a bucket and an object"),
        ("s3://emsync/inputs/nightly.txt", "not a manifest"),
    ],
)
def test_malformed_s3_manifests_are_one_line(arg: str, message: str) -> None:
    result = runner.invoke(app, ["catalog", "ingest", arg])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_missing_manifest_object_is_one_line(production_env: dict[str, str], prefect_api: str) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    s3_store_from_settings(get_settings()).ensure_bucket()
    uri = f"s3://{get_settings().store.s3_bucket}/inputs/absent.jsonl"
    result = runner.invoke(app, ["catalog", "ingest", uri])
    assert result.exit_code == 2, result.output
    assert uri in result.output and "NoSuchKey" in result.output and "Traceback" not in result.output
