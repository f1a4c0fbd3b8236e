"""A catalog fixes its sound: the style and palette are stored on its row (migration 0006) and become
every backfill's job parameters; "auto" clears them."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.models import Catalog
from db.session import session_scope, upgrade
from emsync_models.errors import InputError
from flows.catalog.sound import CatalogSound, catalog_sound, check_sound, set_catalog_sound, with_sound
from flows.settings import Settings
from flows.soundtrack import job_params


def test_a_catalog_keeps_its_sound_until_cleared(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    with session_scope(url) as session:
        session.add(Catalog(name="brand"))
    with session_scope(url) as session:
        catalog_id = session.query(Catalog.id).filter_by(name="brand").scalar()
    assert catalog_sound(url, catalog_id) == CatalogSound()
    sound = set_catalog_sound(url, catalog_id, "Jazz", "piano,strings")
    assert sound.style == "jazz" and sound.instruments is not None
    assert set_catalog_sound(url, catalog_id, None, None) == sound  # a backfill without options keeps it
    from flows.ops.queries import catalog_status

    shown = {row.name: row for row in catalog_status(url)}["brand"]
    assert (shown.music_style, shown.music_instruments) == (sound.style, sound.instruments)
    params = job_params(with_sound(Settings(), sound))
    assert params["style"] == "jazz" and params["palette"]["drums"] is False
    assert set(params) - set(job_params(Settings())) == {"style", "palette"}
    cleared = set_catalog_sound(url, catalog_id, "auto", "auto")
    assert cleared == CatalogSound() and job_params(with_sound(Settings(), cleared)) == job_params(Settings())


def test_unknown_values_are_refused() -> None:
    with pytest.raises(InputError, match="--style bebop"):
        check_sound("bebop", None)
    with pytest.raises(InputError, match="--instruments theremin"):
        check_sound(None, "theremin")
