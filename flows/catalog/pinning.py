"""Which music model a catalog's backfills use, and how many of its videos each model has soundtracked.

A catalog keeps the music model it was first backfilled with (`catalogs.music_model`) until the
operator moves it (`emsync catalog backfill NAME --music-model v2`): a new default (or another
`EMSYNC_MUSIC_MODEL` on one worker) applies to new catalogs and single videos, never silently to a
catalog whose soundtracks already exist. A move makes each video's soundtrack once more under the new
model; the old soundtracks (rows and objects) stay stored and served.

Catalogs made before the pin existed have none: the first backfill reads it from the catalog's own
succeeded soundtracks (their music version, matched against the known checkpoints), else takes the
default, and records it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select, update

from db.models import SUCCEEDED, Catalog, CatalogVideo, GenerationRun
from db.session import session_scope
from emsync_models.errors import InputError
from flows.settings import Settings

log = logging.getLogger(__name__)

# The committed checkpoints each model loads by default (torch-free: no generator is loaded to name them).
CHECKPOINT_DIR = Path(__file__).resolve().parents[2] / "emsync_models" / "checkpoints"
CHECKPOINTS: dict[str, Path] = {"v1": CHECKPOINT_DIR / "music-small.pt", "v2": CHECKPOINT_DIR / "music-v2.pt"}
MUSIC_MODELS: tuple[str, ...] = tuple(CHECKPOINTS)
UNKNOWN = "?"  # a music version no known checkpoint has (a retrained or custom one)


def check_music_model(name: str) -> str:
    if name not in MUSIC_MODELS:
        raise InputError(f"--music-model {name}", f"unknown music model; choose from {', '.join(MUSIC_MODELS)}")
    return name


@lru_cache(maxsize=16)
def _file_version(path: Path) -> str | None:
    """The version a generator loaded from `path` reports: the first 12 hex digits of its SHA-256."""
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def known_versions(extra: dict[str, str] | None = None) -> dict[str, str]:
    """{music version hash: model name} for the committed checkpoints, plus `extra` (a configured one)."""
    found = {v: name for name in MUSIC_MODELS if (v := _file_version(CHECKPOINTS[name])) is not None}
    return {**found, **(extra or {})}


def model_of_version(version: str, extra: dict[str, str] | None = None) -> str:
    """"v1" / "v2" for a music version hash, "?" when no known checkpoint has it."""
    return known_versions(extra).get(version, UNKNOWN)


def music_label(version: str, extra: dict[str, str] | None = None) -> str:
    """What users read: the model's name beside the hash ("273c2569fbaa (v2)")."""
    return f"{version} ({model_of_version(version, extra)})"


def pinned_model(url: str, catalog_id: int) -> str | None:
    with session_scope(url) as session:
        return session.execute(select(Catalog.music_model).where(Catalog.id == catalog_id)).scalar_one_or_none()


def pinned_models(url: str) -> dict[str, str]:
    """{catalog name: music model} for every catalog backfilled since the pin existed."""
    with session_scope(url) as session:
        rows = session.execute(select(Catalog.name, Catalog.music_model).where(Catalog.music_model.is_not(None)))
        return {str(n): str(m) for n, m in rows}


def pin(url: str, catalog_id: int, model: str) -> None:
    with session_scope(url) as session:
        session.execute(update(Catalog).where(Catalog.id == catalog_id).values(music_model=check_music_model(model)))


def soundtracked_versions(url: str, catalog_id: int) -> dict[str, int]:
    """{music version: member videos with a succeeded soundtrack by it} for one catalog."""
    return coverage(url).get(catalog_id, {})


def coverage(url: str) -> dict[int, dict[str, int]]:
    """{catalog id: {music version: distinct member videos with a succeeded soundtrack by it}}.

    Counted over membership, not the run's catalog column: a video soundtracked under another catalog
    (or by `soundtrack-video`) is covered in every catalog it belongs to, as the backfill sees it."""
    music = GenerationRun.model_versions["music"].as_string()
    with session_scope(url) as session:
        rows = session.execute(
            select(CatalogVideo.catalog_id, music, func.count(func.distinct(GenerationRun.video_id)))
            .join(GenerationRun, GenerationRun.video_id == CatalogVideo.video_id)
            .where(GenerationRun.status == SUCCEEDED)
            .group_by(CatalogVideo.catalog_id, music)
        ).all()
    out: dict[int, dict[str, int]] = {}
    for catalog_id, version, n in rows:
        out.setdefault(int(catalog_id), {})[str(version)] = int(n)
    return out


@dataclass(frozen=True)
class Resolved:
    model: str
    why: str  # "pinned", "moved from v1", "from its soundtracks", "default" (for the log and summary)


def resolve(url: str, catalog_id: int, requested: str | None, default: str,
            extra: dict[str, str] | None = None) -> Resolved:
    """The music model this backfill of the catalog uses, recorded as the catalog's pin.

    `requested` is the operator's explicit move (--music-model); `default` the settings' model, used
    only for a catalog that has neither a pin nor soundtracks of a known model."""
    current = pinned_model(url, catalog_id)
    if requested is not None:
        check_music_model(requested)
        if requested != current:
            pin(url, catalog_id, requested)
        return Resolved(requested, "pinned" if requested == current else f"moved from {current or 'none'}")
    if current is not None:
        return Resolved(current, "pinned")
    used: Counter[str] = Counter()
    for version, n in soundtracked_versions(url, catalog_id).items():
        model = model_of_version(version, extra)
        if model != UNKNOWN:
            used[model] += n
    if used:
        model, why = used.most_common(1)[0][0], "from its soundtracks"
    else:
        model, why = check_music_model(default), "default"
    pin(url, catalog_id, model)
    return Resolved(model, why)


def with_music_model(settings: Settings, model: str) -> Settings:
    """`settings` with the catalog's music model in place of the configured one (top-p follows it)."""
    return settings if settings.models.music_model == model else settings.model_copy(
        update={"models": settings.models.model_copy(update={"music_model": model})})


def labeled(model_versions: dict[str, str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Model versions as users read them: the music hash with its model's name ("music": "273c2569fbaa (v2)")."""
    return {k: music_label(str(v), extra) if k == "music" else str(v) for k, v in model_versions.items()}
