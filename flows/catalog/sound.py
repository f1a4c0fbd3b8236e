"""A catalog's fixed sound: the style family and instrument palette its backfills use.

A platform sets it once (`emsync catalog backfill NAME --style jazz --instruments piano,strings`) and
every later backfill of that catalog uses it, whatever EMSYNC_STYLE / EMSYNC_INSTRUMENTS say on a
worker; "auto" clears it (back to the settings', else each video's own choice). The sound is part of
each job's parameters, so a change makes each video's soundtrack once more under the new sound; the
old soundtracks stay stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from db.models import Catalog
from db.session import session_scope
from emsync_models.music.controls import canonical_spec, check_style, parse_palette
from flows.settings import Settings

AUTO = "auto"


@dataclass(frozen=True)
class CatalogSound:
    style: str | None = None  # a style family; None: the settings', else per video
    instruments: str | None = None  # a palette in canonical text (controls.canonical_spec); None: likewise


def check_sound(style: str | None, instruments: str | None) -> None:
    """Raise InputError (one line naming the value and the choices) for an unknown style or instrument."""
    check_style(style)
    parse_palette(None if instruments == AUTO else instruments)


def catalog_sound(url: str, catalog_id: int) -> CatalogSound:
    with session_scope(url) as session:
        row = session.execute(select(Catalog.music_style, Catalog.music_instruments)
                              .where(Catalog.id == catalog_id)).one_or_none()
    return CatalogSound(*row) if row is not None else CatalogSound()


def set_catalog_sound(url: str, catalog_id: int, style: str | None, instruments: str | None) -> CatalogSound:
    """Record what the operator asked (None: leave that part as it is; "auto": clear it); returns the sound."""
    values: dict[str, str | None] = {}
    if style is not None:
        values["music_style"] = check_style(style)
    if instruments is not None:
        values["music_instruments"] = None if instruments == AUTO else canonical_spec(parse_palette(instruments))
    if values:
        with session_scope(url) as session:
            session.execute(update(Catalog).where(Catalog.id == catalog_id).values(**values))
    return catalog_sound(url, catalog_id)


def with_sound(settings: Settings, sound: CatalogSound) -> Settings:
    """`settings` with the catalog's style/palette in place of the configured ones where it fixes them."""
    update_: dict[str, str] = {}
    if sound.style is not None:
        update_["style"] = sound.style
    if sound.instruments is not None:
        update_["instruments"] = sound.instruments
    if not update_:
        return settings
    return settings.model_copy(update={"music": settings.music.model_copy(update=update_)})
