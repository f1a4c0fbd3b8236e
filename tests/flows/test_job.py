"""A backfill hands one job value down its stages: each video's bytes read (and hashed) once, and the
probe made at ingest reused; its row written once, under the claimed key."""

from __future__ import annotations

import builtins
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import emsync_models.video.probe as probe_module
from db.models import Artifact, GenerationRun
from db.session import session_scope
from flows.catalog.flows import backfill, ingest_catalog
from flows.catalog.identity import current_job
from flows.settings import get_settings
from flows.storage.persist import make_run_key
from flows.storage.store import artifact_key, sha256_file
from tests.media import make_clip, padded_mp4

pytestmark = pytest.mark.integration
PAD = 500 * 1024 * 1024


class ReadCounter:
    """Counts the bytes Python reads from one file, through every `open` (the hashes, the fetch)."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()
        self.bytes = 0
        self.opens = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_open = io.open

        def counting_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            handle = real_open(file, mode, *args, **kwargs)
            if "r" in mode and "b" in mode and isinstance(file, str | Path) and Path(file).resolve() == self.path:
                self.opens += 1
                return _Counted(handle, self)
            return handle

        monkeypatch.setattr(builtins, "open", counting_open)
        monkeypatch.setattr(io, "open", counting_open)


class _Counted:
    def __init__(self, handle: Any, counter: ReadCounter) -> None:  # noqa: ANN401
        self._handle, self._counter = handle, counter

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._counter.bytes += len(data)
        return data

    def readinto(self, buffer: Any) -> int:  # noqa: ANN401
        n = self._handle.readinto(buffer) or 0
        self._counter.bytes += n
        return n

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401
        return getattr(self._handle, name)


def test_backfill_reads_a_500_mb_video_once_and_probes_it_once(
    prefect_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    video = padded_mp4(make_clip(tmp_path / "clip.mp4", seconds=2.0, colors=("red", "blue")), videos / "big.mp4", PAD)
    size = video.stat().st_size
    assert size > PAD
    monkeypatch.setenv("EMSYNC_ALLOWED_ROOTS", json.dumps([str(videos)]))
    get_settings.cache_clear()
    manifest = tmp_path / "big.csv"
    manifest.write_text(f"uri\n{video}\n")

    probes: list[Path] = []
    real_probe = probe_module.probe_video

    def counting_probe(path: Path, *args: Any) -> Any:  # noqa: ANN401
        probes.append(path)
        return real_probe(path, *args)

    # Every caller resolves probe_video through this module or imported it from there.
    import flows.job
    import flows.soundtrack

    for module in (probe_module, flows.job):
        monkeypatch.setattr(module, "probe_video", counting_probe)
    monkeypatch.setattr(flows.soundtrack, "probe_video", counting_probe, raising=False)

    assert ingest_catalog(str(manifest))["registered"] == 1
    assert len(probes) == 1, "ingest probes the video"

    reads = ReadCounter(video)
    reads.install(monkeypatch)
    result = backfill("big")
    monkeypatch.undo()
    assert result["succeeded"] == 1, result
    assert reads.bytes == size, f"read {reads.bytes / size:.2f}x the video's {size} bytes in {reads.opens} opens"
    assert len(probes) == 1, "the backfill used the probe made at ingest"

    settings = get_settings()
    job = current_job(settings)
    digest, _ = sha256_file(video)
    with session_scope(settings.store.resolved_database_url) as session:
        runs = session.execute(select(GenerationRun)).scalars().all()
        assert len(runs) == 1
        (run,) = runs
        assert run.status == "succeeded" and run.run_key == make_run_key(digest, job.model_versions, job.params)
        assert run.flow_run_id == result["flow_link"] and run.catalog_id is not None
        keys = {a.kind: a.object_key for a in session.execute(select(Artifact)).scalars()}
    report_ext = {"midi": "mid", "audio": "wav", "video": "mp4", "report": "json", "plot": "png"}
    assert keys == {kind: artifact_key(digest, job.model_versions, job.params, kind, ext)
                    for kind, ext in report_ext.items()}
