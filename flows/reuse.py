"""What an earlier job stored that this one may reuse instead of recomputing.

- The whole result, when the request is identical: same content hash, model versions and parameters
  (the run key), and the same render and analysis settings, which the key does not hold but the
  stored report does. Nothing is recomputed; the files the user asked for are written from the objects.
- The cuts and the emotion, when only the music parameters differ (seed, temperature, top-p, music
  model, the merge gap, the mix): the analysis depends on the video, the cut settings and the emotion
  model alone.

The code that turns a model's output into notes, audio and pictures is part of the identity too (a digest
of its sources): a stored soundtrack written by older code is not what this version would write, so an
upgrade computes it again once, and a change to the music code leaves the stored cuts and emotion usable.

The model versions are named without loading a model where the backend allows it (the music version is
the checkpoint's SHA-256, the default emotion head's a constant), so an identical re-run answers in
seconds; the job still checks the versions it really ran against the ones its key was made from.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from flows.settings import Settings

log = logging.getLogger(__name__)

RESULT_KINDS = ("midi", "audio", "video", "report", "plot")  # what an identical re-run needs


@dataclass(frozen=True)
class StoredResult:
    run_key: str
    objects: dict[str, tuple[str, str]]  # kind -> (object key, sha256)
    report: dict[str, Any]


@dataclass(frozen=True)
class StoredAnalysis:
    run_key: str
    probe: dict[str, Any]  # as checked against the decode (duration, frames)
    cuts_s: list[float]
    emotion: dict[str, Any] | None  # None: the stored run's emotion cannot stand for this one's


def music_version(settings: Settings) -> str:
    """The version the configured music generator reports, without loading it in-process."""
    models = settings.models
    if models.model_backend == "inprocess":
        from emsync_models.music import registry

        checkpoint = models.music_checkpoint or registry.spec(models.music_model).checkpoint
        if checkpoint.is_file():
            return registry.file_sha256(checkpoint)[:12]
    from flows.inference import inference_client

    return str(inference_client(settings).music_model().version)


def emotion_version(settings: Settings) -> str:
    """The version the emotion analyzer reports, without loading the default head in-process."""
    models = settings.models
    if models.model_backend == "inprocess" and models.emotion_checkpoint is None:
        from emsync_models.emotion.labels import DEFAULT_HEAD_VERSION

        return DEFAULT_HEAD_VERSION
    from flows.inference import inference_client

    return str(inference_client(settings).emotion_model().version)


def expected_versions(settings: Settings, user_emotion: bool, cuts_version: str) -> dict[str, str]:
    """The model versions a job run now would record (`_score`'s `model_versions`); `cuts_version` is
    `soundtrack.cut_model_version`."""
    return {"cuts": cuts_version, "emotion": "user" if user_emotion else emotion_version(settings),
            "music": music_version(settings)}


@cache
def code_digest(*parts: str) -> str:
    """SHA-256 (12 hex digits) of the Python sources under these folders of `emsync_models` (all of it
    without any): their paths and bytes, in order."""
    import emsync_models

    root = Path(emsync_models.__file__).parent
    digest = hashlib.sha256()
    for folder in [root / p for p in parts] or [root]:
        for path in sorted(folder.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def render_identity(settings: Settings) -> dict[str, Any]:
    """What shapes the result beyond the job key (the audio's settings, the code that writes the notes,
    the audio and the pictures): a stored result made otherwise is not this request's."""
    music = settings.music
    font = music.resolved_soundfont()
    return {"code": code_digest(), "soundfont": str(font) if font else None,
            "soundfont_bytes": font.stat().st_size if font is not None and font.is_file() else None,
            "sample_rate": music.sample_rate, "loudness_lufs": music.loudness_lufs,
            "duck_attack_ms": music.duck_attack_ms, "duck_release_ms": music.duck_release_ms}


def analysis_identity(settings: Settings) -> dict[str, Any]:
    """What, beyond the cut and emotion versions, moves the cuts and the emotion."""
    config = settings.cuts.config()
    models = settings.models
    return {"cuts": {"detector": config.detector, "content_threshold": config.content_threshold,
                     "adaptive_threshold": config.adaptive_threshold, "min_scene_len_s": config.min_scene_len_s,
                     "code": code_digest("video")},
            "emotion": {**{name: str(getattr(models, name)) if getattr(models, name) is not None else None
                           for name in ("emotion_checkpoint", "clip_weights", "audio_tagger_weights", "asr_weights")},
                        "code": code_digest("emotion", "video")}}


@contextmanager
def _reading(settings: Settings) -> Iterator[Session]:
    """A read-only session without the schema check (`session_scope` runs Alembic's, a second of the fast
    path): a database that predates a column fails the query, and the job then computes (and migrates)."""
    from db.session import make_engine

    with Session(make_engine(settings.store.resolved_database_url)) as session:
        yield session


def _has_database(settings: Settings) -> bool:
    """False for an embedded SQLite file that does not exist yet (a fresh data dir: nothing stored)."""
    url = settings.store.resolved_database_url
    return not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file()


def _read_report(settings: Settings, key: str, sha256: str, work: Path) -> dict[str, Any] | None:
    from flows.storage.store import make_store

    try:
        path = make_store(settings).get_file(key, work / f"stored-report-{sha256[:12]}.json", expected_sha256=sha256)
        return json.loads(path.read_text())
    except (OSError, ValueError, RuntimeError) as exc:  # gone, damaged: recompute, never fail the job
        log.warning("stored report %s is unusable (%s); recomputing", key, exc)
        return None


def stored_result(settings: Settings, digest: str, versions: dict[str, str], params: dict[str, Any],
                  work: Path) -> StoredResult | None:
    """The succeeded run of exactly this request, if every object it needs is still stored."""
    from db.models import SUCCEEDED, GenerationRun
    from flows.storage.persist import make_run_key
    from flows.storage.store import make_store

    run_key = make_run_key(digest, versions, params)
    if not _has_database(settings):
        return None
    try:
        with _reading(settings) as session:
            run = session.execute(select(GenerationRun).where(GenerationRun.run_key == run_key,
                                                              GenerationRun.status == SUCCEEDED)).scalar_one_or_none()
            objects = {a.kind: (a.object_key, a.sha256) for a in run.artifacts} if run is not None else {}
    except SQLAlchemyError as exc:  # an older schema, a database down: the job computes (and says so)
        log.warning("stored results not readable (%s); computing", exc)
        return None
    if any(kind not in objects for kind in RESULT_KINDS):
        return None
    store = make_store(settings)
    for key, sha in objects.values():
        found = store.stat(key)
        if found is None or found.sha256 != sha:
            return None
    report = _read_report(settings, *objects["report"], work)
    if report is None or report.get("render") != render_identity(settings) \
            or report.get("analysis") != analysis_identity(settings):
        return None
    return StoredResult(run_key, objects, report)


def stored_analysis(settings: Settings, digest: str, versions: dict[str, str], work: Path,
                    limit: int = 20) -> StoredAnalysis | None:
    """Cuts (and, when the emotion model matches, emotion) of the newest succeeded run of this video
    made under the same cut and emotion settings."""
    from db.models import SUCCEEDED, Artifact, GenerationRun, Video

    wanted = analysis_identity(settings)
    if not _has_database(settings):
        return None
    try:
        with _reading(settings) as session:
            rows = session.execute(
                select(GenerationRun.run_key, GenerationRun.model_versions, Artifact.object_key, Artifact.sha256)
                .join(Video, Video.id == GenerationRun.video_id)
                .join(Artifact, (Artifact.run_id == GenerationRun.id) & (Artifact.kind == "report"))
                .where(Video.content_hash == digest, GenerationRun.status == SUCCEEDED)
                .order_by(GenerationRun.finished_at.desc()).limit(limit)).all()
    except SQLAlchemyError as exc:
        log.warning("stored analyses not readable (%s); computing", exc)
        return None
    for run_key, run_versions, key, sha in rows:
        if (run_versions or {}).get("cuts") != versions["cuts"]:
            continue
        report = _read_report(settings, key, sha, work)
        if report is None or report.get("analysis", {}).get("cuts") != wanted["cuts"]:
            continue
        emotion = report.get("emotion")
        same_emotion = (versions["emotion"] != "user" and (run_versions or {}).get("emotion") == versions["emotion"]
                        and report["analysis"].get("emotion") == wanted["emotion"])
        if versions["emotion"] != "user" and not same_emotion:
            continue  # its cuts would do, but the emotion is the expensive half: look further
        return StoredAnalysis(run_key, dict(report["input"]), list(report["cuts_s"]),
                              emotion if same_emotion else None)
    return None
