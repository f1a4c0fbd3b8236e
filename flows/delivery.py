"""The identical re-run's fast path: answered from the stored objects before any model or heavy library
loads (torch, OpenCV, matplotlib), so that it takes seconds.

Covers the requests whose files are all stored as they are: the video in the container --out names and
the picture. Anything else (an export, whose stems are rendered again; another container, muxed again)
goes on to `soundtrack.run_soundtrack`, which reuses the same stored result with its own imports.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.job import VideoJob, cut_model_version, job_from_file
from flows.job_args import SoundtrackOptions, job_params

if TYPE_CHECKING:
    from flows.settings import Settings

log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """A requested file could not be written (its disk full, its folder gone); none of them was."""


def publish(built: Path, out: Path) -> None:
    """Copy next to the destination under a hidden name, then rename: readers never see half a file."""
    publish_all([(built, out)])


def publish_all(pairs: list[tuple[Path, Path]]) -> None:
    """Every (built, destination) or none: each is copied beside its destination under a hidden name
    first, and only once all copies are whole are they renamed into place. A full disk halfway through
    leaves no picture without its video, which a plain re-run would then refuse to replace."""
    staged: list[tuple[Path, Path]] = []
    try:
        for built, out in pairs:
            partial = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.partial")
            staged.append((partial, out))
            try:
                shutil.copyfile(built, partial)
            except OSError as exc:
                raise DeliveryError(f"could not write {out} ({exc.strerror or exc}); none of "
                                    f"{', '.join(str(o) for _, o in pairs)} was written") from None
        for partial, out in staged:
            partial.replace(out)
    finally:
        for partial, _ in staged:
            partial.unlink(missing_ok=True)


def answer_from_store(source: Path, out: Path, settings: Settings,
                      options: SoundtrackOptions) -> tuple[dict[str, Any] | None, VideoJob]:
    """(report, job): the report of the stored result written to `out` (and --plot), or None when this
    request must go on to the job; the job (probed and hashed once) either way, for the job to take."""
    from emsync_models.errors import InputError, path_errors_as_input

    timings: dict[str, float] = {}
    started = time.perf_counter()
    with path_errors_as_input(source):
        job = job_from_file(source, settings)
    timings["probe"] = round(time.perf_counter() - started, 3)
    if options.original_audio_gain is not None and not job.probe.has_audio:
        raise InputError(job.path, "has no audio track to mix under the music (drop --mix-original)")
    if options.recompute or options.export is not None:
        return None, job
    try:
        return _from_store(job, out, settings, options, timings), job
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - the store or database misbehaving: the job computes and reports it
        log.warning("could not answer from the stored result; computing", exc_info=True)
        return None, job


def _from_store(job: VideoJob, out: Path, settings: Settings, options: SoundtrackOptions,
                timings: dict[str, float]) -> dict[str, Any] | None:
    from flows.reuse import expected_versions, stored_result
    from flows.storage.scratch import scratch_dir
    from flows.storage.store import make_store

    started = time.perf_counter()
    user_fixed = options.valence is not None and options.arousal is not None
    params = job_params(settings, options)
    with scratch_dir(settings, "soundtrack") as tmp:
        work = Path(tmp)
        found = stored_result(settings, job.digest, expected_versions(settings, user_fixed,
                                                                     cut_model_version(settings)), params, work)
        if found is None or Path(found.objects["video"][0]).suffix.lower() != out.suffix.lower():
            return None
        timings["reuse"] = round(time.perf_counter() - started, 3)
        started = time.perf_counter()
        store = make_store(settings)

        def fetch(kind: str) -> Path:
            key, sha = found.objects[kind]
            return store.get_file(key, work / f"stored-{kind}{Path(key).suffix}", expected_sha256=sha)

        video = fetch("video")
        report = dict(found.report)
        report["files"] = {}
        files = [(video, out)]
        if options.plot is not None:
            files.append((fetch("plot"), options.plot))
            report["files"]["plot"] = str(options.plot.resolve())
        report["files"]["video"] = str(out.resolve())
        publish_all(files)
    timings["deliver"] = round(time.perf_counter() - started, 3)
    report["reused"] = {"result_from_run": found.run_key}
    report["timings_s"] = timings
    return report
