"""One soundtrack job's input, built once by whoever starts the job and handed down through the stages.

The command line builds it from a file (`job_from_file`: one probe, one read and hash of the bytes);
the backfill from its claim (`job_from_claim`: the bytes fetched and checked against the registered
digest in one read, the probe registered at ingest). The stages never read, hash or probe the input
again. A job that fills a claimed catalog run carries that run (`ClaimedRun`): its row is written once,
under the claimed key, and its owner (the flow) records a failure; a job without one records its own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emsync_models.video.cut_config import CutConfig
from emsync_models.video.probe import MediaLimits, VideoProbe, content_hash, probe_video

if TYPE_CHECKING:
    from flows.catalog.work import Claim
    from flows.settings import Settings


@dataclass(frozen=True)
class ClaimedRun:
    """The catalog run a job fills: recorded under `run_key`, linked to its catalog and flow run."""

    run_key: str
    catalog_id: int | None
    flow_run_id: int | None
    model_versions: dict[str, str]
    params: dict[str, Any]


@dataclass(frozen=True)
class VideoJob:
    path: Path  # a local file holding the bytes
    source_uri: str  # where they came from (stored on every row)
    digest: str  # SHA-256 of the bytes: the video's identity in keys, rows and caches
    probe: VideoProbe
    run: ClaimedRun | None = None  # None: nobody else owns this job's outcome


def media_limits(settings: Settings) -> MediaLimits:
    return MediaLimits(**settings.limits.model_dump())


def probe_input(path: Path, settings: Settings) -> VideoProbe:
    """The headers read and checked, the limits included, before anything is decoded."""
    return probe_video(path, media_limits(settings))


def job_from_file(path: Path, settings: Settings, source_uri: str | None = None) -> VideoJob:
    """A job for a local file: probed (bad input fails here), then read and hashed once."""
    probe = probe_input(path, settings)
    return VideoJob(path, source_uri or str(path.resolve()), content_hash(path), probe)


def job_from_claim(settings: Settings, claim: Claim, run: ClaimedRun) -> VideoJob:
    """A job for a claimed run: the bytes fetched (S3) or found (local) and checked against the digest
    registered at ingest in one read; the probe made at ingest, unless the row predates stored probes."""
    from flows.storage.sources import materialize

    local, digest = materialize(settings, claim.source_uri, expected_sha256=claim.content_hash)
    return VideoJob(local, claim.source_uri, digest, stored_or_probed(local, settings, claim.probe), run)


def stored_or_probed(local: Path, settings: Settings, stored: dict[str, Any] | None) -> VideoProbe:
    """The probe registered for these bytes (the caller has checked `local` has the registered digest),
    with the limits as they are now, which may be stricter than then; a fresh probe where none is
    stored. The probe is a function of the bytes, so a re-ingest or a backfill never reads the headers
    again."""
    probe = _stored_probe(stored, local)
    if probe is None:
        return probe_input(local, settings)
    media_limits(settings).check(local, probe.width, probe.height, probe.fps, probe.duration_s)
    return probe


def _stored_probe(stored: dict[str, Any] | None, local: Path) -> VideoProbe | None:
    names = {f.name for f in fields(VideoProbe)}
    if not stored or set(stored) != names:
        return None
    # Same bytes as at ingest (checked by digest), so the same probe; only the local path may differ.
    return replace(VideoProbe(**stored), path=str(local))


def cut_model_version(settings: Settings) -> str:
    cuts = settings.cuts
    threshold = cuts.content_threshold if cuts.cut_detector == "content" else cuts.adaptive_threshold
    # "w256": frames analysed at PySceneDetect's auto-downscale width, scaled in the decoder (single pass)
    return (f"pyscenedetect-{package_version('scenedetect')}-{cuts.cut_detector}-{threshold:g}"
            f"-w{CutConfig().analysis_width}")
